/**
 * The script of each task Web Worker (the browser twin of node/thread.ts): the runtime-free
 * TaskRunner exposed to the page through comlink. Task code runs here, never on the page. A
 * result's bytes are transferred back, not copied. Uploaded modules come as source text from the
 * page; the client package (for `globalThis.meshwork.client()`) is loaded only when a task first
 * needs it, connects with the running task's capability, and reports the task's waits to the page
 * (WAIT_EVENT). No token reaches this thread: the page keeps it.
 */
import * as Comlink from 'comlink';
import { valueHash } from '@meshwork/protocol';
import { JobQueue, messageTurn, serveJobs } from '../core/job-queue.js';
import { ModuleCache, type ModuleImporter } from '../core/modules.js';
import { TaskGlobal, type TaskGlobalLoader } from '../core/task-global.js';
import { TaskRunner } from '../core/task-runner.js';
import { WAIT_EVENT, type ThreadApi, type ThreadInit, type WaitEvent } from './thread-protocol.js';

/** A Web Worker's own global, as much of it as this script uses (no webworker lib loaded). */
const scope = globalThis as unknown as {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: MessageEvent<unknown>) => void): void;
};

/**
 * Imports a module from the source the page sent, through a `blob:` URL (revoked once imported):
 * like Node's `data:` import, it may import absolute URLs but not paths relative to the scheduler.
 * Task Web Workers' scripts come without the pages' CSP, which would refuse `blob:` scripts.
 */
const importModuleSource: ModuleImporter = async (source) => {
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  try {
    return (await import(/* @vite-ignore */ url)) as Record<string, unknown>;
  } finally {
    URL.revokeObjectURL(url);
  }
};

function clientLoader(data: ThreadInit): TaskGlobalLoader {
  return async (capability) => {
    const { installTaskGlobal } = await import('@meshwork/client');
    installTaskGlobal({
      address: data.scheduler,
      capability,
      // Every call goes to the page, which acts on changes only (a task may end while waiting).
      onWait: (waiting: boolean) => scope.postMessage({ type: WAIT_EVENT, waiting } satisfies WaitEvent),
    });
  };
}

let runner: TaskRunner | undefined;
const queue = new JobQueue((req) => {
  if (!runner) throw new Error('thread used before init');
  return runner.run(req);
}, messageTurn());

const api: ThreadApi = {
  init(data) {
    runner ??= new TaskRunner({
      digest: valueHash,
      modules: new ModuleCache(importModuleSource),
      taskGlobal: new TaskGlobal(clientLoader(data)),
    });
    return true;
  },
};
// A result's memory is handed to the page, not copied.
const serve = serveJobs(queue, (msg, transfer) => scope.postMessage(msg, transfer));
scope.addEventListener('message', (e) => serve(e.data));

Comlink.expose(api);
