/**
 * The dashboard (`/`): the cluster live, from the scheduler's dashboard feed (one WebSocket, an
 * update every 500 ms, nothing polled): summary, rates, workers, progress per task group, the
 * task stream and the peer graph. `?token=T` passes the scheduler's token.
 */
import 'uplot/dist/uPlot.min.css';
import './dashboard.css';
import type { DashboardChannel } from '@meshwork/protocol';
import { formatBytes, formatCount } from '../format.js';
import { el, show } from './dom.js';
import { openFeed, type FeedStatus } from './feed.js';
import { renderGroups } from './groups.js';
import { renderPeers, totalBytes } from './peers.js';
import { RateCharts } from './rates.js';
import { TaskStreamView } from './stream.js';
import { renderWorkers } from './workers.js';

type Update = DashboardChannel.DashboardUpdate;

const STATUS: Record<FeedStatus['state'], [string, string]> = {
  connecting: ['Connecting…', 'pill-wait'],
  connected: ['Live', 'pill-ok'],
  disconnected: ['Reconnecting…', 'pill-bad'],
  refused: ['Refused', 'pill-bad'],
};

function setStatus(s: FeedStatus): void {
  const pill = el('status');
  const [text, cls] = STATUS[s.state];
  pill.textContent = text;
  pill.className = `pill ${cls}`;
  pill.dataset['state'] = s.state;
  pill.title = 'why' in s ? s.why : '';
  const notice = el('feed-notice');
  notice.hidden = s.state !== 'refused';
  if (s.state === 'refused') notice.textContent = `The scheduler refused this dashboard: ${s.why}`;
}

function renderSummary(u: Update, tasksPerSecond: number): void {
  const s = u.summary;
  const moved = totalBytes(s.bytes);
  show('worker-count', formatCount(u.workers.length), u.workers.length);
  show('threads', `${formatCount(u.workers.reduce((n, w) => n + w.threads, 0))} threads`);
  show('tasks-per-second', formatCount(tasksPerSecond), Math.round(tasksPerSecond));
  show('tasks-finished', `${formatCount(s.tasksFinished)} finished`, s.tasksFinished);
  show('bytes-moved', formatBytes(moved), moved);
  show('relayed-bytes', `${formatBytes(s.relayedBytes)} relayed`, s.relayedBytes);
  show('workers-joined', formatCount(s.workersJoined), s.workersJoined);
  show('workers-lost', `${formatCount(s.workersLost)} lost`, s.workersLost);
  show('tasks-waiting', formatCount(u.tasks.waiting), u.tasks.waiting);
  show('tasks-processing', formatCount(u.tasks.processing), u.tasks.processing);
  show('tasks-memory', formatCount(u.tasks.memory), u.tasks.memory);
  show('tasks-erred', formatCount(u.tasks.erred), u.tasks.erred);
  show('clients', formatCount(s.clients), s.clients);
}

function main(): void {
  const rates = new RateCharts(el('rate-tasks'), el('rate-bytes'));
  const stream = new TaskStreamView(el('stream'), el('stream-hover'), el('stream-span'));
  let peersDrawn = '';
  const token = new URLSearchParams(location.search).get('token') ?? undefined;
  openFeed(
    location.href,
    token,
    {
      status: setStatus,
      update(u) {
        const { tasksPerSecond } = rates.add(u.at, u.summary);
        renderSummary(u, tasksPerSecond);
        renderWorkers(u.workers);
        renderGroups(u.groups, u.summary);
        stream.update(u.at, u.stream, u.workers);
        show('stream-count', formatCount(stream.size), stream.size);
        // The graph only changes with its workers or bytes: redraw only then (hovering stays usable).
        const peers = JSON.stringify([u.workers.map((w) => [w.id, w.name, w.kind]), u.traffic, u.summary.bytes]);
        if (peers !== peersDrawn) {
          peersDrawn = peers;
          renderPeers(u.workers, u.traffic, u.summary.bytes);
        }
        el('updated').dataset['at'] = String(u.at);
      },
    },
    new AbortController().signal,
  );
}

main();
