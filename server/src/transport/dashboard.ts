/**
 * The dashboard feed: while at least one dashboard page is connected, every
 * DASHBOARD_PUSH_INTERVAL_MS each one gets a `dashboard-update` (workers, task counts per group,
 * the task runs it has not seen yet, peer traffic, totals). While none is connected no timer runs
 * and no snapshot is made; only the task stream is recorded (one entry in a bounded ring per task
 * run), so a page opened after a run still shows it.
 *
 * Cost per update: one pass over the workers and their traffic entries, and over the task groups
 * (kept incrementally by the state machine: never a scan of the tasks). A dashboard whose socket
 * is backed up misses updates until it drains (its stream cursor waits, bounded by the ring), so
 * a slow page cannot make the scheduler's memory grow.
 */
import type { RawData, WebSocket } from 'ws';
import {
  DashboardChannel,
  PROTOCOL_VERSION,
  ReplyCode,
  parseFrame,
  ownString,
  parseMessage,
  typesOf,
  type WorkerChannel,
} from '@meshwork/protocol';
import type { SchedulerState } from '../state/scheduler-state.js';
import type { Admission, Connection } from './connection.js';
import { TaskStream } from './task-stream.js';
import type { TrafficBook } from './traffic.js';

const {
  DASHBOARD_MAX_EDGES,
  DASHBOARD_MAX_GROUPS,
  DASHBOARD_MAX_NAME_CHARS,
  DASHBOARD_MAX_WORKERS,
  DASHBOARD_PUSH_INTERVAL_MS,
  DASHBOARD_STREAM_ENTRIES,
} = DashboardChannel;

/** A dashboard whose socket holds more than this many bytes unsent misses updates until it drains. */
export const DASHBOARD_MAX_BUFFERED_BYTES = 1024 * 1024;

/** Task runs one update carries at most after the first (the newest since the last update). */
export const DASHBOARD_STREAM_PER_UPDATE = 500;

type Update = DashboardChannel.DashboardUpdate;
type Snapshot = Omit<Update, 'stream'>;
type ToDashboard = DashboardChannel.ServerToDashboard;
type TaskEnd = Extract<WorkerChannel.WorkerToServer, { type: 'task-finished' | 'task-erred' }>;

/** Where updates go: a dashboard's connection, as the feed sees it. */
export interface DashboardSink {
  send(message: ToDashboard): void;
  /** Bytes queued on the socket and not yet sent. */
  readonly bufferedAmount: number;
}

export interface DashboardFeedOptions {
  intervalMs?: number;
  streamEntries?: number;
  maxBufferedBytes?: number;
  /** The clock of the task stream and of updates (ms since the epoch). */
  now?: () => number;
}

const dashboardTypes = typesOf(DashboardChannel.DashboardToServer);

function cut(s: string, max = DASHBOARD_MAX_NAME_CHARS): string {
  return s.length > max ? s.slice(0, max) : s;
}

export class DashboardFeed {
  /** Each connected dashboard and how far it has read the task stream. */
  private readonly sinks = new Map<DashboardSink, { cursor: number; started: boolean }>();
  private readonly stream: TaskStream;
  private readonly intervalMs: number;
  private readonly maxBuffered: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  /** Updates not sent because a dashboard's socket was backed up. */
  skipped = 0;

  constructor(
    private readonly state: SchedulerState,
    private readonly traffic: TrafficBook,
    options: DashboardFeedOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? DASHBOARD_PUSH_INTERVAL_MS;
    this.stream = new TaskStream(options.streamEntries ?? DASHBOARD_STREAM_ENTRIES);
    this.maxBuffered = options.maxBufferedBytes ?? DASHBOARD_MAX_BUFFERED_BYTES;
    this.now = options.now ?? Date.now;
  }

  /** Whether any dashboard is connected: no update is made otherwise. */
  get active(): boolean {
    return this.sinks.size > 0;
  }

  /** Whether the update timer runs (only while a dashboard is connected). */
  get ticking(): boolean {
    return this.timer !== undefined;
  }

  /** Task runs kept for the stream. */
  get streamSize(): number {
    return this.stream.size;
  }

  /** A new dashboard: it gets an update at once (with the whole stream kept), then one per interval. */
  add(sink: DashboardSink): void {
    this.sinks.set(sink, { cursor: 0, started: false });
    this.pushTo(sink, this.snapshot());
    if (!this.timer) {
      this.timer = setInterval(() => this.push(), this.intervalMs);
      this.timer.unref();
    }
  }

  remove(sink: DashboardSink): void {
    this.sinks.delete(sink);
    if (this.sinks.size === 0) this.stop();
  }

  /** A worker said a task ended (before the state machine handles it, so the task is still known). */
  taskEnded(workerId: string, m: TaskEnd): void {
    // Durations come from the worker's clock, end times from ours: tabs' clocks may be off.
    const stop = this.now();
    // The task's own key and group, or copies: the message's key is a slice of the frame's text,
    // which the ring would keep alive (and so would a part of it).
    const t = this.state.tasks.get(m.key);
    const group = t?.group.name ?? ownString(m.key.replace(/-[0-9a-f]+$/, ''));
    this.stream.push({
      key: cut(t?.key ?? ownString(m.key)),
      group: cut(group),
      worker: cut(workerId),
      thread: m.thread,
      start: Math.max(0, stop - Math.max(0, m.stoppedAt - m.startedAt)),
      stop,
      erred: m.type === 'task-erred',
    });
  }

  /** One update to every dashboard (the timer calls this). */
  push(): void {
    if (this.sinks.size === 0) return;
    const snapshot = this.snapshot();
    for (const sink of this.sinks.keys()) this.pushTo(sink, snapshot);
  }

  /** Stops the timer and forgets every dashboard (the scheduler closes). */
  close(): void {
    this.sinks.clear();
    this.stop();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private pushTo(sink: DashboardSink, snapshot: Snapshot): void {
    const reader = this.sinks.get(sink);
    if (!reader) return;
    if (sink.bufferedAmount > this.maxBuffered) {
      this.skipped++;
      return;
    }
    // A new dashboard gets the whole ring; later updates the newest runs since the last one, at
    // most DASHBOARD_STREAM_PER_UPDATE (a page shows a few seconds of them: more is bytes that
    // cost the machine without changing the picture).
    const { entries, cursor } = this.stream.since(reader.cursor, reader.started ? DASHBOARD_STREAM_PER_UPDATE : undefined);
    reader.cursor = cursor;
    reader.started = true;
    sink.send({ ...snapshot, stream: entries });
  }

  /** Everything of an update but the stream, made once per tick for every dashboard. */
  snapshot(): Snapshot {
    const s = this.state;
    const workers: DashboardChannel.DashboardWorker[] = [];
    const edges: DashboardChannel.TrafficEdge[] = [];
    for (const w of s.workers.values()) {
      const reported = this.traffic.peersOf(w.id);
      const peers = new Set<string>();
      for (const e of reported) {
        peers.add(e.peer);
        // Only edges between peers connected now: a client or worker that left leaves the graph
        // (its bytes stay in the summary). A transfer to a worker is counted by the receiver;
        // clients report nothing, so what went to them is counted by the sender.
        if (e.bytesReceived > 0 && (s.workers.has(e.peer) || s.clients.has(e.peer)))
          edges.push({ from: cut(e.peer), to: cut(w.id), path: e.path, bytes: e.bytesReceived });
        if (e.bytesSent > 0 && s.clients.has(e.peer))
          edges.push({ from: cut(w.id), to: cut(e.peer), path: e.path, bytes: e.bytesSent });
      }
      if (workers.length >= DASHBOARD_MAX_WORKERS) continue;
      workers.push({
        id: cut(w.id),
        name: cut(w.name),
        kind: w.kind,
        agent: cut(w.agent, 4 * DASHBOARD_MAX_NAME_CHARS),
        threads: w.threads,
        paused: w.paused,
        memoryUsed: w.memoryUsed,
        memoryLimit: w.memoryLimit,
        running: w.processing.size,
        done: w.tasksDone,
        bytesStored: w.bytesStored,
        peers: peers.size,
      });
    }
    edges.sort((a, b) => b.bytes - a.bytes);
    if (edges.length > DASHBOARD_MAX_EDGES) edges.length = DASHBOARD_MAX_EDGES;

    // Groups with tasks now, the largest first; then those whose tasks were all released, the
    // most recently emptied first (they still tell what ran).
    const groups: DashboardChannel.DashboardGroup[] = [];
    const idle: DashboardChannel.DashboardGroup[] = [];
    for (const g of s.groups.values()) {
      const c = g.counts;
      const shown = {
        name: cut(g.name),
        waiting: c.waiting + c.queued,
        processing: c.processing,
        memory: c.memory,
        erred: c.erred,
        finished: g.totals.finished,
        failed: g.totals.failed,
      };
      if (shown.waiting + shown.processing + shown.memory + shown.erred > 0) groups.push(shown);
      else if (shown.finished + shown.failed > 0) idle.push(shown); // only released tasks left
    }
    const total = (g: DashboardChannel.DashboardGroup): number => g.waiting + g.processing + g.memory + g.erred;
    groups.sort((a, b) => total(b) - total(a) || a.name.localeCompare(b.name));
    groups.push(...idle);
    for (const [name, totals] of s.groups.history()) {
      if (groups.length >= DASHBOARD_MAX_GROUPS) break;
      groups.push({ name: cut(name), waiting: 0, processing: 0, memory: 0, erred: 0, ...totals });
    }
    if (groups.length > DASHBOARD_MAX_GROUPS) groups.length = DASHBOARD_MAX_GROUPS;

    return {
      type: 'dashboard-update',
      at: this.now(),
      workers,
      tasks: {
        waiting: s.counts.waiting + s.counts.queued,
        processing: s.counts.processing,
        memory: s.counts.memory,
        erred: s.counts.erred,
      },
      groups,
      traffic: edges,
      summary: {
        tasksFinished: s.totals.tasksFinished,
        tasksErred: s.totals.tasksErred,
        workersJoined: s.totals.workersJoined,
        workersLost: s.totals.workersLost,
        clients: s.clients.size,
        bytes: { ...this.traffic.moved },
        relayedBytes: this.traffic.relayedBytes,
      },
    };
  }

  /**
   * Serves a dashboard that said hello on `conn`: welcome, updates until the socket closes. Later
   * frames are checked like every other peer's (the page has nothing to say after hello), and
   * count against the connection's message rate through `admit` (see Connection.admit): a frame
   * over it is dropped, a connection that keeps on is closed.
   */
  attach(id: string, conn: Connection<ToDashboard>, rest: readonly unknown[], admit: (messages: number) => Admission): void {
    const socket: WebSocket = conn.socket;
    const sink: DashboardSink = {
      send: (m) => conn.send(m),
      get bufferedAmount() {
        return socket.bufferedAmount;
      },
    };
    conn.send({ type: 'welcome', protocolVersion: PROTOCOL_VERSION, id });
    const handle = (r: ReturnType<typeof parseMessage<DashboardChannel.DashboardToServer>>): void => {
      if (!r.ok) conn.reply(r.error.code, r.error.message, r.error.replyTo);
      else conn.reply(ReplyCode.BAD_REQUEST, 'hello was already received');
    };
    for (const raw of rest) handle(parseMessage(raw, DashboardChannel.DashboardToServer, dashboardTypes));
    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary || !(data instanceof Uint8Array)) {
        if (admit(1) === 'ok') conn.reply(ReplyCode.PROTOCOL_ERROR, 'frames are binary');
        return;
      }
      const { messages, errors } = parseFrame(data, DashboardChannel.DashboardToServer, dashboardTypes);
      if (admit(messages.length + errors.length) !== 'ok') return;
      for (const e of errors) conn.reply(e.code, e.message, e.replyTo);
      for (const m of messages) handle({ ok: true, message: m });
    });
    socket.on('close', () => this.remove(sink));
    this.add(sink);
  }
}
