/** Progress per task group: a stacked bar of in memory, processing, waiting and erred. */
import type { DashboardChannel } from '@meshwork/protocol';
import { formatCount } from '../format.js';
import { groupColor } from './colors.js';
import { el, h } from './dom.js';

type Group = DashboardChannel.DashboardGroup;
const PARTS = ['memory', 'processing', 'waiting', 'erred'] as const;

export function renderGroups(groups: readonly Group[]): void {
  const items = groups.map((g) => {
    const total = g.memory + g.processing + g.waiting + g.erred;
    const bar = h('div', { className: 'bar' });
    for (const part of PARTS) {
      if (g[part] === 0) continue;
      const seg = h('span', { className: `seg seg-${part}`, title: `${formatCount(g[part])} ${part}` });
      seg.style.width = `${(100 * g[part]) / total}%`;
      if (part === 'memory') seg.style.background = groupColor(g.name);
      bar.append(seg);
    }
    const counts = PARTS.filter((p) => g[p] > 0)
      .map((p) => `${formatCount(g[p])} ${p === 'memory' ? 'in memory' : p}`)
      .join(' · ');
    return h(
      'li',
      {
        className: 'group',
        data: { group: g.name, waiting: g.waiting, processing: g.processing, memory: g.memory, erred: g.erred },
      },
      h(
        'div',
        { className: 'group-head' },
        h('span', { className: 'mono', text: g.name }),
        h('span', { className: 'muted small', text: counts }),
      ),
      bar,
    );
  });
  el('group-list').replaceChildren(...items);
  el('no-groups').hidden = groups.length > 0;
}
