/**
 * Trying again after a lost connection: capped exponential backoff with jitter, bounded by a
 * total time. Runtime-free (timers only); clients, Node workers and browser tabs share it. The
 * delays and bounds themselves are each caller's named constants.
 */
import { ErrorCode } from './errors.js';

export interface BackoffPolicy {
  /** Pause after the first failed attempt, in milliseconds; each later pause doubles. */
  firstDelayMs: number;
  /** Longest pause between two attempts, in milliseconds. */
  maxDelayMs: number;
  /** No attempt starts later than this after the first, in milliseconds. */
  timeoutMs: number;
  /** Each pause is moved by up to this fraction either way, so peers cut off together do not retry in step. */
  jitter: number;
}

export interface RetryHooks {
  /** Stops waiting: `retry` rejects with the signal's reason. */
  signal?: AbortSignal;
  /** An error no later attempt can cure (a refused token, another protocol version): rethrown at once. */
  isFatal?: (error: unknown) => boolean;
  /** Told of each failed attempt that will be followed by another, and of the pause before it. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Defaults to Math.random. */
  random?: () => number;
}

/** The pause after failed attempt `attempt` (1-based), with jitter. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.min(attempt - 1, 30));
  return Math.max(0, Math.round(base * (1 + policy.jitter * (2 * random() - 1))));
}

/**
 * Runs `attempt` until it resolves. Between failures it waits (backoffDelay); once the next
 * attempt would start more than `timeoutMs` after the first, it rejects with the last error.
 */
export async function retry<T>(
  attempt: (n: number) => Promise<T>,
  policy: BackoffPolicy,
  hooks: RetryHooks = {},
): Promise<T> {
  const start = Date.now();
  for (let n = 1; ; n++) {
    if (hooks.signal?.aborted) throw hooks.signal.reason;
    try {
      return await attempt(n);
    } catch (error) {
      if (hooks.signal?.aborted) throw hooks.signal.reason;
      if (hooks.isFatal?.(error)) throw error;
      const delay = backoffDelay(policy, n, hooks.random);
      if (Date.now() + delay - start > policy.timeoutMs) throw error;
      hooks.onRetry?.(error, n, delay);
      await pause(delay, hooks.signal);
    }
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * An error of a refused `hello` (a wrong token, another protocol version, any other refusal):
 * the scheduler answered, and asking again the same way would get the same answer.
 */
export function isRefusal(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return code === ErrorCode.AUTH || code === ErrorCode.PROTOCOL;
}
