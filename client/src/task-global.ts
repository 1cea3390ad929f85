/**
 * The client a task finds at `globalThis.meshwork.client()` (dask's `get_client()`), installed by
 * the worker runtime in each task thread. Runtime-free: Node worker threads and Web Workers alike.
 *
 * `meshwork.client()` returns a Client at once (connecting in the background; calls made meanwhile
 * are queued), the same one on every call while it stays usable, a new one after it was lost or
 * closed. Both `meshwork.client().submit(…)` and `await meshwork.client()` work.
 *
 * `onWait(true)` is called when the task starts waiting on futures (result, gather, wait,
 * exception, asCompleted) and `onWait(false)` when it stops; overlapping waits count as one.
 * The worker gives the task's thread back meanwhile (secede/rejoin), so a task waiting on its own
 * sub-tasks cannot deadlock a worker with one thread.
 */
import { TASK_GLOBAL } from '@meshwork/protocol';
import { Client } from './client.js';
import type { Logger } from './types.js';

export interface TaskGlobalOptions {
  /** The scheduler's address (`ws://host:port`). */
  address: string;
  token?: string | undefined;
  /** Name the client shows on the scheduler. Default 'task-client'. */
  name?: string | undefined;
  onWait?: ((waiting: boolean) => void) | undefined;
  logger?: Logger | undefined;
}

/** What tasks find at `globalThis.meshwork`. */
export interface TaskGlobal {
  /** The task client, connected (or connecting) to the task's cluster. */
  client(): Client;
}

/** Installs `globalThis.meshwork.client()` (merged into an existing `globalThis.meshwork`). */
export function installTaskGlobal(options: TaskGlobalOptions): TaskGlobal & { close(): Promise<void> } {
  let current: Client | undefined;
  const client = (): Client => {
    if (current?.connected) return current;
    current = Client.connectInBackground(options.address, {
      name: options.name ?? 'task-client',
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(options.onWait ? { onWait: options.onWait } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    return current;
  };
  const g = globalThis as Record<string, unknown>;
  const existing = g[TASK_GLOBAL];
  const target = typeof existing === 'object' && existing !== null ? (existing as Record<string, unknown>) : {};
  target.client = client;
  g[TASK_GLOBAL] = target;
  return {
    client,
    /** Closes the task client, if one was made. */
    async close(): Promise<void> {
      const c = current;
      current = undefined;
      await c?.close();
    },
  };
}
