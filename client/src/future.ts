/**
 * Futures. Every Future object for one key shares that key's `KeyState` (status, error, a small
 * cached result, done callbacks); each object is one reference that the scheduler counts, dropped
 * by `release()` or by garbage collection. Releasing one Future never affects another.
 */
import { ConnectionError, ErrorCode, FutureRef, MeshworkError, type CancelledError } from '@meshwork/protocol';
import type { FutureStatus, Logger, ResultOptions } from './types.js';

type Waiter = { resolve: () => void; reject: (error: Error) => void };

/** What one client knows about one key it holds futures for. */
export class KeyState {
  status: FutureStatus = 'pending';
  error: MeshworkError | undefined;
  /** The encoded result, when small enough to keep (a private copy). */
  cached: Uint8Array | undefined;
  /** Live Future objects for this key on this client. */
  refs = 0;
  /**
   * The scheduler no longer counts this client's futures for the key (it was cancelled): releasing
   * them sends nothing, and a new future for the key is a new submission.
   */
  forgotten = false;
  /** Waits on it (`watch`); made by the first (an empty Set costs ~150 bytes, and a client may hold a million keys). */
  private waiters: Set<Waiter> | undefined = undefined;
  private callbacks: { future: Future<unknown>; cb: (future: Future<unknown>) => void }[] | undefined = undefined;

  constructor(
    readonly key: string,
    private readonly logger: Logger,
  ) {}

  get settled(): boolean {
    return this.status !== 'pending';
  }

  finish(): void {
    if (this.settled) return;
    this.status = 'finished';
    this.wake();
  }

  /**
   * Settles with `error`. A finished key may still fail later (its data was lost and could not be
   * recomputed): the status and error change, done callbacks (already called) are not called again.
   */
  fail(error: MeshworkError): void {
    if (this.settled && this.status !== 'finished') return;
    const first = !this.settled;
    this.status = error.code === ErrorCode.CANCELLED ? 'cancelled' : error.code === ErrorCode.LOST ? 'lost' : 'error';
    this.error = error;
    this.cached = undefined;
    if (first) this.wake();
  }

  /** Cancelled, whatever the status was (dask: a finished future can be cancelled too). */
  cancel(error: CancelledError): void {
    if (this.status === 'cancelled') return;
    const first = !this.settled;
    this.status = 'cancelled';
    this.error = error;
    this.cached = undefined;
    if (first) this.wake();
  }

  /** Waits until it settles; returns the way to stop waiting. */
  addWaiter(waiter: Waiter): () => void {
    (this.waiters ??= new Set()).add(waiter);
    return () => {
      // The last one gone (a wait that timed out): the empty Set goes too.
      if (this.waiters?.delete(waiter) && this.waiters.size === 0) this.waiters = undefined;
    };
  }

  /** Rejects every wait (the connection is gone); the status stays as it is. */
  abandon(error: ConnectionError): void {
    const waiters = this.waiters;
    this.waiters = undefined;
    for (const w of waiters ?? []) w.reject(error);
  }

  addCallback(future: Future<unknown>, cb: (future: Future<unknown>) => void): void {
    if (this.settled) queueMicrotask(() => this.call(future, cb));
    else (this.callbacks ??= []).push({ future, cb });
  }

  private wake(): void {
    const { waiters, callbacks } = this;
    this.waiters = undefined;
    this.callbacks = undefined;
    for (const w of waiters ?? []) w.resolve();
    for (const { future, cb } of callbacks ?? []) this.call(future, cb);
  }

  private call(future: Future<unknown>, cb: (future: Future<unknown>) => void): void {
    try {
      cb(future);
    } catch (e) {
      this.logger.warn(`meshwork client: an onDone callback of '${this.key}' threw`, e);
    }
  }
}

/** What a Future asks of the client that made it. */
export interface FutureOwner {
  result(state: KeyState, options: ResultOptions): Promise<unknown>;
  settled(state: KeyState, options: ResultOptions): Promise<void>;
  dropRef(future: Future<unknown>, state: KeyState): void;
  cancel(futures: readonly Future<unknown>[]): Promise<void>;
}

/**
 * Futures with a pending `result()`/`exception()`: held here so that garbage collection cannot
 * release a future (and so the cluster drop its task) while someone awaits it.
 */
const awaited = new Map<Future<unknown>, number>();

function holdWhile<P>(future: Future<unknown>, promise: Promise<P>): Promise<P> {
  awaited.set(future, (awaited.get(future) ?? 0) + 1);
  const done = (): void => {
    const n = (awaited.get(future) ?? 1) - 1;
    if (n > 0) awaited.set(future, n);
    else awaited.delete(future);
  };
  promise.then(done, done);
  return promise;
}

/**
 * Points the stack of an error this package made at whoever awaited `method` (an async method of
 * ours): such errors are made where a message arrived, so their own frames name only meshwork;
 * V8's async stack then shows the caller's `await` line instead (engines without
 * `Error.captureStackTrace` keep the stack as it was). The task's own stack stays in `remoteStack`.
 * Other errors (the reason of the caller's own AbortSignal) pass unchanged.
 */
export function atCaller(error: unknown, method: (...args: never[]) => unknown): unknown {
  const capture = (Error as { captureStackTrace?: (target: object, fn: (...args: never[]) => unknown) => void })
    .captureStackTrace;
  if (error instanceof MeshworkError && capture) capture(error, method);
  return error;
}

/** The shared state behind a future (for this package's own modules). */
export let stateOf: (future: Future<unknown>) => KeyState;

/** The eventual result of a task: `key`, `status`, `result()`, `exception()`, `onDone()`, `release()`. */
export class Future<T = unknown> extends FutureRef {
  readonly #state: KeyState;
  readonly #owner: FutureOwner;
  #released = false;

  static {
    stateOf = (future) => future.#state;
  }

  /** @internal Made by the client (`submit`, `map`); not by users. */
  constructor(state: KeyState, owner: FutureOwner) {
    super(state.key);
    this.#state = state;
    this.#owner = owner;
  }

  get status(): FutureStatus {
    return this.#state.status;
  }

  /** Settled: finished, error, cancelled or lost. */
  done(): boolean {
    return this.#state.settled;
  }

  cancelled(): boolean {
    return this.#state.status === 'cancelled';
  }

  /** Has `release()` been called on this object? */
  get released(): boolean {
    return this.#released;
  }

  /**
   * The value. Throws the task's error (RemoteError, CancelledError, LostError, KilledWorkerError…),
   * TimeoutError after `timeoutMs` (the future stays usable), ConnectionError if the client is gone.
   */
  async result(options: ResultOptions = {}): Promise<T> {
    try {
      return (await holdWhile(this, this.#owner.result(this.#state, options))) as T;
    } catch (e) {
      // eslint-disable-next-line @typescript-eslint/unbound-method -- only its identity: where the stack starts
      throw atCaller(e, Future.prototype.result);
    }
  }

  /** Once settled: the error it settled with, or null if it finished. */
  async exception(options: ResultOptions = {}): Promise<MeshworkError | null> {
    await holdWhile(this, this.#owner.settled(this.#state, options));
    return this.#state.error ?? null;
  }

  /** Calls `cb(this)` once, when settled (on a later microtask if already settled). */
  onDone(cb: (future: Future<T>) => void): void {
    this.#state.addCallback(this, cb as (future: Future<unknown>) => void);
  }

  /**
   * Cancels the key for every client (as `client.cancel([this])`): resolves once the request is
   * sent; this future is 'cancelled' at once, its dependents as the scheduler reports them.
   */
  cancel(): Promise<void> {
    return this.#owner.cancel([this]);
  }

  /** Drops this reference; the cluster frees the data once no future anywhere holds it. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#owner.dropRef(this, this.#state);
  }

  override toString(): string {
    return `Future(${this.key}, ${this.status})`;
  }
}
