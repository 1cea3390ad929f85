/**
 * The client a task finds at `globalThis.meshwork.client()` (dask's `get_client()`), installed by
 * the worker runtime in each task thread. Runtime-free: Node worker threads and Web Workers alike.
 *
 * `meshwork.client()` returns a Client at once (connecting in the background; calls made meanwhile
 * are queued), the same one on every call while it stays usable and the running task is of the
 * same client, a new one after it was lost or closed. Both `meshwork.client().submit(…)` and
 * `await meshwork.client()` work.
 *
 * It connects with the running task's capability (`capability()`, from the task's compute-task):
 * it acts for the client the task runs for, so no worker token ever reaches task code. A thread
 * runs one task at a time; once a task of another client asks, the previous one's client is closed.
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
  /** The running task's capability (undefined between tasks, and for tasks that got none). */
  capability?: (() => string | undefined) | undefined;
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
  let currentCapability: string | undefined;
  const client = (): Client => {
    const capability = options.capability?.();
    if (current?.connected && capability === currentCapability) return current;
    // An earlier task's client, of another client: that task has ended (one task per thread).
    if (current?.connected) void current.close().catch(() => undefined);
    currentCapability = capability;
    current = Client.connectInBackground(options.address, {
      name: options.name ?? 'task-client',
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(capability !== undefined ? { capability } : {}),
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
