/**
 * How many tasks a worker may hold beyond its threads (admission): WORKER_QUEUE_EXTRA, or more when
 * its tasks are short — enough of them to keep each thread busy for QUEUED_WORK_MS, the time a
 * refill takes to arrive — up to MAX_QUEUE_EXTRA. Each short task then costs a fraction of a message
 * each way (frames carry what a turn produced), not a round trip and its wake-ups of its own.
 */
import { WORKER_QUEUE_EXTRA } from '@meshwork/protocol';
import type { WorkerState } from './types.js';

/** Work kept queued on a worker beyond its threads, per thread, in milliseconds of its recent tasks. */
export const QUEUED_WORK_MS = 2;
/** Most tasks a worker holds beyond its threads however short its tasks: a deeper queue balances worse. */
export const MAX_QUEUE_EXTRA = 32;
/** Shortest mean task time the queue depth believes, in ms (workers report whole milliseconds). */
const MIN_MEAN_TASK_MS = 0.01;
/** Weight of the newest task in a worker's moving average of task times. */
const MEAN_WEIGHT = 0.1;

/** Tasks `w` may hold beyond its threads; `fixed` (the `workerQueueExtra` option) when set. */
export function queueExtraFor(w: WorkerState, fixed: number | undefined): number {
  if (fixed !== undefined) return fixed;
  if (w.meanTaskMs === null) return WORKER_QUEUE_EXTRA;
  const short = Math.ceil((w.threads * QUEUED_WORK_MS) / Math.max(w.meanTaskMs, MIN_MEAN_TASK_MS));
  return Math.max(WORKER_QUEUE_EXTRA, Math.min(MAX_QUEUE_EXTRA, short));
}

/** `w` finished a task that took `ms` (already bounded). */
export function recordTaskTime(w: WorkerState, ms: number): void {
  w.meanTaskMs = w.meanTaskMs === null ? ms : w.meanTaskMs * (1 - MEAN_WEIGHT) + ms * MEAN_WEIGHT;
}
