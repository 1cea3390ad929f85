/**
 * How many tasks a worker may hold beyond its threads (admission): WORKER_QUEUE_EXTRA, or more when
 * it empties its queue fast — enough tasks to keep each thread busy for QUEUED_WORK_MS — up to
 * MAX_QUEUE_EXTRA. Each short task then costs a fraction of a message each way (frames carry what a
 * turn produced), not a round trip and its wake-ups of its own.
 *
 * The pace is the slower of what the worker reports (its tasks' run times) and what the scheduler
 * sees (the time between its results while it had tasks left): a worker that says its tasks took
 * 0 ms but returns one a second is held to the usual queue and cannot talk itself into hoarding
 * tasks, and results that arrive together in one frame (0 ms apart) do not count as instant.
 */
import { WORKER_QUEUE_EXTRA } from '@meshwork/protocol';
import type { WorkerState } from './types.js';

/** Work kept queued on a worker beyond its threads, per thread, in milliseconds at its pace. */
export const QUEUED_WORK_MS = 10;
/** Most tasks a worker holds beyond its threads however fast it goes: a deeper queue balances worse. */
export const MAX_QUEUE_EXTRA = 32;
/** Shortest time per task the depth believes, in ms. */
const MIN_TASK_MS = 0.01;
/** Weight of the newest interval in a worker's moving average. */
const MEAN_WEIGHT = 0.1;

/** Tasks `w` may hold beyond its threads; `fixed` (the `workerQueueExtra` option) when set. */
export function queueExtraFor(w: WorkerState, fixed: number | undefined): number {
  if (fixed !== undefined) return fixed;
  if (w.msPerTask === null) return WORKER_QUEUE_EXTRA;
  const fast = Math.ceil(QUEUED_WORK_MS / Math.max(w.msPerTask, MIN_TASK_MS));
  return Math.max(WORKER_QUEUE_EXTRA, Math.min(MAX_QUEUE_EXTRA, fast));
}

/**
 * `w` returned a result at `now` (the scheduler's clock, ms) of a task it says ran `reportedMs`
 * (bounded), its finished task already taken out of `processing`. Only intervals in which it was busy throughout count: idle time is not its pace.
 */
export function recordResult(w: WorkerState, now: number, reportedMs: number): void {
  if (w.busySince !== null) {
    const ms = Math.max(reportedMs, Math.max(0, now - w.busySince) * w.threads);
    w.msPerTask = w.msPerTask === null ? ms : w.msPerTask * (1 - MEAN_WEIGHT) + ms * MEAN_WEIGHT;
  }
  w.busySince = w.processing.size > 0 ? now : null;
}
