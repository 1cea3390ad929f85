/**
 * `client.wait(futures, { returnWhen, timeoutMs })`, as dask's `wait` (concurrent.futures'
 * semantics): ALL_COMPLETED when every future has settled; FIRST_COMPLETED when any has;
 * FIRST_EXCEPTION when any has failed ('error' or 'lost'; a cancelled future is not an
 * exception), or else when all have settled. TimeoutError if `timeoutMs` passes first.
 */
import { GraphError, TimeoutError } from '@meshwork/protocol';
import type { ClientCore } from './core.js';
import { stateOf, type Future, type KeyState } from './future.js';
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

/** A settled future of this status fails a FIRST_EXCEPTION wait ('cancelled' does not). */
const isException = (status: string): boolean => status === 'error' || status === 'lost';

/**
 * Is the wait over, with `left` distinct keys still pending and `settled` the status of the one
 * that just settled (if any)? Checked once per settling key: a wait on a million futures is linear.
 */
const conditions: Record<ReturnWhen, (left: number, settled: string | undefined, total: number) => boolean> = {
  ALL_COMPLETED: (left) => left === 0,
  FIRST_COMPLETED: (left, settled, total) => left === 0 || settled !== undefined || left < total,
  FIRST_EXCEPTION: (left, settled) => left === 0 || (settled !== undefined && isException(settled)),
};

export async function waitFor<T>(
  core: ClientCore,
  futures: readonly Future<T>[],
  options: WaitForOptions = {},
): Promise<DoneAndNotDone<T>> {
  const returnWhen = options.returnWhen ?? 'ALL_COMPLETED';
  const over = conditions[returnWhen] as (typeof conditions)[ReturnWhen] | undefined;
  if (!over) {
    throw new GraphError(
      `wait: returnWhen must be 'ALL_COMPLETED', 'FIRST_COMPLETED' or 'FIRST_EXCEPTION', got ${String(returnWhen)}`,
    );
  }
  const states = new Set(futures.map(stateOf));
  const pending = new Set([...states].filter((s) => !s.settled));
  const failed = [...states].some((s) => s.settled && isException(s.status));
  const alreadyOver = over(pending.size, undefined, states.size) || (returnWhen === 'FIRST_EXCEPTION' && failed);
  if (!alreadyOver) await core.track(until(core, pending, states.size, over, options));
  return {
    done: futures.filter((f) => f.done()),
    notDone: futures.filter((f) => !f.done()),
  };
}

function until(
  core: ClientCore,
  pending: Set<KeyState>,
  total: number,
  over: (typeof conditions)[ReturnWhen],
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
            finish(new TimeoutError(`wait: ${pending.size} of ${total} future(s) still pending after ${ms} ms`));
          }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
    for (const state of pending) {
      unwatch.push(
        core.watch(
          state,
          () => {
            pending.delete(state);
            if (over(pending.size, state.status, total)) finish();
          },
          (error) => finish(error),
        ),
      );
    }
  });
}
