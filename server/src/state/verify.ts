/**
 * `verify: k` — a task's outcome is believed only when k distinct workers report the same one:
 * the same bytes (the value hash of the encoded result each reported), or the same error (code,
 * name and message). Runs (replicas) go one after another, each on a worker that has not voted
 * yet, placed by replicas.ts. An outcome short of k votes simply means more runs, until one has k
 * votes, or no further worker may run it and some run erred (then the task fails, see
 * `unresolved`). Only the worker a replica is processing on may vote on it: a result or error
 * from any other is ignored, and counted against it when it had given that replica back itself.
 * Workers whose *result* was outvoted by a result are suspects; a worker suspected
 * SUSPICIONS_TO_EXCLUDE times gets no more tasks (visible in /api/state). An error is never held
 * against a worker (a timeout or its memory may be its own trouble): it only costs a further run.
 */
import { ErrorCode, WORKER_QUEUE_EXTRA, type WireError } from '@meshwork/protocol';
import type { TaskState, WorkerState } from './types.js';

/** Suspected this many times (outvoted, or blamed by distinct peers for a missing or wrong value), a worker is excluded. */
export const SUSPICIONS_TO_EXCLUDE = 2;

/** Distinct peers remembered per worker as having blamed it; past this, more blames count no more. */
export const MAX_BLAMERS_REMEMBERED = 64;

/**
 * Threads a worker is trusted with for replicas of verified tasks: 1, plus 1 per this many of its
 * votes that agreed with a verdict, up to its declared threads. Its declared threads alone buy it
 * nothing (a Sybil declaring 8 threads would otherwise hold 8 replicas, and so take more votes).
 */
export const AGREED_VOTES_PER_TRUSTED_THREAD = 4;

export interface Vote {
  worker: WorkerState;
  /** What it reported: `r:<hash>` for a result, `e:<code>\n<name>\n<message>` for an error; equal strings agree. */
  outcome: string;
  /** The error it reported (an error vote), else null. */
  error: WireError | null;
}

/** A verified task's runs so far; null on the task while it has none. */
export interface Replicas {
  votes: Vote[];
  /** Workers that gave its replica back themselves (dep-missing) and were not sent it again: a result from them is forged. */
  returned: WorkerState[];
}

export interface Verdict {
  outcome: string;
  /** The agreed error, when k workers reported the same error; null for a result. */
  error: WireError | null;
  /** The workers that reported the agreed outcome (for a result: they hold the accepted bytes). */
  agreed: WorkerState[];
  /** Workers that reported a different result (they hold bytes that are not the value). */
  outvoted: WorkerState[];
}

export function resultOutcome(hash: string | undefined, w: WorkerState): string {
  // Without a hash a result cannot be compared: it agrees with no other.
  return hash === undefined ? `u:${w.id}` : `r:${hash}`;
}

export function errorOutcome(e: WireError): string {
  return `e:${e.code}\n${e.name}\n${e.message}`;
}

/** The verdict once some outcome has `k` votes, else null (run it again elsewhere). */
export function tally(votes: readonly Vote[], k: number): Verdict | null {
  const byOutcome = new Map<string, Vote[]>();
  for (const v of votes) byOutcome.set(v.outcome, [...(byOutcome.get(v.outcome) ?? []), v]);
  for (const [outcome, agreeing] of byOutcome) {
    if (agreeing.length < k) continue;
    const outvoted = votes.filter((v) => v.outcome !== outcome && v.error === null).map((v) => v.worker);
    return { outcome, error: agreeing[0]?.error ?? null, agreed: agreeing.map((v) => v.worker), outvoted };
  }
  return null;
}

/** Threads `w` is trusted with for replicas (see AGREED_VOTES_PER_TRUSTED_THREAD). */
export function trustedThreads(w: WorkerState): number {
  return Math.min(w.threads, 1 + Math.floor(w.agreed / AGREED_VOTES_PER_TRUSTED_THREAD));
}

/** Replicas `w` may hold at once: its trusted threads and the usual queue behind them (WORKER_QUEUE_EXTRA), whatever it declared. */
export function maxReplicas(w: WorkerState): number {
  return trustedThreads(w) + WORKER_QUEUE_EXTRA;
}

/**
 * The error a verified task fails with when some run erred, no outcome has k votes and no
 * further worker may run it: it says what each run reported.
 */
export function unresolved(t: TaskState, votes: readonly Vote[]): WireError {
  const counts = new Map<string, number>();
  for (const v of votes) {
    const said = v.error ? `${v.error.name}: ${v.error.message}` : 'a result';
    counts.set(said, (counts.get(said) ?? 0) + 1);
  }
  const seen = [...counts].map(([said, n]) => `${n} × ${said}`).join('; ');
  const message = `task ${t.key} (verify: ${t.verify}) got no ${t.verify} agreeing runs and no further worker may run it (${seen})`;
  return { code: ErrorCode.REMOTE_ERROR, name: 'VerifyError', message, key: t.key };
}
