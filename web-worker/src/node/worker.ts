/**
 * `startWorker`: a Node worker process joining a scheduler. It starts its thread pool and data
 * server first (so it is ready when it says hello), connects, and runs the core until `close()`
 * or until the scheduler connection drops (reconnecting is a later step). `run-function` gets a
 * one-thread pool of its own, started on first use.
 *
 * Data plane: other Node workers fetch from its TCP data server; browser tabs reach it over WebRTC
 * (rtc-peers.ts), which serves the same store. Its own fetches go by holder: TCP to a `tcp://`
 * address, WebRTC by id otherwise (a RoutingPeerFetcher). Bytes per peer and path are counted
 * (`transfers()`) and logged at debug.
 */
import { availableParallelism } from 'node:os';
import { Batcher, encodeFrame, type WorkerChannel } from '@meshwork/protocol';
import { DEFAULT_DATA_HOST } from '../constants.js';
import { RoutingPeerFetcher, type HolderFetcher, type HolderRoute } from '../core/holder-fetch.js';
import { helloMessage } from '../core/handshake.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { httpBaseOf } from '../core/modules.js';
import { Store } from '../core/store.js';
import { TransferStats, type PeerTraffic } from '../core/transfer-stats.js';
import { WorkerCore } from '../core/worker-core.js';
import { startDataServer, type DataServer } from './data-server.js';
import { nodeDigest } from './digest.js';
import { LazyExecutor } from './lazy-executor.js';
import { TcpPeerFetcher, Unreachable } from './peer-fetcher.js';
import { NodeRtcPeers } from './rtc-peers.js';
import { TCP_SCHEME } from './address.js';
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
   * The module whose `installTaskGlobal` gives tasks `globalThis.meshwork` (default
   * `@meshwork/client`); a specifier or URL the threads can import. For tests and embedders.
   */
  clientModule?: string;
}

export interface WorkerHandle {
  /** The id the scheduler gave this worker. */
  id: string;
  /** Where peers fetch this worker's data: `tcp://HOST:PORT`. */
  dataAddress: string;
  /** Resolves once the worker has stopped: after `close()` or when the scheduler went away. */
  closed: Promise<void>;
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
  const store = new Store();
  const stats = new TransferStats();
  const host = options.host ?? DEFAULT_DATA_HOST;
  /** Set once joined: the data server stores put-data through it. */
  const joined: { core?: WorkerCore; dataToken?: string | undefined | null } = { dataToken: null };
  let dataServer: DataServer | undefined;
  let pool: ThreadPool | undefined;
  let link: SchedulerLink;
  const threadData: ThreadData = { scheduler: options.scheduler, token: options.token, clientModule: options.clientModule };
  try {
    threadData.moduleBase = httpBaseOf(options.scheduler);
    dataServer = await startDataServer({
      host,
      lookup: (key, peer) => {
        const bytes = store.get(key);
        if (bytes) {
          stats.sent(peer, 'tcp', bytes.byteLength);
          log.debug('serving a value over TCP', { peer, key, bytes: bytes.byteLength });
        }
        return bytes;
      },
      token: () => joined.dataToken,
      put: (key, bytes) => joined.core?.putData(key, bytes) ?? { ok: false, message: 'the worker has not joined its scheduler yet' },
      logger: log,
    });
    pool = await ThreadPool.start({ threads, logger: log, threadData });
    const hello = helloMessage({
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
    link = await connectScheduler(options.scheduler, hello, linkOptions);
  } catch (e) {
    await Promise.all([pool?.close(), dataServer?.close()]);
    throw e;
  }

  const id = link.id;
  const threadPool: ThreadPool = pool;
  const server: DataServer = dataServer;
  joined.dataToken = link.dataToken;
  const tcp = new TcpPeerFetcher({ from: id, token: link.dataToken, logger: log });
  const signals = new Batcher<WorkerChannel.WorkerToServer>((batch) => link.send(encodeFrame(batch)));
  const rtc =
    options.webrtc === false
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
  const runExecutor = new LazyExecutor(1, () => ThreadPool.start({ threads: 1, logger: log, threadData }));
  const workerCore = new WorkerCore({
    workerId: id,
    send: (frame) => link.send(frame),
    executor: pool,
    runExecutor,
    fetcher,
    store,
    memoryLimit: options.memoryLimit ?? null,
    logger: log,
    stats,
    digest: nodeDigest,
    ...(rtc
      ? { onSignal: (from: string, payload: unknown) => rtc.deliver(from, payload), onRelay: (m: WorkerChannel.RelayFrom) => rtc.deliverRelay(m) }
      : {}),
  });
  joined.core = workerCore;
  workerCore.handleMessages(link.rest);
  link.onFrame((bytes) => workerCore.handleFrame(bytes));
  log.info('joined the scheduler', { id, scheduler: options.scheduler, threads, dataAddress: dataServer.address });

  let stopping: Promise<void> | undefined;
  const stop = (why: string): Promise<void> =>
    (stopping ??= (async () => {
      log.info('worker stopping', { id, why });
      workerCore.flush();
      signals.clear();
      // The pools close first (synchronously marked closed), so tasks aborted by the core do
      // not get replacement threads.
      const threadsClosed = Promise.all([threadPool.close(), runExecutor.close()]);
      workerCore.close();
      fetcher.close();
      log.debug('transfers by peer and path', { id, peers: stats.list() });
      await Promise.all([link.close(), threadsClosed, server.close()]);
    })());
  void link.closed.then(({ code, reason }) => {
    if (!stopping) log.warn('the scheduler connection closed', { code, reason });
    return stop('scheduler connection closed');
  });
  return { id, dataAddress: dataServer.address, closed: link.closed.then(() => stop('scheduler connection closed')), close: () => stop('closed'), transfers: () => stats.list(), store };
}
