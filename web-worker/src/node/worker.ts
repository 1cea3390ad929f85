/**
 * `startWorker`: a Node worker process joining a scheduler. It starts its thread pool and data
 * server first (so it is ready when it says hello), connects, and runs the core until `close()`.
 * When the scheduler connection drops (the scheduler restarted, or removed this worker), the
 * worker drops what it held (the scheduler forgot it with the old id) and joins again as a new
 * worker, with backoff, for up to `rejoinTimeoutMs`; then it stops. `run-function` gets a
 * one-thread pool of its own, started on first use. Threads and the data server outlive rejoins.
 *
 * Data plane: other Node workers fetch from its TCP data server; browser tabs reach it over WebRTC
 * (rtc-peers.ts), which serves the same store. Its own fetches go by holder: TCP to a `tcp://`
 * address, WebRTC by id otherwise (a RoutingPeerFetcher). Bytes per peer and path are counted
 * (`transfers()`) and logged at debug.
 */
import { availableParallelism } from 'node:os';
import { Batcher, ConnectionError, encodeFrame, isRefusal, retry, type WorkerChannel } from '@meshwork/protocol';
import { DEFAULT_DATA_HOST, REJOIN_FIRST_DELAY_MS, REJOIN_JITTER, REJOIN_MAX_DELAY_MS, REJOIN_TIMEOUT_MS } from '../constants.js';
import { RoutingPeerFetcher, type HolderFetcher, type HolderRoute } from '@meshwork/datalink';
import { helloMessage } from '../core/handshake.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { ModuleSources, httpBaseOf } from '../core/modules.js';
import { Store } from '../core/store.js';
import { TransferStats, type PeerTraffic } from '../core/transfer-stats.js';
import { WorkerCore } from '../core/worker-core.js';
import { TCP_SCHEME, TcpPeerFetcher, Unreachable, startDataServer, type DataServer } from '@meshwork/datalink/node';
import { nodeDigest } from './digest.js';
import { LazyExecutor } from './lazy-executor.js';
import { NodeRtcPeers } from './rtc-peers.js';
import { Reclaimer } from './reclaim.js';
import { sharedBytes } from './shared-memory.js';
import { connectScheduler, type SchedulerLink } from './scheduler-link.js';
import type { ThreadData } from './thread-data.js';
import { ThreadPool } from './thread-pool.js';

export interface WorkerOptions {
  /** The scheduler's WebSocket address, e.g. `ws://127.0.0.1:8786`. */
  scheduler: string;
  /** Worker threads running tasks; default: os.availableParallelism(). */
  threads?: number;
  name?: string;
  /** Bytes this worker should hold at most (reported to the scheduler); null or absent for no limit. */
  memoryLimit?: number | null;
  /** Abstract resources this worker offers, e.g. `{ gpu: 1 }`. */
  resources?: Record<string, number>;
  token?: string;
  /**
   * Interface the data link binds to (default 127.0.0.1; 0.0.0.0 to serve other machines). On a
   * loopback address, WebRTC (ICE) binds to 127.0.0.1 too.
   */
  host?: string;
  /**
   * The data address announced to the scheduler (default: where the data link listens). For a
   * worker reached through a NAT or proxy: `tcp://public-host:port`.
   */
  advertise?: string;
  /** Trade data with browser tabs over WebRTC (default true); without it, only `tcp://` holders are reached. */
  webrtc?: boolean;
  logger?: Logger;
  /** Aborts startup (connecting, handshake); after startup use `close()`. */
  signal?: AbortSignal;
  /**
   * Try to join for this long before giving up, in milliseconds: at start (a scheduler not up
   * yet) and after losing the scheduler (it restarted, or dropped this worker); 0 gives up at
   * once. A refused hello (a wrong token, another protocol version) is final. Default REJOIN_TIMEOUT_MS.
   */
  rejoinTimeoutMs?: number;
  /**
   * The module whose `installTaskGlobal` gives tasks `globalThis.meshwork` (default
   * `@meshwork/client`); a specifier or URL the threads can import. For tests and embedders.
   */
  clientModule?: string;
}

/** Why a worker stopped. */
export interface WorkerStopped {
  reason: string;
  /** Set when it stopped because it could not rejoin its scheduler in time. */
  error?: Error;
}

export interface WorkerHandle {
  /** The id the scheduler gave this worker; a new one after each rejoin ('' while rejoining). */
  readonly id: string;
  /** Where peers fetch this worker's data: `tcp://HOST:PORT`. */
  dataAddress: string;
  /**
   * Resolves once the worker has stopped, with why: after `close()`, or once it has lost its
   * scheduler and could not rejoin it within `rejoinTimeoutMs`.
   */
  closed: Promise<WorkerStopped>;
  /** Stops cleanly: sends what is queued, closes the scheduler link, the threads and the data server. */
  close(): Promise<void>;
  /** Bytes of values traded with each peer, per path (TCP or WebRTC). */
  transfers(): PeerTraffic[];
  /** What this worker holds (encoded values, as peers are served them). For diagnostics and tests. */
  readonly store: Store;
}

function checkOptions(o: WorkerOptions): void {
  if (o.advertise !== undefined && !/^tcp:\/\/[^/\s]+:\d{1,5}$/.test(o.advertise)) {
    throw new RangeError(`advertise must be tcp://HOST:PORT, got ${o.advertise}`);
  }
  if (o.threads !== undefined && (!Number.isInteger(o.threads) || o.threads < 1 || o.threads > 1024)) {
    throw new RangeError(`threads must be an integer from 1 to 1024, got ${o.threads}`);
  }
  if (o.memoryLimit != null && !(Number.isFinite(o.memoryLimit) && o.memoryLimit >= 0)) {
    throw new RangeError(`memoryLimit must be a number of bytes, got ${o.memoryLimit}`);
  }
  for (const [k, v] of Object.entries(o.resources ?? {})) {
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`resource '${k}' must be a non-negative number, got ${v}`);
  }
}

export async function startWorker(options: WorkerOptions): Promise<WorkerHandle> {
  checkOptions(options);
  const log = options.logger ?? silentLogger;
  const threads = options.threads ?? availableParallelism();
  // Large values' memory goes back to the allocator promptly once dropped (reclaim.ts).
  const reclaimer = new Reclaimer();
  const store = new Store(reclaimer.dropped);
  const stats = new TransferStats();
  const host = options.host ?? DEFAULT_DATA_HOST;
  /** The current membership, while joined: the data server stores put-data through its core. */
  let session: Session | undefined;
  let dataServer: DataServer | undefined;
  let pool: ThreadPool | undefined;
  let link: SchedulerLink;
  let hello: Record<string, unknown>;
  const rejoinTimeoutMs = options.rejoinTimeoutMs ?? REJOIN_TIMEOUT_MS;
  const rejoinPolicy = { firstDelayMs: REJOIN_FIRST_DELAY_MS, maxDelayMs: REJOIN_MAX_DELAY_MS, timeoutMs: rejoinTimeoutMs, jitter: REJOIN_JITTER };
  // No token in what threads get: task code runs there (module sources come from `modules`).
  const threadData: ThreadData = { scheduler: options.scheduler, clientModule: options.clientModule };
  let modules: ModuleSources;
  try {
    modules = new ModuleSources(httpBaseOf(options.scheduler), options.token);
    dataServer = await startDataServer({
      host,
      allocate: sharedBytes,
      lookup: (key, peer) => {
        const bytes = store.get(key);
        if (bytes) {
          stats.sent(peer, 'tcp', bytes.byteLength);
          log.debug('serving a value over TCP', { peer, key, bytes: bytes.byteLength });
        }
        return bytes;
      },
      // Peers of the cluster present the data token of the current membership; clients, tickets made with it.
      token: () => (session ? session.link.dataToken : null),
      put: (key, bytes) => session?.core.putData(key, bytes) ?? { ok: false, message: 'the worker is not joined to its scheduler' },
      logger: log,
    });
    pool = await ThreadPool.start({ threads, logger: log, threadData, modules });
    hello = helloMessage({
      kind: 'node',
      threads,
      memoryLimit: options.memoryLimit ?? null,
      resources: options.resources ?? {},
      dataAddress: options.advertise ?? dataServer.address,
      agent: process.version,
      name: options.name,
      token: options.token,
    });
    const linkOptions: { logger: Logger; signal?: AbortSignal } = { logger: log };
    if (options.signal) linkOptions.signal = options.signal;
    // A scheduler not up yet (started after its workers, or restarting) is waited for, as on a rejoin.
    link = await retry(() => connectScheduler(options.scheduler, hello, linkOptions), rejoinPolicy, {
      ...(options.signal ? { signal: options.signal } : {}),
      isFatal: isRefusal,
      onRetry: (e, attempt, delayMs) => log.info('could not join the scheduler yet', { attempt, retryInMs: delayMs, error: (e as Error).message }),
    });
  } catch (e) {
    await Promise.all([pool?.close(), dataServer?.close()]);
    throw e;
  }

  const threadPool: ThreadPool = pool;
  const server: DataServer = dataServer;
  const runExecutor = new LazyExecutor(1, () => ThreadPool.start({ threads: 1, logger: log, threadData, modules }));
  const sessionOptions: SessionOptions = { options, log, store, stats, host, executor: threadPool, runExecutor, reclaimer };
  session = openSession(link, sessionOptions);
  log.info('joined the scheduler', { id: session.id, scheduler: options.scheduler, threads, dataAddress: server.address });

  /** Aborts a rejoin in progress when the worker is closed. */
  const closing = new AbortController();
  let resolveStopped: (stopped: WorkerStopped) => void = () => {};
  const stopped = new Promise<WorkerStopped>((r) => (resolveStopped = r));
  let stopping: Promise<void> | undefined;
  const stop = (why: WorkerStopped): Promise<void> =>
    (stopping ??= (async () => {
      log.info('worker stopping', { id: session?.id, why: why.reason });
      closing.abort(new ConnectionError(`the worker is stopping: ${why.reason}`));
      const current = session;
      session = undefined;
      current?.core.flush();
      // The pools close first (synchronously marked closed), so tasks aborted by the core do
      // not get replacement threads.
      const threadsClosed = Promise.all([threadPool.close(), runExecutor.close()]);
      log.debug('transfers by peer and path', { peers: stats.list() });
      await Promise.all([current?.end(), threadsClosed, server.close()]);
      resolveStopped(why);
    })());

  /**
   * The scheduler went away (it restarted, or dropped this worker): what this worker held is
   * forgotten with its old id, so it drops its store and joins again as a new worker.
   */
  const onLost = async (lost: Session, code: number, reason: string): Promise<void> => {
    if (stopping || session !== lost) return;
    log.warn('lost the scheduler connection', { id: lost.id, code, reason });
    session = undefined;
    await lost.end();
    for (const key of [...store.keys()]) store.delete(key);
    if (rejoinTimeoutMs <= 0) return void stop({ reason: `the scheduler connection closed (${code} ${reason})` });
    let next: SchedulerLink;
    try {
      next = await retry(() => connectScheduler(options.scheduler, hello, { logger: log, signal: closing.signal }), rejoinPolicy, {
        signal: closing.signal,
        isFatal: isRefusal,
        onRetry: (e, attempt, delayMs) => log.info('could not rejoin the scheduler yet', { attempt, retryInMs: delayMs, error: (e as Error).message }),
      });
    } catch (e) {
      if (stopping) return;
      const error = new ConnectionError(`could not rejoin the scheduler at ${options.scheduler} within ${rejoinTimeoutMs} ms: ${(e as Error).message}`, { cause: e });
      log.error('gave up rejoining the scheduler', { error: error.message });
      return void stop({ reason: error.message, error });
    }
    if (stopping) return void next.close();
    const joined = openSession(next, sessionOptions);
    session = joined;
    log.info('rejoined the scheduler', { id: joined.id, previousId: lost.id, scheduler: options.scheduler });
    watch(joined);
  };
  const watch = (s: Session): void => void s.link.closed.then(({ code, reason }) => onLost(s, code, reason));
  watch(session);

  return {
    get id() {
      return session?.id ?? '';
    },
    dataAddress: server.address,
    closed: stopped,
    close: () => stop({ reason: 'closed' }),
    transfers: () => stats.list(),
    store,
  };
}

interface SessionOptions {
  options: WorkerOptions;
  log: Logger;
  store: Store;
  stats: TransferStats;
  host: string;
  executor: ThreadPool;
  runExecutor: LazyExecutor;
  reclaimer: Reclaimer;
}

/** One membership of the scheduler: what lives only as long as one link and one worker id. */
interface Session {
  readonly id: string;
  readonly link: SchedulerLink;
  readonly core: WorkerCore;
  /** Abandons the tasks, closes the peer links and the scheduler link. */
  end(): Promise<void>;
}

function openSession(link: SchedulerLink, o: SessionOptions): Session {
  const { id } = link;
  const { log, store, stats, host } = o;
  const tcp = new TcpPeerFetcher({ from: id, token: link.dataToken, logger: log, allocate: sharedBytes, digest: nodeDigest });
  const signals = new Batcher<WorkerChannel.WorkerToServer>((batch) => link.send(encodeFrame(batch)));
  const rtc =
    o.options.webrtc === false
      ? undefined
      : new NodeRtcPeers({ localId: id, iceServers: link.iceServers, sendMessage: (m) => signals.send(m), store, stats, host, logger: log });
  // A Node holder whose data link cannot be reached (a firewall, a wrong advertised address) is
  // asked through the scheduler's relay instead: counted, and the last resort.
  const tcpOrRelay: HolderFetcher = {
    fetchFrom: async (holder, keys, opts) => {
      try {
        return await tcp.fetchFrom(holder, keys, opts);
      } catch (e) {
        if (!(e instanceof Unreachable) || !rtc) throw e;
        log.warn('a Node worker\'s data link is unreachable: relaying through the scheduler', { peer: holder.id, error: e });
        return rtc.relayFetcher.fetchFrom(holder, keys, opts);
      }
    },
  };
  const route: HolderRoute = (holder) =>
    holder.address.startsWith(TCP_SCHEME) || !rtc ? { path: 'tcp', fetcher: tcpOrRelay } : { path: 'webrtc', fetcher: rtc.fetcher };
  const fetcher = new RoutingPeerFetcher({ route, localId: id, stats, digest: nodeDigest, logger: log, onClose: () => (tcp.close(), rtc?.close()) });
  const core = new WorkerCore({
    workerId: id,
    send: (frame) => link.send(frame),
    executor: o.executor,
    runExecutor: o.runExecutor,
    fetcher,
    store,
    onDrop: o.reclaimer.dropped,
    memoryLimit: o.options.memoryLimit ?? null,
    logger: log,
    stats,
    digest: nodeDigest,
    ...(rtc
      ? { onSignal: (from: string, payload: unknown) => rtc.deliver(from, payload), onRelay: (m: WorkerChannel.RelayFrom) => rtc.deliverRelay(m) }
      : {}),
  });
  core.handleMessages(link.rest);
  link.onFrame((bytes) => core.handleFrame(bytes));
  let ended: Promise<void> | undefined;
  return {
    id,
    link,
    core,
    end: () =>
      (ended ??= (() => {
        signals.clear();
        core.close();
        fetcher.close();
        return link.close();
      })()),
  };
}
