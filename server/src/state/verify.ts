/**
 * `verify: k` — a task's result is believed only when k distinct workers computed the same bytes
 * (the SHA-256 of the encoded result each reported). Runs go one after another, each on a worker
 * that has not voted yet (browser workers first): a disagreement simply means more runs, until
 * one hash has k votes. The workers outvoted then are suspects; a worker suspected
 * SUSPICIONS_TO_EXCLUDE times gets no more tasks (visible in /api/state).
 */
import type { WorkerState } from './types.js';

/** Suspected this many times (outvoted, or blamed by distinct peers for a missing or wrong value), a worker is excluded. */
export const SUSPICIONS_TO_EXCLUDE = 2;

/** Distinct peers remembered per worker as having blamed it; past this, more blames count no more. */
export const MAX_BLAMERS_REMEMBERED = 64;

export interface Vote {
  worker: WorkerState;
  /** The result's hash as that worker reported it. */
  hash: string;
}

export interface Verdict {
  hash: string;
  /** The workers that computed the accepted bytes (they hold them). */
  agreed: WorkerState[];
  /** The workers that computed something else. */
  outvoted: WorkerState[];
}

/** The verdict once some hash has `k` votes, else null (run it again elsewhere). */
export function tally(votes: readonly Vote[], k: number): Verdict | null {
  const byHash = new Map<string, WorkerState[]>();
  for (const v of votes) byHash.set(v.hash, [...(byHash.get(v.hash) ?? []), v.worker]);
  for (const [hash, workers] of byHash) {
    if (workers.length >= k)
      return { hash, agreed: workers, outvoted: votes.filter((v) => v.hash !== hash).map((v) => v.worker) };
  }
  return null;
}
