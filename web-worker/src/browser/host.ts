/**
 * The browser host of the worker core: what makes a tab a worker. It starts a pool of task Web
 * Workers, connects to the scheduler (hello `kind: 'browser'`, no data address), and runs
 * WorkerCore with the store in the page. Heartbeats are driven from a Web Worker ticker and
 * batches leave through a MessageChannel, so a hidden tab keeps its place; peers are reached over
 * WebRTC, signalling through the scheduler. Task code never runs on the page.
 *
 * Leaving (`leave()`, or the tab closing) closes the WebSocket: the scheduler reschedules what
 * the tab was running and recomputes what only it held.
 */
import { PROTOCOL_VERSION, Batcher, encodeFrame, valueHash, type WorkerChannel } from '@meshwork/protocol';
import { helloMessage } from '../core/handshake.js';
import type { Executor, PeerFetcher } from '../core/interfaces.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { Store } from '../core/store.js';
import { TransferStats } from '../core/transfer-stats.js';
import { WorkerCore } from '../core/worker-core.js';
import { LazyExecutor } from '../node/lazy-executor.js';
import type { RtcPeerConnectionConstructor } from '../peers/index.js';
import { PeerBook, type PeerInfo } from './peer-book.js';
import { SchedulerSignaller, TabPeers } from './peers.js';
import { connectTab, type TabLink } from './scheduler-socket.js';
import { messageChannelTurns, webWorkerTicker } from './scheduling.js';
import { WebThreadPool } from './thread-pool.js';

export interface TabOptions {
  /** The scheduler's WebSocket address (see `schedulerUrls`). */
  scheduler: string;
  /** The scheduler's HTTP base, where uploaded modules are served. */
  httpBase: string;
  /** Task Web Workers. */
  threads: number;
  name?: string | undefined;
  token?: string | undefined;
  logger?: Logger;
  /** Aborts joining (connecting, the handshake); after that use `leave()`. */
  signal?: AbortSignal;
  /** Default: the page's own `RTCPeerConnection`. */
  RTCPeerConnection?: RtcPeerConnectionConstructor;
}

export interface TabStats {
  /** Tasks this tab ran to an end (finished or erred). */
  tasksDone: number;
  /** Tasks on a Web Worker now. */
  tasksRunning: number;
  /** Tasks held here: waiting for data, queued or running. */
  tasksHeld: number;
  bytesStored: number;
  /** Bytes on the data channels to and from peers. */
  bytesSent: number;
  bytesReceived: number;
  /** Bytes of values that went to or came from peers through the scheduler (no direct path opened). */
  bytesRelayed: number;
  peers: PeerInfo[];
}

export interface TabWorker {
  /** The id the scheduler gave this tab. */
  readonly id: string;
  readonly threads: number;
  /** What this tab holds (values stay encoded, as peers are served them). For diagnostics and tests. */
  readonly store: Store;
  /** This tab's data plane: fetches from other workers over WebRTC. For diagnostics and tests. */
  readonly peers: PeerFetcher;
  stats(): TabStats;
  /** Resolves once the tab is no longer a worker: it left, or the scheduler went away (with why). */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Stops being a worker now: the scheduler recovers the work. */
  leave(reason?: string): void;
}

function agent(): string {
  return typeof navigator === 'undefined' ? 'unknown browser' : navigator.userAgent;
}

function pageRtc(): RtcPeerConnectionConstructor {
  const Ctor = (globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection;
  if (typeof Ctor !== 'function')
    throw new Error('this browser has no RTCPeerConnection: it cannot trade data with other workers');
  return Ctor as RtcPeerConnectionConstructor;
}

/** Joins the scheduler as a worker; resolves once welcomed. */
export async function startTab(o: TabOptions): Promise<TabWorker> {
  const log = o.logger ?? silentLogger;
  const init = { moduleBase: o.httpBase, scheduler: o.scheduler, token: o.token };
  const pool = await WebThreadPool.start({ threads: o.threads, init, logger: log });
  let link: TabLink;
  try {
    const hello = helloMessage({
      kind: 'browser',
      threads: o.threads,
      memoryLimit: null,
      resources: {},
      dataAddress: null,
      agent: agent(),
      name: o.name,
      token: o.token,
    });
    link = await connectTab(o.scheduler, hello, o.signal ? { signal: o.signal } : {});
  } catch (e) {
    await pool.close();
    throw e;
  }
  const turns = messageChannelTurns();
  const store = new Store();
  const book = new PeerBook();
  const stats = new TransferStats();
  const signals = new Batcher<WorkerChannel.WorkerToServer>((batch) => link.send(encodeFrame(batch)), turns);
  const signaller = new SchedulerSignaller(
    (msg) => signals.send(msg),
    (from, deliver) => book.attributeTo(from, deliver),
  );
  let peers: TabPeers;
  try {
    peers = new TabPeers({
      localId: link.id,
      signaller,
      post: (msg) => signals.send(msg),
      RTCPeerConnection: o.RTCPeerConnection ?? pageRtc(),
      iceServers: link.iceServers,
      store,
      book,
      stats,
      logger: log,
    });
  } catch (e) {
    link.close('no WebRTC');
    await pool.close();
    throw e;
  }
  const runExecutor = new LazyExecutor(1, (): Promise<Executor> =>
    WebThreadPool.start({ threads: 1, init, logger: log }),
  );
  const core = new WorkerCore({
    workerId: link.id,
    send: (frame) => link.send(frame),
    executor: pool,
    runExecutor,
    fetcher: peers,
    store,
    memoryLimit: null,
    logger: log,
    stats,
    digest: valueHash,
    onSignal: (from, payload) => signaller.deliver(from, payload),
    onRelay: (msg) => peers.deliverRelay(msg),
    heartbeatTicker: webWorkerTicker((e) =>
      log.warn('no Web Worker for heartbeats: using page timers, which a hidden tab slows down', { error: e }),
    ),
    schedule: turns,
  });

  core.handleMessages(link.rest);
  link.onFrame((bytes) => core.handleFrame(bytes));
  log.info('joined the scheduler', {
    id: link.id,
    scheduler: o.scheduler,
    threads: o.threads,
    protocolVersion: PROTOCOL_VERSION,
  });

  let stopped = false;
  const stop = (why: string): void => {
    if (stopped) return;
    stopped = true;
    log.info('leaving', { id: link.id, why });
    core.flush();
    signals.flushNow();
    // The pools close first, so tasks aborted by the core do not get replacement threads.
    void pool.close();
    void runExecutor.close();
    core.close();
    peers.close();
    link.close(why);
  };
  const closed = link.closed.then((c) => {
    if (!stopped) log.warn('the scheduler connection closed', { code: c.code, reason: c.reason });
    stop('scheduler connection closed');
    return c;
  });
  return {
    id: link.id,
    threads: o.threads,
    store,
    peers,
    closed,
    leave: (reason = 'left') => stop(reason),
    stats: () => {
      const s = core.stats;
      return {
        tasksDone: s.done,
        tasksRunning: s.running,
        tasksHeld: s.tasks,
        bytesStored: s.bytesStored,
        bytesSent: book.bytesSent,
        bytesReceived: book.bytesReceived,
        bytesRelayed: stats.totals.relay.bytesSent + stats.totals.relay.bytesReceived,
        peers: book.list(),
      };
    },
  };
}
