/**
 * `client.progress(futures)`: how far a set of futures has got, as a stream of
 * `{ done, total, erred }` (dask's `progress`, as data rather than a widget, so a page can draw a
 * bar and a terminal can draw another). Driven by what the scheduler pushes, never by polling.
 *
 * The first step is the state at the time of the call; then one step each time the counts change,
 * ending after the step where `done === total`. Futures that settle while the consumer is busy are
 * reported together in its next step (the counts are always current, never a backlog), so a slow
 * consumer of 100,000 futures costs nothing. Iterating again after the end yields nothing.
 */
import { TimeoutError } from '@meshwork/protocol';
import type { ClientCore } from './core.js';
import type { WaitOptions } from './deadline.js';
import { stateOf, type Future } from './future.js';

export interface ProgressState {
  /** Futures settled in any way: finished, error, cancelled or lost. */
  done: number;
  /** Futures followed. */
  total: number;
  /** Of `done`, those that did not finish: error, cancelled or lost. */
  erred: number;
}

export class Progress implements AsyncIterableIterator<ProgressState> {
  private done = 0;
  private erred = 0;
  private readonly total: number;
  /** Counts changed since the last step (true at first: the first step is the current state). */
  private changed = true;
  private ended = false;
  private failure: Error | undefined;
  private readonly unwatch: (() => void)[] = [];
  private wake: (() => void) | undefined;
  private readonly deadline: number | undefined;

  /** @internal Made by `client.progress`. */
  constructor(
    private readonly core: ClientCore,
    futures: Iterable<Future<unknown>>,
    private readonly options: WaitOptions = {},
  ) {
    const list = [...futures];
    this.total = list.length;
    const ms = options.timeoutMs;
    this.deadline = ms === undefined || ms === Infinity ? undefined : Date.now() + ms;
    for (const future of list) {
      if (future.done()) this.count(future);
      else
        this.unwatch.push(
          core.watch(
            stateOf(future),
            () => this.settled(future),
            (error) => this.fail(error),
          ),
        );
    }
  }

  /** The counts now. */
  get state(): ProgressState {
    return { done: this.done, total: this.total, erred: this.erred };
  }

  /**
   * The next step: the current counts once they differ from the last step's. Throws
   * ConnectionError if the client goes away, TimeoutError once `timeoutMs` (counted from the
   * call to `progress`) has passed, the signal's reason if it aborts.
   */
  async next(): Promise<IteratorResult<ProgressState, undefined>> {
    if (this.ended) return { value: undefined, done: true };
    if (!this.changed) {
      if (this.done === this.total) return this.end();
      await this.core.track(this.nextChange());
      if (this.ended) return { value: undefined, done: true }; // `return()` was called meanwhile
    }
    this.changed = false;
    return { value: this.state, done: false };
  }

  /** Stops following the futures (called by `break` in `for await`). */
  return(): Promise<IteratorResult<ProgressState, undefined>> {
    return Promise.resolve(this.end());
  }

  /**
   * Calls `onStep` with each step (as `for await` would) and resolves with the last state, once
   * every future has settled. Rejects as `next()` does; an error thrown by `onStep` stops it.
   */
  async forEach(onStep: (state: ProgressState) => void): Promise<ProgressState> {
    let last = this.state;
    for await (const step of this) {
      last = step;
      onStep(step);
    }
    return last;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private settled(future: Future<unknown>): void {
    this.count(future);
    this.wake?.();
  }

  private count(future: Future<unknown>): void {
    this.done++;
    if (future.status !== 'finished') this.erred++;
    this.changed = true;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.wake?.();
  }

  private end(): IteratorResult<ProgressState, undefined> {
    this.ended = true;
    for (const u of this.unwatch.splice(0)) u();
    this.wake?.();
    return { value: undefined, done: true };
  }

  /** Resolves when the counts change; rejects when the client fails, on timeout or abort. */
  private nextChange(): Promise<void> {
    const { signal } = this.options;
    return new Promise<void>((resolve, reject) => {
      const left = this.deadline === undefined ? undefined : this.deadline - Date.now();
      const timedOut = (): TimeoutError =>
        new TimeoutError(
          `progress: ${this.total - this.done} of ${this.total} future(s) still pending after ${this.options.timeoutMs} ms`,
        );
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        this.wake = undefined;
        if (signal?.aborted) reject(signal.reason as Error);
        else if (this.failure) reject(this.failure);
        else if (this.changed || this.ended) resolve();
        else reject(timedOut());
      };
      if (signal?.aborted || this.failure || (left !== undefined && left <= 0)) return finish();
      const timer = left === undefined ? undefined : setTimeout(finish, left);
      signal?.addEventListener('abort', finish, { once: true });
      this.wake = finish;
    });
  }
}
