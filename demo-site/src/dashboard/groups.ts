/**
 * Progress per task group: a stacked bar of in memory, processing, waiting and erred, and what
 * the group did since the scheduler started (finished, failed). A group whose tasks were all
 * released stays listed with those totals, its bar empty.
 */
import type { DashboardChannel } from '@meshwork/protocol';
import { formatCount } from '../format.js';
import { groupColor } from './colors.js';
import { el, h } from './dom.js';

type Group = DashboardChannel.DashboardGroup;
type Summary = DashboardChannel.DashboardSummary;
const PARTS = ['memory', 'processing', 'waiting', 'erred'] as const;

function countsText(g: Group, held: number): string {
  const now = PARTS.filter((p) => g[p] > 0).map((p) => `${formatCount(g[p])} ${p === 'memory' ? 'in memory' : p}`);
  const done = [`${formatCount(g.finished)} finished`];
  if (g.failed > 0) done.push(`${formatCount(g.failed)} failed`);
  return [...now, ...done, ...(held === 0 ? ['all released'] : [])].join(' · ');
}

export function renderGroups(groups: readonly Group[], summary: Summary): void {
  const items = groups.map((g) => {
    const held = g.memory + g.processing + g.waiting + g.erred;
    const bar = h('div', { className: 'bar' });
    for (const part of PARTS) {
      if (g[part] === 0) continue;
      const seg = h('span', { className: `seg seg-${part}`, title: `${formatCount(g[part])} ${part}` });
      seg.style.width = `${(100 * g[part]) / held}%`;
      if (part === 'memory') seg.style.background = groupColor(g.name);
      bar.append(seg);
    }
    if (held === 0) bar.title = 'none of its tasks held now';
    return h(
      'li',
      {
        className: held === 0 ? 'group group-released' : 'group',
        data: {
          group: g.name,
          waiting: g.waiting,
          processing: g.processing,
          memory: g.memory,
          erred: g.erred,
          finished: g.finished,
          failed: g.failed,
        },
      },
      h(
        'div',
        { className: 'group-head' },
        h('span', { className: 'mono', text: g.name }),
        h('span', { className: 'muted small', text: countsText(g, held) }),
      ),
      bar,
    );
  });
  el('group-list').replaceChildren(...items);
  const none = el('no-groups');
  none.hidden = groups.length > 0;
  const ran = summary.tasksFinished + summary.tasksErred;
  const text =
    ran > 0
      ? `${formatCount(ran)} tasks ran; none is held now.`
      : 'No tasks yet. Submit some from a client and they show up here, per function.';
  if (none.textContent !== text) none.textContent = text;
}
