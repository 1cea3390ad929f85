/**
 * The script of each task Web Worker (the browser twin of node/thread.ts): the runtime-free
 * TaskRunner exposed to the page through comlink. Task code runs here, never on the page. A
 * result's bytes are transferred back, not copied. Uploaded modules are imported straight from
 * the scheduler; the client package (for `globalThis.meshwork.client()`) is loaded only when a
 * task first needs it, and the task's waits are reported to the page (WAIT_EVENT).
 */
import * as Comlink from 'comlink';
import { valueHash } from '@meshwork/protocol';
import { ModuleCache, type ModuleImporter } from '../core/modules.js';
import { TaskGlobal } from '../core/task-global.js';
import { TaskRunner } from '../core/task-runner.js';
import { WAIT_EVENT, type ThreadApi, type ThreadInit, type WaitEvent } from './thread-protocol.js';

/** A Web Worker's own global, as much of it as this script uses (no webworker lib loaded). */
const scope = globalThis as unknown as { postMessage(message: unknown): void };

/**
 * Browsers import modules from their URL directly (the scheduler serves them as JavaScript); an
 * import cannot carry a header, so a secured scheduler's token rides as `token=` in the query.
 */
function moduleImporter(token: string | undefined): ModuleImporter {
  return async (url) => {
    const withToken = token === undefined ? url : `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
    return (await import(/* @vite-ignore */ withToken)) as Record<string, unknown>;
  };
}

function clientLoader(data: ThreadInit): () => Promise<void> {
  return async () => {
    const { installTaskGlobal } = await import('@meshwork/client');
    installTaskGlobal({
      address: data.scheduler,
      ...(data.token !== undefined ? { token: data.token } : {}),
      // Every call goes to the page, which acts on changes only (a task may end while waiting).
      onWait: (waiting: boolean) => scope.postMessage({ type: WAIT_EVENT, waiting } satisfies WaitEvent),
    });
  };
}

let runner: TaskRunner | undefined;

const api: ThreadApi = {
  init(data) {
    runner ??= new TaskRunner({
      digest: valueHash,
      modules: new ModuleCache(data.moduleBase, moduleImporter(data.token)),
      taskGlobal: new TaskGlobal(clientLoader(data)),
    });
    return true;
  },
  async run(req) {
    if (!runner) throw new Error('thread used before init');
    const reply = await runner.run(req);
    return reply.ok ? Comlink.transfer(reply, [reply.bytes.buffer]) : reply;
  },
};

Comlink.expose(api);
