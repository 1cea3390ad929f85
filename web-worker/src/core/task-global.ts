/**
 * `globalThis.meshwork` inside a thread, runtime-free. The real one comes from the client package
 * (`installTaskGlobal`), which is loaded only when a task needs it: a thread whose tasks never
 * touch the global never loads the client.
 *
 * - Before a task whose source names the global runs, the runner awaits `ensure()`, so the task
 *   meets the client's own `globalThis.meshwork` and `client()` behaves exactly as defined there.
 * - Any other task (e.g. an uploaded module's export) meets a stub whose `client(...)` loads the
 *   client first and returns a promise of what the real `client(...)` returns: `await` it.
 *
 * The client connects with the running task's capability (`capability`, set by the runner for
 * each task and cleared after it): the thread holds no token, only the capability of the task it
 * runs, so a task acts for the client that submitted it and no other.
 */
import { TASK_GLOBAL } from '@meshwork/protocol';

/**
 * Loads the client package and calls its `installTaskGlobal`, which replaces the stub or its
 * `client`; `capability` reads the running task's capability, for the client to connect with.
 */
export type TaskGlobalLoader = (capability: () => string | undefined) => Promise<void>;

interface TaskGlobalShape {
  client(...args: unknown[]): unknown;
}

export class TaskGlobal {
  private loading: Promise<void> | undefined;
  /** The capability of the task running now (see the file comment). */
  capability: string | undefined;

  constructor(private readonly loader: TaskGlobalLoader) {
    const client = async (...args: unknown[]): Promise<unknown> => {
      await this.ensure();
      // installTaskGlobal may replace the object or only its `client` (it merges into ours).
      const real = TaskGlobal.current();
      if (!real || real.client === client) throw new Error(`loading the client did not install globalThis.${TASK_GLOBAL}.client`);
      return real.client(...args);
    };
    const g = globalThis as Record<string, unknown>;
    g[TASK_GLOBAL] ??= { client } satisfies TaskGlobalShape;
  }

  /** True when a task's source names the global (then the runner loads the client first). */
  static namedIn(source: string): boolean {
    return source.includes(TASK_GLOBAL);
  }

  /** Loads the client once; a failed load is retried by the next caller. */
  ensure(): Promise<void> {
    this.loading ??= this.loader(() => this.capability).catch((e: unknown) => {
      this.loading = undefined;
      throw e;
    });
    return this.loading;
  }

  private static current(): TaskGlobalShape | undefined {
    const value = (globalThis as Record<string, unknown>)[TASK_GLOBAL];
    return typeof value === 'object' && value !== null && typeof (value as TaskGlobalShape).client === 'function' ? (value as TaskGlobalShape) : undefined;
  }
}
