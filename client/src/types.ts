/** Public types of the client that are not classes. */
import type { Platform } from './platform.js';
import type { Future } from './future.js';

export type FutureStatus = 'pending' | 'finished' | 'error' | 'cancelled' | 'lost';

/** Where the client reports what it cannot throw (a malformed frame, a throwing onDone callback). */
export interface Logger {
  warn(message: string, details?: unknown): void;
}

export interface ConnectOptions {
  /** Sent in `hello`; a scheduler started with a token refuses a wrong one (AuthError). */
  token?: string;
  /**
   * A task's client capability, instead of a token: set by the worker runtime for the client a task
   * finds at `globalThis.meshwork.client()`, which acts for the client the task runs for (AuthError
   * once that client has left).
   */
  capability?: string;
  /** A name for this client, shown by the scheduler. */
  name?: string;
  /** Give up connecting after this long (TimeoutError), in milliseconds. Default DEFAULT_CONNECT_TIMEOUT_MS. */
  timeoutMs?: number;
  /**
   * Once connected, a dropped connection (the scheduler restarted, the network blinked) is
   * reopened by itself, with backoff, for up to this long, in milliseconds; 0 never reconnects.
   * Default RECONNECT_TIMEOUT_MS. What happens to futures meanwhile: see `Client.closed`.
   */
  reconnectTimeoutMs?: number;
  /** Defaults to a no-op for warnings and a re-throw (as an uncaught error) for throwing callbacks. */
  logger?: Logger;
  /** The runtime adapter; defaults to the one for this runtime (`#platform`). For tests and custom transports. */
  platform?: Platform;
  /**
   * Told when this client starts waiting on futures (`true`: a `result`, `gather`, `wait`,
   * `exception` or `asCompleted` step is pending) and when it no longer waits (`false`).
   * Overlapping waits count as one. A worker uses this to give a task's thread back while the
   * task waits on its own sub-tasks.
   */
  onWait?: (waiting: boolean) => void;
}

/** Options of `client.with(...)`: how tasks are keyed and where they may run. */
export interface TaskOptions {
  /** Key by function source and arguments (default true); false gives a fresh random key per call. */
  pure?: boolean;
  /** The task's key for `submit`; a prefix of each key for `map`. */
  key?: string;
  /**
   * The name part of the keys `submit` and `map` make (`<name>-<hash>`), and the task group the
   * dashboard shows, instead of the function's own name. Give it in code that is minified: a
   * minifier renames functions, so a production bundle's `increment` would key its tasks `vt-…`.
   * 1 to MAX_KEY_NAME_LENGTH letters, digits, `_`, `$` or `.`; `key`, when given, makes the key instead.
   */
  name?: string;
  /** How many times a failing task is run again. Default 0. */
  retries?: number;
  /** Higher runs first among ready tasks. Default 0. */
  priority?: number;
  /** Abstract resources each run holds, e.g. `{ gpu: 1 }`; only workers that have them run it. */
  resources?: Record<string, number>;
  /** Worker ids or names the task should run on. */
  workers?: string | readonly string[];
  /** With `workers`: may the task run elsewhere if those are busy or absent? Default true. */
  allowOtherWorkers?: boolean;
  /**
   * Each run of a task may last this long, in milliseconds (over 0, at most MAX_TASK_TIMEOUT_MS);
   * a run lasting longer fails with TimeoutError (a retry, if any are left, runs again) and the
   * thread it ran on is replaced, so even a task that never yields is stopped. Default: no limit.
   */
  timeoutMs?: number;
  /**
   * Run each task on this many distinct workers (browser workers first) and accept its result
   * only when they agree byte for byte; on disagreement it runs on further workers, and workers
   * outvoted twice are excluded. For clusters of untrusted volunteers. Default 1 (no check).
   */
  verify?: number;
}

export interface ResultOptions {
  /** Throw TimeoutError after this long, in milliseconds; the future stays usable. */
  timeoutMs?: number;
  /** Stop waiting when aborted (rejects with the signal's reason); the future stays usable. */
  signal?: AbortSignal;
}

/** A value, or a future of it, or (inside arrays, plain objects and Map values) the same, nested. */
export type MaybeFuture<T> =
  | T
  | Future<T>
  | (T extends ArrayBufferView | ArrayBuffer | Date | RegExp | Error | Set<unknown>
      ? never
      : T extends Map<infer K, infer V>
        ? Map<K, MaybeFuture<V>>
        : T extends readonly unknown[]
          ? { [I in keyof T]: MaybeFuture<T[I]> }
          : T extends object
            ? { [P in keyof T]: MaybeFuture<T[P]> }
            : never);

/** The arguments of a task function, each of which may be (or contain) futures. */
export type TaskArgs<A extends readonly unknown[]> = { [I in keyof A]: MaybeFuture<A[I]> };

/** What `gather` resolves to: every future inside arrays and plain objects replaced by its value. */
export type Gathered<T> =
  T extends Future<infer R>
    ? R
    : T extends ArrayBufferView | ArrayBuffer | Date | RegExp | Error | Set<unknown> | Map<unknown, unknown>
      ? T
      : T extends readonly unknown[]
        ? { -readonly [I in keyof T]: Gathered<T[I]> }
        : T extends object
          ? { [P in keyof T]: Gathered<T[P]> }
          : T;
