/**
 * `globalThis.meshwork` inside a thread, runtime-free. The real one comes from the client package
 * (`installTaskGlobal`), which is loaded only when a task first calls `meshwork.client()`: a
 * thread whose tasks never call it never loads the client. Nothing reads task source to decide.
 *
 * Until then the global is a stub. A task that calls the stub's `client()` while it runs (under
 * `run`) is stopped there: the stub throws, the client loads, and the task runs once more from
 * its start, now meeting the client's own `globalThis.meshwork`, so `meshwork.client().submit(…)`
 * and `await meshwork.client()` both behave exactly as defined there. This happens once per
 * thread; what the first run did before that call (it cannot have submitted anything) is done
 * twice, as for any task run again. Called outside `run` (e.g. from a callback after its task
 * ended), the stub loads the client and returns a promise of what the real `client()` returns.
 *
 * The client connects with the running task's capability (`capability`, set by `run` for each
 * task and cleared after it): the thread holds no token, only the capability of the task it
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

/** Thrown by the stub's `client()` to stop a running task until the client has loaded (see the file comment). */
class ClientNotLoaded extends Error {
  constructor() {
    super(`globalThis.${TASK_GLOBAL}.client() is loading the client; this task runs again once it has`);
  }
}

export class TaskGlobal {
  private loading: Promise<void> | undefined;
  private loaded = false;
  /** A task runs under `run` now. */
  private running = false;
  /** The running task called the stub's `client()`: run it again once the client has loaded. */
  private wanted = false;
  /** The capability of the task running now (see the file comment). */
  capability: string | undefined;

  constructor(private readonly loader: TaskGlobalLoader) {
    const real = (): TaskGlobalShape => {
      // installTaskGlobal may replace the object or only its `client` (it merges into ours).
      const found = TaskGlobal.current();
      if (!found || found.client === client) throw new Error(`loading the client did not install globalThis.${TASK_GLOBAL}.client`);
      return found;
    };
    const client = (...args: unknown[]): unknown => {
      if (this.loaded) return real().client(...args);
      if (this.running) {
        this.wanted = true;
        this.ensure().catch(() => {}); // `run` awaits it and reports a failure
        throw new ClientNotLoaded();
      }
      return this.ensure().then(() => real().client(...args));
    };
    const g = globalThis as Record<string, unknown>;
    g[TASK_GLOBAL] ??= { client } satisfies TaskGlobalShape;
  }

  /**
   * Runs a task's `call` with its `capability`; a task stopped by the stub's `client()` runs
   * again once the client has loaded (a failed load fails the task).
   */
  async run(capability: string | undefined, call: () => unknown): Promise<unknown> {
    this.capability = capability;
    try {
      for (;;) {
        this.wanted = false;
        this.running = true;
        let outcome: PromiseSettledResult<unknown>;
        try {
          outcome = { status: 'fulfilled', value: await call() };
        } catch (reason) {
          outcome = { status: 'rejected', reason };
        } finally {
          this.running = false;
        }
        if (!this.wanted) {
          if (outcome.status === 'fulfilled') return outcome.value;
          throw outcome.reason;
        }
        await this.ensure();
      }
    } finally {
      this.capability = undefined;
    }
  }

  /** Loads the client once; a failed load is retried by the next caller. */
  ensure(): Promise<void> {
    this.loading ??= this.loader(() => this.capability).then(
      () => {
        this.loaded = true;
      },
      (e: unknown) => {
        this.loading = undefined;
        throw e;
      },
    );
    return this.loading;
  }

  private static current(): TaskGlobalShape | undefined {
    const value = (globalThis as Record<string, unknown>)[TASK_GLOBAL];
    return typeof value === 'object' && value !== null && typeof (value as TaskGlobalShape).client === 'function' ? (value as TaskGlobalShape) : undefined;
  }
}
