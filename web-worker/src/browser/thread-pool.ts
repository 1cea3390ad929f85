/**
 * The browser executor: the thread pool (core/thread-pool-core.ts) over module Web Workers, set up
 * through comlink and given jobs in JOBS messages (core/job-queue.ts). A job's inputs go to its Web
 * Worker as copies (large ones transferred, so copied once: the
 * page's store keeps its own to serve peers, and a page that is not cross-origin isolated has no
 * shared memory; bytes that are shared go as they are), and the task decodes views of that copy;
 * the result's buffer is transferred back, not copied. An abort (timeout, free-keys, leaving)
 * terminates that Web Worker and a fresh one takes its index.
 */
import * as Comlink from 'comlink';
import { ThreadCalls } from '../core/job-queue.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { ModuleSources } from '../core/modules.js';
import { ThreadEnd } from '../core/thread-end.js';
import { ThreadPoolCore, type HostThread, type PoolHost } from '../core/thread-pool-core.js';
import { isWaitEvent, type ThreadApi, type ThreadInit } from './thread-protocol.js';

export interface WebThreadPoolOptions {
  threads: number;
  init: ThreadInit;
  /** Where uploaded modules' sources come from (fetched by the page); without it, module tasks fail. */
  modules?: ModuleSources;
  logger?: Logger;
  /** Makes one task Web Worker; the default loads thread.ts beside this module (bundled by Vite). */
  spawn?: () => Worker;
}

function defaultSpawn(): Worker {
  // Literal arguments: Vite finds and bundles the thread script from exactly this expression.
  return new Worker(new URL('./thread.js', import.meta.url), { type: 'module', name: 'meshwork-task-thread' });
}

/** Makes module Web Workers and sets each up with `init`. */
class WebHost implements PoolHost {
  readonly noun = 'Web Worker';

  constructor(
    private readonly make: () => Worker,
    private readonly init: ThreadInit,
    private readonly log: Logger,
  ) {}

  spawn(index: number, onWait: (waiting: boolean) => void): HostThread {
    const worker = this.make();
    const end = new ThreadEnd();
    const calls = new ThreadCalls(
      (msg, transfer) => worker.postMessage(msg, transfer),
      (reason) => {
        worker.terminate();
        end.end(new Error(reason));
      },
    );
    worker.addEventListener('message', (e: MessageEvent<unknown>) => {
      if (!calls.onMessage(e.data) && isWaitEvent(e.data)) onWait(e.data.waiting);
    });
    // An uncaught error inside a Web Worker does not end it (unlike a worker_thread): say so, carry on.
    worker.addEventListener('error', (e: ErrorEvent) => {
      e.preventDefault();
      this.log.warn('uncaught error in a task thread', { thread: index, message: e.message });
    });
    const api = Comlink.wrap<ThreadApi>(worker);
    return {
      end,
      run: (req, transfer) => calls.run(req, transfer),
      takeBack: (seqs) => calls.takeBack(seqs),
      ready: async () => {
        let onError: ((e: ErrorEvent) => void) | undefined;
        // Before it answers, an error is its script failing to load or evaluate.
        const failed = new Promise<never>((_, reject) => {
          onError = (e) => reject(new Error(`its script did not load: ${e.message || 'no message'}`));
          worker.addEventListener('error', onError);
        });
        try {
          await Promise.race([api.init(this.init), failed]);
        } finally {
          if (onError) worker.removeEventListener('error', onError);
        }
      },
      stop: (reason) => {
        worker.terminate();
        end.end(reason);
        return Promise.resolve();
      },
    };
  }
}

export class WebThreadPool extends ThreadPoolCore {
  private constructor(o: WebThreadPoolOptions) {
    super(new WebHost(o.spawn ?? defaultSpawn, o.init, o.logger ?? silentLogger), o);
  }

  /** Starts every Web Worker and waits until each answers (bounded by THREAD_START_TIMEOUT_MS). */
  static async start(o: WebThreadPoolOptions): Promise<WebThreadPool> {
    const pool = new WebThreadPool(o);
    await pool.startThreads();
    return pool;
  }
}
