/** What the host and its threads share besides the comlink API: the thread's start data and its events. */

/**
 * `workerData` of every thread: task code can read it (`node:worker_threads`), so it holds no
 * secret. Module sources and each task's client capability come with the task (TaskRequest).
 */
export interface ThreadData {
  /** The scheduler's WebSocket address, for clients made inside tasks (`globalThis.meshwork.client()`). */
  scheduler?: string | undefined;
  /** The module exporting `installTaskGlobal` (default `@meshwork/client`); tests point it at a fake. */
  clientModule?: string | undefined;
}

/** Posted by a thread when its task starts or stops waiting on tasks of its own. */
export interface WaitEvent {
  type: typeof WAIT_EVENT;
  waiting: boolean;
}

export const WAIT_EVENT = 'meshwork:task-wait';

export function isWaitEvent(value: unknown): value is WaitEvent {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === WAIT_EVENT && typeof (value as { waiting?: unknown }).waiting === 'boolean';
}
