/**
 * `client.getExecutor()`: the concurrent.futures analogue. `submit` and `map` return plain
 * promises of results; each future behind them is released as soon as it settles, so nothing
 * stays held on the cluster. `shutdown()` refuses new work and waits for (or cancels) the rest.
 */
import { CancelledError } from '@meshwork/protocol';
import type { ClientCore } from './core.js';
import type { Future } from './future.js';
import type { MaybeFutureItem, Submitter } from './submitter.js';
import type { TaskArgs } from './types.js';

export interface ShutdownOptions {
  /** Wait for the work already submitted to settle (default true). */
  wait?: boolean;
  /** Cancel the work already submitted that has not settled (default false). */
  cancelPending?: boolean;
}

export class Executor {
  /** Futures not yet settled, with the promise handed out for each. */
  private readonly running = new Map<Future<unknown>, Promise<unknown>>();
  private shut = false;

  /** @internal Made by `client.getExecutor()`. */
  constructor(
    private readonly core: ClientCore,
    private readonly submitter: Submitter,
  ) {}

  /** `fn(...args)` on the cluster; the promise of its result (the future is released once settled). */
  submit<A extends readonly unknown[], R>(fn: (...args: A) => R, ...args: TaskArgs<A>): Promise<Awaited<R>> {
    this.check();
    return this.settle(this.submitter.submit(fn, ...args));
  }

  /** `fn` over the zipped iterables: one promise per item, in order. */
  map<A extends readonly unknown[], R>(
    fn: (...args: A) => R,
    ...iterables: { [I in keyof A]: Iterable<MaybeFutureItem<A[I]>> }
  ): Promise<Awaited<R>>[] {
    this.check();
    return this.submitter.map(fn, ...iterables).map((f) => this.settle(f));
  }

  /** Refuses new work; then waits for the rest (`wait`, default true) or cancels it (`cancelPending`). */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    this.shut = true;
    const pending = [...this.running];
    if (options.cancelPending && pending.length > 0) await this.core.cancel(pending.map(([f]) => f));
    if (options.wait ?? true) await Promise.allSettled(pending.map(([, p]) => p));
  }

  private check(): void {
    if (this.shut) throw new CancelledError('the executor was shut down: it takes no new work');
  }

  private settle<R>(future: Future<R>): Promise<R> {
    const promise = future.result().finally(() => {
      this.running.delete(future);
      future.release();
    });
    this.running.set(future, promise);
    return promise;
  }
}
