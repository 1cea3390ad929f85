/**
 * `client.wait(futures, { returnWhen, timeoutMs })`, as dask's `wait` (concurrent.futures'
 * semantics): ALL_COMPLETED when every future has settled; FIRST_COMPLETED when any has;
 * FIRST_EXCEPTION when any has failed ('error' or 'lost'; a cancelled future is not an
 * exception), or else when all have settled. TimeoutError if `timeoutMs` passes first.
 */
import { GraphError, TimeoutError } from '@meshwork/protocol';
import type { ClientCore } from './core.js';
import { stateOf, type Future } from './future.js';
import type { WaitOptions } from './deadline.js';

export type ReturnWhen = 'ALL_COMPLETED' | 'FIRST_COMPLETED' | 'FIRST_EXCEPTION';

export interface WaitForOptions extends WaitOptions {
  /** Default 'ALL_COMPLETED'. */
  returnWhen?: ReturnWhen;
}

export interface DoneAndNotDone<T> {
  /** Settled futures, in the order given. */
  done: Future<T>[];
  /** Futures still pending, in the order given. */
  notDone: Future<T>[];
}

const conditions: Record<ReturnWhen, (futures: readonly Future<unknown>[]) => boolean> = {
  ALL_COMPLETED: (fs) => fs.every((f) => f.done()),
  FIRST_COMPLETED: (fs) => fs.length === 0 || fs.some((f) => f.done()),
  FIRST_EXCEPTION: (fs) => fs.every((f) => f.done()) || fs.some((f) => f.status === 'error' || f.status === 'lost'),
};

export async function waitFor<T>(
  core: ClientCore,
  futures: readonly Future<T>[],
  options: WaitForOptions = {},
): Promise<DoneAndNotDone<T>> {
  const returnWhen = options.returnWhen ?? 'ALL_COMPLETED';
  const satisfied = conditions[returnWhen] as ((fs: readonly Future<unknown>[]) => boolean) | undefined;
  if (!satisfied) {
    throw new GraphError(
      `wait: returnWhen must be 'ALL_COMPLETED', 'FIRST_COMPLETED' or 'FIRST_EXCEPTION', got ${String(returnWhen)}`,
    );
  }
  if (!satisfied(futures)) await core.track(until(core, futures, () => satisfied(futures), options));
  return {
    done: futures.filter((f) => f.done()),
    notDone: futures.filter((f) => !f.done()),
  };
}

function until(
  core: ClientCore,
  futures: readonly Future<unknown>[],
  satisfied: () => boolean,
  options: WaitOptions,
): Promise<void> {
  const { timeoutMs: ms, signal } = options;
  return new Promise<void>((resolve, reject) => {
    let finished = false;
    const unwatch: (() => void)[] = [];
    const finish = (error?: Error): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      for (const u of unwatch) u();
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    };
    const onAbort = (): void => finish(signal?.reason as Error);
    if (signal?.aborted) return onAbort();
    const timer =
      ms === undefined || ms === Infinity
        ? undefined
        : setTimeout(() => {
            const left = futures.filter((f) => !f.done()).length;
            finish(new TimeoutError(`wait: ${left} of ${futures.length} future(s) still pending after ${ms} ms`));
          }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
    for (const f of futures) {
      if (f.done()) continue;
      unwatch.push(
        core.watch(
          stateOf(f),
          () => {
            if (satisfied()) finish();
          },
          (error) => finish(error),
        ),
      );
    }
  });
}
