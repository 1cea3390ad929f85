/**
 * The Node executor: the thread pool (core/thread-pool-core.ts) over worker_threads, started
 * through comlink and given jobs in JOBS messages (core/job-queue.ts). Values in shared memory
 * (the store's) reach a thread as they are; a thread's `process.env` lacks the process's tokens.
 */
import { Worker } from 'node:worker_threads';
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { CLOSE_TIMEOUT_MS } from '../constants.js';
import type { Logger } from '../core/logger.js';
import type { ModuleSources } from '../core/modules.js';
import { ThreadCalls } from '../core/job-queue.js';
import { ThreadEnd } from '../core/thread-end.js';
import { ThreadPoolCore, type HostThread, type PoolHost } from '../core/thread-pool-core.js';
import type { ThreadApi } from './thread.js';
import { isWaitEvent, type ThreadData } from './thread-data.js';

export interface ThreadPoolOptions {
  threads: number;
  logger?: Logger;
  /** The thread script; defaults to thread.js beside this module (thread.ts when run from source). */
  script?: URL;
  /** Given to every thread as its `workerData`. */
  threadData?: ThreadData;
  /** Where uploaded modules' sources come from (fetched in this process); without it, module tasks fail. */
  modules?: ModuleSources;
}

/** Environment variables that carry tokens (the CLIs read them): left out of every thread's `process.env`. */
export const TOKEN_ENV_VARS: readonly string[] = ['MESHWORK_TOKEN', 'MESHWORK_WORKER_TOKEN', 'MESHWORK_CLIENT_TOKEN'];

/** This process's environment without its tokens: what task code finds in `process.env`. */
function threadEnv(): Record<string, string | undefined> {
  const env = { ...process.env };
  for (const name of TOKEN_ENV_VARS) delete env[name];
  return env;
}

function defaultScript(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './thread.ts' : './thread.js', import.meta.url);
}

/** Makes worker_threads running `script`. */
class NodeHost implements PoolHost {
  readonly noun = 'thread';

  constructor(
    private readonly script: URL,
    private readonly threadData: ThreadData,
  ) {}

  spawn(_index: number, onWait: (waiting: boolean) => void): HostThread {
    const options = { workerData: this.threadData, env: threadEnv() };
    const script = this.script;
    const worker = script.pathname.endsWith('.ts')
      ? // Run from source under tsx (tests): threads do not inherit its loader, so register it first.
        new Worker(
          `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(script.href)}); })`,
          { ...options, eval: true },
        )
      : new Worker(script, options);
    const end = new ThreadEnd();
    worker.once('error', (e) => end.end(e instanceof Error ? e : new Error(String(e))));
    worker.once('exit', (code) => end.end(new Error(`thread exited with code ${code}`)));
    const calls = new ThreadCalls(
      (msg, transfer) => worker.postMessage(msg, transfer),
      (reason) => {
        end.end(new Error(reason));
        void worker.terminate();
      },
      setImmediate,
    );
    worker.on('message', (m: unknown) => {
      if (!calls.onMessage(m) && isWaitEvent(m)) onWait(m.waiting);
    });
    const api = Comlink.wrap<ThreadApi>(nodeEndpoint(worker));
    return {
      end,
      run: (req, transfer) => calls.run(req, transfer),
      takeBack: (seqs) => calls.takeBack(seqs),
      ready: async () => {
        try {
          await api.ping();
        } catch (e) {
          throw new Error(`${script.href} did not answer: ${(e as Error).message}`);
        }
      },
      async stop() {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          worker.terminate().catch(() => undefined),
          new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS))),
        ]);
        clearTimeout(timer);
      },
    };
  }
}

export class ThreadPool extends ThreadPoolCore {
  private constructor(o: ThreadPoolOptions) {
    super(new NodeHost(o.script ?? defaultScript(), o.threadData ?? {}), o);
  }

  /** Starts every thread and waits until each answers (bounded by THREAD_START_TIMEOUT_MS). */
  static async start(o: ThreadPoolOptions): Promise<ThreadPool> {
    const pool = new ThreadPool(o);
    await pool.startThreads();
    return pool;
  }
}
