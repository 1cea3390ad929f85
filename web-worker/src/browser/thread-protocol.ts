/**
 * What the page and its task Web Workers share besides the comlink API: the start data and the
 * one event a thread posts on its own. A leaf module (types and constants only).
 */

/**
 * Given to every thread once, by `init`, before any task. Task code runs in the thread, so this
 * holds no secret: module sources and each task's client capability come with the task.
 */
export interface ThreadInit {
  /** The scheduler's WebSocket address, for clients made inside tasks (`globalThis.meshwork.client()`). */
  scheduler: string;
}

/** What the page calls on a thread through comlink (tasks come as JOBS messages, core/job-queue.ts). */
export interface ThreadApi {
  /** Sets the thread up; answers true (the page's readiness check). */
  init(data: ThreadInit): true;
}

/** Posted by a thread when its task starts or stops waiting on tasks of its own (secede / rejoin). */
export interface WaitEvent {
  type: typeof WAIT_EVENT;
  waiting: boolean;
}

export const WAIT_EVENT = 'meshwork:task-wait';

export function isWaitEvent(value: unknown): value is WaitEvent {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { type?: unknown }).type === WAIT_EVENT &&
    typeof (value as { waiting?: unknown }).waiting === 'boolean'
  );
}
