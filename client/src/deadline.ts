/**
 * Bounding a wait: `timeoutMs` (TimeoutError) and `signal` (rejects with its reason). The awaited
 * operation itself is not stopped: `onGiveUp` lets the caller drop what it registered.
 */
import { TimeoutError } from '@meshwork/protocol';

export interface WaitOptions {
  /** Throw TimeoutError after this long, in milliseconds. */
  timeoutMs?: number | undefined;
  /** Stop waiting when aborted (rejects with the signal's reason). */
  signal?: AbortSignal | undefined;
}

export function withDeadline<T>(
  promise: Promise<T>,
  options: WaitOptions,
  what: string,
  onGiveUp?: () => void,
): Promise<T> {
  const { timeoutMs: ms, signal } = options;
  if ((ms === undefined || ms === Infinity) && !signal) return promise;
  if (signal?.aborted) {
    onGiveUp?.();
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const giveUp = (error: Error): void => {
      onGiveUp?.();
      finish(() => reject(error));
    };
    const onAbort = (): void => giveUp(signal?.reason as Error);
    const timer =
      ms === undefined || ms === Infinity
        ? undefined
        : setTimeout(() => giveUp(new TimeoutError(`timed out after ${ms} ms waiting for ${what}`)), Math.max(0, ms));
    let settled = false;
    const finish = (settle: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => finish(() => resolve(value)),
      (error: Error) => finish(() => reject(error)),
    );
  });
}

/** Milliseconds left until `deadline` (a `Date.now()` value), or undefined for no deadline. */
export function remaining(deadline: number | undefined): number | undefined {
  return deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
