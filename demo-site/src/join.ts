/**
 * The /join page: makes this tab a worker (the browser host does the work) and shows, live, what
 * it is doing. Errors and warnings go to the page's notices, not to the console.
 */
import { joinFromPage, type Logger, type PeerInfo, type TabWorker } from '@meshwork/web-worker/browser';
import { formatBytes, formatCount } from './format.js';

/** How often the numbers on the page are refreshed, in milliseconds. */
const REFRESH_MS = 250;
/** Notices kept on the page; older ones scroll away. */
const MAX_NOTICES = 8;

type Status = 'connecting' | 'connected' | 'rejoining' | 'left' | 'disconnected' | 'failed';

const STATUS_TEXT: Record<Status, [string, string]> = {
  connecting: ['Connecting…', 'pill-wait'],
  rejoining: ['Reconnecting…', 'pill-wait'],
  connected: ['Connected', 'pill-ok'],
  left: ['Left', 'pill-off'],
  disconnected: ['Disconnected', 'pill-bad'],
  failed: ['Could not join', 'pill-bad'],
};

function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page lacks #${id}`);
  return found as T;
}

function setText(id: string, text: string): void {
  const node = el(id);
  if (node.textContent !== text) node.textContent = text;
}

function setStatus(status: Status): void {
  const pill = el('status');
  const [text, cls] = STATUS_TEXT[status];
  pill.textContent = text;
  pill.className = `pill ${cls}`;
  pill.dataset['state'] = status;
}

function notice(level: 'info' | 'warn' | 'error', message: string): void {
  const list = el('notice-list');
  const item = document.createElement('li');
  item.className = level;
  item.textContent = `${new Date().toLocaleTimeString()} · ${message}`;
  list.prepend(item);
  while (list.children.length > MAX_NOTICES) list.lastElementChild?.remove();
  el('notices').hidden = false;
}

/** Log lines of the host: warnings and errors become notices. */
const pageLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (message, details) => notice('warn', withDetails(message, details)),
  error: (message, details) => notice('error', withDetails(message, details)),
};

function withDetails(message: string, details: Record<string, unknown> = {}): string {
  const parts = Object.entries(details).map(([k, v]) => (v instanceof Error ? v.message : `${k} ${String(v)}`));
  return parts.length > 0 ? `${message} (${parts.join(', ')})` : message;
}

function renderPeers(peers: PeerInfo[]): void {
  const list = el('peers');
  const open = peers.filter((p) => p.state !== 'closed');
  setText('peer-count', String(open.length));
  el('no-peers').hidden = peers.length > 0;
  const rows = peers.map((p) => {
    const li = document.createElement('li');
    li.dataset['peer'] = p.id;
    const id = document.createElement('span');
    id.className = 'mono';
    id.textContent = p.id;
    const state = document.createElement('span');
    state.className = `state ${p.state}`;
    state.textContent = p.state;
    const io = document.createElement('span');
    io.className = 'io';
    io.textContent = `↓ ${formatBytes(p.bytesReceived)}  ↑ ${formatBytes(p.bytesSent)}`;
    li.append(id, state, io);
    return li;
  });
  list.replaceChildren(...rows);
}

function render(worker: TabWorker): void {
  const s = worker.stats();
  setText('tasks-done', formatCount(s.tasksDone));
  setText('tasks-running', `${formatCount(s.tasksRunning)} / ${worker.threads}`);
  setText('bytes-received', formatBytes(s.bytesReceived));
  setText('bytes-sent', formatBytes(s.bytesSent));
  el('tasks-done').dataset['value'] = String(s.tasksDone);
  el('tasks-running').dataset['value'] = String(s.tasksRunning);
  el('bytes-received').dataset['value'] = String(s.bytesReceived);
  el('bytes-sent').dataset['value'] = String(s.bytesSent);
  setText('bytes-relayed', formatBytes(s.bytesRelayed));
  el('bytes-relayed').dataset['value'] = String(s.bytesRelayed);
  renderPeers(s.peers);
}

function main(): void {
  const join = joinFromPage({
    logger: pageLogger,
    // The scheduler went away (restarted?): the tab joins it again by itself, as a new worker.
    onRejoining: (why) => {
      setStatus('rejoining');
      notice('warn', `lost the scheduler (${why}); joining it again…`);
    },
    onRejoined: (id) => {
      setStatus('connected');
      setText('worker-id', id);
      document.title = `meshwork · ${id}`;
      notice('info', `joined the scheduler again as ${id}`);
    },
  });
  const cluster = new URL(join.urls.http);
  setText('cluster', `${cluster.host}${cluster.pathname === '/' ? '' : cluster.pathname}`);
  el('cluster').title = join.urls.ws;
  setText('threads', String(join.params.threads));
  setText('worker-name', join.params.name ?? '(unnamed)');
  for (const w of join.params.warnings) notice('warn', w);
  const leave = el<HTMLButtonElement>('leave');
  const rejoin = el<HTMLButtonElement>('rejoin');
  rejoin.addEventListener('click', () => location.reload());

  join.worker.then(
    (worker) => {
      // For diagnostics from the console, and for the browser tests.
      (window as { meshworkTab?: TabWorker }).meshworkTab = worker;
      setStatus('connected');
      setText('worker-id', worker.id);
      document.title = `meshwork · ${worker.id}`;
      let leaving = false;
      leave.disabled = false;
      leave.addEventListener('click', () => {
        leaving = true;
        leave.disabled = true;
        worker.leave('left');
      });
      render(worker);
      const timer = setInterval(() => render(worker), REFRESH_MS);
      void worker.closed.then(() => {
        clearInterval(timer);
        render(worker);
        setStatus(leaving ? 'left' : 'disconnected');
        leave.disabled = true;
        rejoin.hidden = false;
        setText(
          'leave-hint',
          leaving
            ? 'This tab no longer takes work.'
            : 'This tab no longer takes work; join again when the scheduler is back.',
        );
      });
    },
    (e: unknown) => {
      setStatus('failed');
      setText('worker-id', '—');
      notice('error', e instanceof Error ? e.message : String(e));
      rejoin.hidden = false;
    },
  );
}

main();
