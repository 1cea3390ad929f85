/**
 * The browser host of the worker core: what makes a tab a worker. It starts a pool of task Web
 * Workers, connects to the scheduler (hello `kind: 'browser'`, no data address), and runs
 * WorkerCore with the store in the page. Heartbeats are driven from a Web Worker ticker and
 * batches leave through a MessageChannel, so a hidden tab keeps its place; peers are reached over
 * WebRTC, signalling through the scheduler. Task code never runs on the page.
 *
 * Leaving (`leave()`, or the tab closing) closes the WebSocket: the scheduler reschedules what
 * the tab was running and recomputes what only it held. Losing the scheduler (it restarted, or
 * dropped the tab) is not leaving: the tab drops what it held (the scheduler forgot it with the
 * old id) and joins again as a new worker, with backoff, for up to `rejoinTimeoutMs`.
 */
import {
  PROTOCOL_VERSION,
  Batcher,
  ConnectionError,
  encodeFrame,
  isRefusal,
  retry,
  valueHash,
  type TurnScheduler,
  type WorkerChannel,
} from '@meshwork/protocol';
import { REJOIN_FIRST_DELAY_MS, REJOIN_JITTER, REJOIN_MAX_DELAY_MS } from '../constants.js';
import { helloMessage } from '../core/handshake.js';
import type { Executor, PeerFetcher } from '../core/interfaces.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { ModuleSources } from '../core/modules.js';
import { Store } from '../core/store.js';
import { TransferStats } from '../core/transfer-stats.js';
import { WorkerCore } from '../core/worker-core.js';
import { LazyExecutor } from '../node/lazy-executor.js';
import type { RtcPeerConnectionConstructor } from '@meshwork/datalink';
import { PeerBook, type PeerInfo } from './peer-book.js';
import { SchedulerSignaller, TabPeers } from './peers.js';
import { LEAVE_CLOSE_CODE, TAB_REJOIN_TIMEOUT_MS } from './constants.js';
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
  /**
   * Try to join for this long before giving up, in milliseconds, the first time (a scheduler
   * starting, busy or briefly unreachable) and after losing the scheduler; 0 gives up at once. A
   * refused hello (a wrong token, another protocol version) is final. Default TAB_REJOIN_TIMEOUT_MS.
   */
  rejoinTimeoutMs?: number;
  /** The scheduler connection dropped; the tab is trying to join again (with why it dropped). */
  onRejoining?: (why: string) => void;
  /** Joined again, as a new worker with this id. */
  onRejoined?: (id: string) => void;
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
  /** The id the scheduler gave this tab (a new one after each rejoin). */
  readonly id: string;
  /** False while the tab is rejoining a scheduler it lost (and once it has left). */
  readonly joined: boolean;
  readonly threads: number;
  /** What this tab holds (values stay encoded, as peers are served them). For diagnostics and tests. */
  readonly store: Store;
  /** This tab's data plane: fetches from other workers over WebRTC. For diagnostics and tests. */
  readonly peers: PeerFetcher;
  stats(): TabStats;
  /**
   * Resolves once the tab is no longer a worker, with why: it left, or it lost the scheduler and
   * could not rejoin it within `rejoinTimeoutMs`.
   */
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
  // The token stays on the page: threads get module sources (fetched here) and task capabilities.
  const init = { scheduler: o.scheduler };
  const modules = new ModuleSources(o.httpBase, o.token);
  const pool = await WebThreadPool.start({ threads: o.threads, init, modules, logger: log });
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
  const rejoinTimeoutMs = o.rejoinTimeoutMs ?? TAB_REJOIN_TIMEOUT_MS;
  const policy = { firstDelayMs: REJOIN_FIRST_DELAY_MS, maxDelayMs: REJOIN_MAX_DELAY_MS, timeoutMs: rejoinTimeoutMs, jitter: REJOIN_JITTER };
  let link: TabLink;
  let RTCPeerConnection: RtcPeerConnectionConstructor;
  try {
    RTCPeerConnection = o.RTCPeerConnection ?? pageRtc();
    // A first attempt that fails (the scheduler starting or too busy to answer in time) is tried again, as a rejoin is.
    link = await retry(() => connectTab(o.scheduler, hello, o.signal ? { signal: o.signal } : {}), policy, {
      ...(o.signal ? { signal: o.signal } : {}),
      isFatal: isRefusal,
      onRetry: (e, attempt, delayMs) => log.info('could not join the scheduler yet', { attempt, retryInMs: delayMs, error: (e as Error).message }),
    });
  } catch (e) {
    await pool.close();
    throw e;
  }
  const shared: Shared = {
    o,
    log,
    pool,
    RTCPeerConnection,
    turns: messageChannelTurns(),
    store: new Store(),
    book: new PeerBook(),
    stats: new TransferStats(),
    runExecutor: new LazyExecutor(1, (): Promise<Executor> => WebThreadPool.start({ threads: 1, init, modules, logger: log })),
  };
  let session: TabSession | undefined = openTabSession(link, shared);
  log.info('joined the scheduler', {
    id: link.id,
    scheduler: o.scheduler,
    threads: o.threads,
    protocolVersion: PROTOCOL_VERSION,
  });

  const leaving = new AbortController();
  let resolveClosed: (c: { code: number; reason: string }) => void = () => {};
  const closed = new Promise<{ code: number; reason: string }>((r) => (resolveClosed = r));
  let lastId = link.id;
  let stopped = false;
  const stop = (why: string, code = LEAVE_CLOSE_CODE): void => {
    if (stopped) return;
    stopped = true;
    log.info('leaving', { id: lastId, why });
    leaving.abort(new ConnectionError(`the tab left: ${why}`));
    // The pools close first, so tasks aborted by the core do not get replacement threads.
    void pool.close();
    void shared.runExecutor.close();
    session?.end(why, true);
    session = undefined;
    resolveClosed({ code, reason: why });
  };

  /** The scheduler went away: drop what the old id held, then join again as a new worker. */
  const onLost = async (lost: TabSession, c: { code: number; reason: string }): Promise<void> => {
    if (stopped || session !== lost) return;
    log.warn('the scheduler connection closed', { code: c.code, reason: c.reason });
    session = undefined;
    lost.end('scheduler connection closed', false);
    for (const key of [...shared.store.keys()]) shared.store.delete(key);
    if (rejoinTimeoutMs <= 0) return stop('scheduler connection closed', c.code);
    o.onRejoining?.(c.reason || `connection closed (${c.code})`);
    let next: TabLink;
    try {
      next = await retry(() => connectTab(o.scheduler, hello, { signal: leaving.signal }), policy, {
        signal: leaving.signal,
        isFatal: isRefusal,
        onRetry: (e, attempt, delayMs) => log.info('could not rejoin the scheduler yet', { attempt, retryInMs: delayMs, error: (e as Error).message }),
      });
    } catch (e) {
      if (stopped) return;
      log.error('gave up rejoining the scheduler', { error: (e as Error).message });
      return stop(`could not rejoin the scheduler within ${rejoinTimeoutMs} ms: ${(e as Error).message}`, c.code);
    }
    if (stopped) return next.close('left');
    session = openTabSession(next, shared);
    lastId = next.id;
    log.info('rejoined the scheduler', { id: next.id, previousId: lost.id });
    watch(session);
    o.onRejoined?.(next.id);
  };
  const watch = (s: TabSession): void => void s.link.closed.then((c) => onLost(s, c));
  watch(session);

  return {
    get id() {
      return session?.id ?? lastId;
    },
    get joined() {
      return session !== undefined;
    },
    threads: o.threads,
    store: shared.store,
    get peers() {
      return session?.peers ?? idlePeers;
    },
    closed,
    leave: (reason = 'left') => stop(reason),
    stats: () => {
      const s = session?.core.stats ?? { done: 0, running: 0, tasks: 0, bytesStored: shared.store.bytes };
      const { book, stats } = shared;
      return {
        tasksDone: (shared.doneBefore ?? 0) + s.done,
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

/** What outlives a rejoin: the threads, the store object, the counters. */
interface Shared {
  o: TabOptions;
  log: Logger;
  pool: WebThreadPool;
  runExecutor: LazyExecutor;
  RTCPeerConnection: RtcPeerConnectionConstructor;
  turns: TurnScheduler;
  store: Store;
  book: PeerBook;
  stats: TransferStats;
  /** Tasks done under earlier ids (the page counts all of them). */
  doneBefore?: number;
}

/** One membership of the scheduler: one link, one id, and what lives only that long. */
interface TabSession {
  readonly id: string;
  readonly link: TabLink;
  readonly core: WorkerCore;
  readonly peers: TabPeers;
  /** Abandons the tasks and the peer connections; closes the link (`flush` first sends what is queued). */
  end(why: string, flush: boolean): void;
}

/** A fetcher for while no session exists (between a lost link and the rejoin): it finds nothing. */
const idlePeers: PeerFetcher = {
  fetch: (holders, keys) =>
    Promise.resolve({ values: new Map(), missing: keys.map((key) => ({ key, holder: holders[0]?.id ?? '' })) }),
  close: () => {},
};

function openTabSession(link: TabLink, sh: Shared): TabSession {
  const { log, store, book, stats, turns } = sh;
  const signals = new Batcher<WorkerChannel.WorkerToServer>((batch) => link.send(encodeFrame(batch)), turns);
  const signaller = new SchedulerSignaller(
    (msg) => signals.send(msg),
    (from, deliver) => book.attributeTo(from, deliver),
  );
  const peers = new TabPeers({
    localId: link.id,
    signaller,
    post: (msg) => signals.send(msg),
    RTCPeerConnection: sh.RTCPeerConnection,
    iceServers: link.iceServers,
    store,
    book,
    stats,
    logger: log,
  });
  const core = new WorkerCore({
    workerId: link.id,
    send: (frame) => link.send(frame),
    executor: sh.pool,
    runExecutor: sh.runExecutor,
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
  let ended = false;
  return {
    id: link.id,
    link,
    core,
    peers,
    end: (why, flush) => {
      if (ended) return;
      ended = true;
      if (flush) {
        core.flush();
        signals.flushNow();
      } else signals.clear();
      sh.doneBefore = (sh.doneBefore ?? 0) + core.stats.done;
      core.close();
      peers.close();
      link.close(why);
    },
  };
}
