/**
 * The script each worker_thread runs: the runtime-free TaskRunner, exposed to the host through
 * comlink over its Node adapter. A result is written into shared memory: the host stores those
 * very bytes and hands them to later tasks' threads without copying. Uploaded modules come as
 * source text from the host; `globalThis.meshwork` loads the client package only when a task
 * first needs it, connects it with the running task's capability, and reports the task's waits
 * to the host (WAIT_EVENT). No token reaches this thread.
 */
import { nodeDigest } from './digest.js';
import { parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { JobQueue, serveJobs } from '../core/job-queue.js';
import { ModuleCache } from '../core/modules.js';
import { TaskGlobal, type TaskGlobalLoader } from '../core/task-global.js';
import { TaskRunner } from '../core/task-runner.js';
import { importModuleSource } from './module-import.js';
import { Reclaimer } from './reclaim.js';
import { sharedBytes } from './shared-memory.js';
import { WAIT_EVENT, type ThreadData, type WaitEvent } from './thread-data.js';

/** What the host calls on a thread through comlink (tasks come as JOBS messages, core/job-queue.ts). */
export interface ThreadApi {
  ping(): true;
}

/** `installTaskGlobal` of `@meshwork/client`. */
type InstallTaskGlobal = (options: { address: string; capability: () => string | undefined; onWait?: (waiting: boolean) => void }) => void;

/** The default client package; a variable, so nothing loads it until a task needs it. */
const CLIENT_PACKAGE = '@meshwork/client';

function clientLoader(port: NonNullable<typeof parentPort>, data: ThreadData & { scheduler: string }): TaskGlobalLoader {
  return async (capability) => {
    const specifier = data.clientModule ?? CLIENT_PACKAGE;
    const mod = (await import(specifier)) as { installTaskGlobal?: unknown };
    if (typeof mod.installTaskGlobal !== 'function') throw new Error(`${specifier} does not export installTaskGlobal: is it the same meshwork version as this worker?`);
    (mod.installTaskGlobal as InstallTaskGlobal)({
      address: data.scheduler,
      capability,
      // Every call goes to the host, which acts on changes only (a task may end while waiting).
      onWait: (waiting) => port.postMessage({ type: WAIT_EVENT, waiting } satisfies WaitEvent),
    });
  };
}

if (parentPort) {
  const port = parentPort;
  const data = (workerData ?? {}) as ThreadData;
  const { scheduler } = data;
  const runner = new TaskRunner({
    allocate: sharedBytes,
    digest: nodeDigest,
    modules: new ModuleCache(importModuleSource),
    ...(scheduler !== undefined ? { taskGlobal: new TaskGlobal(clientLoader(port, { ...data, scheduler })) } : {}),
  });
  // What a task read and wrote is this thread's to let go of (reclaim.ts).
  const reclaimer = new Reclaimer();
  const queue = new JobQueue(
    async (req) => {
      const reply = await runner.run(req);
      let touched = req.args.byteLength + (reply.ok ? reply.bytes.byteLength : 0);
      for (const [, bytes] of req.deps) touched += bytes.byteLength;
      reclaimer.dropped(touched);
      return reply;
    },
    () => new Promise((resolve) => setImmediate(resolve)),
  );
  // A result in shared memory travels to the host without a copy or a transfer.
  port.on('message', serveJobs(queue, (msg, transfer) => port.postMessage(msg, transfer)));
  const api: ThreadApi = { ping: () => true };
  Comlink.expose(api, nodeEndpoint(port));
}
