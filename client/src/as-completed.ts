/**
 * `client.asCompleted(futures)`: futures in the order they settle (finished, error, cancelled or
 * lost), driven by what the scheduler pushes, never by polling. More may be added while
 * iterating; iteration ends once every added future has been yielded (and may start again
 * after more are added). The same Future added twice is yielded twice.
 */
import { TimeoutError } from '@meshwork/protocol';
import type { ClientCore } from './core.js';
import { stateOf, type Future } from './future.js';
import type { WaitOptions } from './deadline.js';

export class AsCompleted<T = unknown> implements AsyncIterableIterator<Future<T>> {
  private readonly ready: Future<T>[] = [];
  private pending = 0;
  private failure: Error | undefined;
  private readonly wakers = new Set<() => void>();
  private readonly deadline: number | undefined;

  /** @internal Made by `client.asCompleted`. */
  constructor(
    private readonly core: ClientCore,
    futures: Iterable<Future<T>>,
    private readonly options: WaitOptions = {},
  ) {
    const ms = options.timeoutMs;
    this.deadline = ms === undefined || ms === Infinity ? undefined : Date.now() + ms;
    this.update(futures);
  }

  /** Adds a future to yield once it settles (at once if it has). */
  add(future: Future<T>): void {
    this.pending++;
    this.core.whenSettled(stateOf(future)).then(
      () => {
        this.pending--;
        this.ready.push(future);
        this.notify();
      },
      (error: Error) => {
        this.pending--;
        this.failure ??= error;
        this.notify();
      },
    );
  }

  update(futures: Iterable<Future<T>>): void {
    for (const f of futures) this.add(f);
  }

  /** Futures added and not yet yielded. */
  count(): number {
    return this.pending + this.ready.length;
  }

  isEmpty(): boolean {
    return this.count() === 0;
  }

  /** Is a settled future waiting to be yielded? */
  hasReady(): boolean {
    return this.ready.length > 0;
  }

  /** Every settled future not yet yielded, at once (possibly none). */
  nextBatch(): Future<T>[] {
    return this.ready.splice(0);
  }

  /**
   * The next settled future. Throws ConnectionError if the client goes away, TimeoutError once
   * `timeoutMs` (counted from creation) has passed, the signal's reason if it aborts.
   */
  async next(): Promise<IteratorResult<Future<T>, undefined>> {
    for (;;) {
      const future = this.ready.shift();
      if (future) return { value: future, done: false };
      if (this.failure) throw this.failure;
      if (this.pending === 0) return { value: undefined, done: true };
      await this.core.track(this.settleOne());
    }
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Resolves when another future settles (or the client fails); rejects on timeout or abort. */
  private settleOne(): Promise<void> {
    const { signal } = this.options;
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const left = this.deadline === undefined ? undefined : this.deadline - Date.now();
      const timedOut = (): TimeoutError =>
        new TimeoutError(`asCompleted: ${this.pending} future(s) still pending after ${this.options.timeoutMs} ms`);
      if (left !== undefined && left <= 0) return reject(timedOut());
      const done = (error?: Error): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.wakers.delete(waker);
        if (error) reject(error);
        else resolve();
      };
      const waker = (): void => done();
      const onAbort = (): void => done(signal?.reason as Error);
      const timer = left === undefined ? undefined : setTimeout(() => done(timedOut()), left);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.wakers.add(waker);
    });
  }

  private notify(): void {
    for (const wake of [...this.wakers]) wake();
  }
}
