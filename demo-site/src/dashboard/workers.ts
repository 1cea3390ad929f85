/** The workers table: one row per connected worker. */
import type { DashboardChannel } from '@meshwork/protocol';
import { formatBytes, formatCount } from '../format.js';
import { el, h } from './dom.js';

type Worker = DashboardChannel.DashboardWorker;

/** A user agent or Node version, shortened to what tells workers apart (`Chrome 138`, `Node v20.19.0`). */
export function shortAgent(w: Worker): string {
  if (w.kind === 'node') return w.agent.startsWith('v') ? `Node ${w.agent}` : w.agent;
  const m = /(Firefox|Edg|OPR|Chrome|Version)\/(\d+)/.exec(w.agent);
  if (!m) return w.agent.slice(0, 40);
  const name = { Edg: 'Edge', OPR: 'Opera', Version: 'Safari' }[m[1] as string] ?? m[1];
  return `${name} ${m[2]}`;
}

function memory(w: Worker): string {
  return w.memoryLimit === null
    ? formatBytes(w.memoryUsed)
    : `${formatBytes(w.memoryUsed)} / ${formatBytes(w.memoryLimit)}`;
}

export function renderWorkers(workers: readonly Worker[]): void {
  const rows = workers.map((w) =>
    h(
      'tr',
      { data: { worker: w.id, kind: w.kind, running: w.running, done: w.done } },
      h('td', { title: w.id }, h('span', { text: w.name })),
      h('td', {}, h('span', { className: `kind kind-${w.kind}`, text: w.kind === 'node' ? 'Node' : 'browser' })),
      h('td', { className: 'agent', text: shortAgent(w), title: w.agent }),
      h('td', { className: 'num', text: String(w.threads) }),
      h('td', { className: 'num', text: `${formatCount(w.running)}` }),
      h('td', { className: 'num', text: formatCount(w.done) }),
      h('td', { className: 'num', text: memory(w) }),
      h('td', { className: 'num', text: formatBytes(w.bytesStored) }),
      h('td', {}, h('span', { className: w.paused ? 'state paused' : 'state', text: w.paused ? 'paused' : 'running' })),
      h('td', { className: 'num', text: String(w.peers) }),
    ),
  );
  el('worker-rows').replaceChildren(...rows);
  el('no-workers').hidden = workers.length > 0;
}
