/**
 * `startWorker`: a Node worker process joining a scheduler. It starts its thread pool and data
 * server first (so it is ready when it says hello), connects, and runs the core until `close()`
 * or until the scheduler connection drops (reconnecting is a later step).
 */
import { availableParallelism } from 'node:os';
import { DEFAULT_DATA_HOST } from '../constants.js';
import { helloMessage } from '../core/handshake.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { Store } from '../core/store.js';
import { WorkerCore } from '../core/worker-core.js';
import { startDataServer, type DataServer } from './data-server.js';
import { TcpPeerFetcher } from './peer-fetcher.js';
import { connectScheduler, type SchedulerLink } from './scheduler-link.js';
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
  /** Interface the data link binds to (default 127.0.0.1; 0.0.0.0 to serve other machines). */
  host?: string;
  logger?: Logger;
  /** Aborts startup (connecting, handshake); after startup use `close()`. */
  signal?: AbortSignal;
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
}

function checkOptions(o: WorkerOptions): void {
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
  let dataServer: DataServer | undefined;
  let pool: ThreadPool | undefined;
  let link: SchedulerLink;
  try {
    dataServer = await startDataServer({ host: options.host ?? DEFAULT_DATA_HOST, lookup: (key) => store.get(key), logger: log });
    pool = await ThreadPool.start({ threads, logger: log });
    const hello = helloMessage({
      kind: 'node',
      threads,
      memoryLimit: options.memoryLimit ?? null,
      resources: options.resources ?? {},
      dataAddress: dataServer.address,
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
  const fetcher = new TcpPeerFetcher({ from: id, logger: log });
  const core = new WorkerCore({
    workerId: id,
    send: (frame) => link.send(frame),
    executor: pool,
    fetcher,
    store,
    logger: log,
    hostMemory: () => process.memoryUsage().heapUsed,
  });
  core.handleMessages(link.rest);
  link.onFrame((bytes) => core.handleFrame(bytes));
  log.info('joined the scheduler', { id, scheduler: options.scheduler, threads, dataAddress: dataServer.address });

  let stopping: Promise<void> | undefined;
  const stop = (why: string): Promise<void> =>
    (stopping ??= (async () => {
      log.info('worker stopping', { id, why });
      core.flush();
      // The pool closes first (synchronously marked closed), so tasks aborted by the core do
      // not get replacement threads.
      const threadsClosed = threadPool.close();
      core.close();
      fetcher.close();
      await Promise.all([link.close(), threadsClosed, server.close()]);
    })());
  void link.closed.then(({ code, reason }) => {
    if (!stopping) log.warn('the scheduler connection closed', { code, reason });
    return stop('scheduler connection closed');
  });
  return { id, dataAddress: dataServer.address, closed: link.closed.then(() => stop('scheduler connection closed')), close: () => stop('closed') };
}
