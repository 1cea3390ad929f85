/**
 * Where a ready task runs: the worker on which it would start soonest, counting the bytes of
 * its inputs that would have to travel there and the work already queued on it (dask's
 * decide_worker). Kept apart from the state machine so the policy can be swapped.
 */
import { maxReplicas } from './verify.js';
import type { TaskState, WorkerState } from './types.js';

/** Bytes per millisecond assumed for moving a dependency between Node workers (their direct TCP link). */
export const ASSUMED_BANDWIDTH_BYTES_PER_MS = 200_000;
/**
 * Bytes per millisecond assumed when the move needs WebRTC (a browser tab at either end): data
 * channels ran ~15–50 MB/s here against ~300 MB/s for the TCP link (README, peer transfers).
 */
export const ASSUMED_WEBRTC_BANDWIDTH_BYTES_PER_MS = 20_000;

/** Milliseconds to bring `dep`'s value to `to`: 0 when it holds it; over TCP when a Node worker holds it and `to` is one, else over WebRTC. */
export function transferMs(dep: TaskState, to: WorkerState): number {
  if (dep.whoHas.has(to)) return 0;
  let direct = false;
  if (to.dataAddress !== null)
    for (const h of dep.whoHas)
      if (h.dataAddress !== null) {
        direct = true;
        break;
      }
  return FETCH_LATENCY_MS + dep.nbytes / (direct ? ASSUMED_BANDWIDTH_BYTES_PER_MS : ASSUMED_WEBRTC_BANDWIDTH_BYTES_PER_MS);
}
/** Fixed cost of fetching a dependency from another worker (a round trip), in milliseconds. */
export const FETCH_LATENCY_MS = 0.5;
/** Duration assumed for a task of a function never seen finishing, in milliseconds. */
export const DEFAULT_TASK_DURATION_MS = 1;
/** The longest task duration an estimate takes in (a day): reported times past it are clamped. */
export const MAX_RECORDED_TASK_DURATION_MS = 86_400_000;

/** Places tasks without `verify`; a verified task's replicas are placed by replicas.ts, whatever the policy. */
export interface PlacementPolicy {
  /** The best of `candidates` for `task`, or null if none may run it. */
  choose(task: TaskState, candidates: Iterable<WorkerState>): WorkerState | null;
}

/**
 * True when the task's restrictions let `worker` run it: `now` (the default) with the resources and
 * replica slots it has free at this moment; else ever, whatever it is busy with.
 */
export function allowed(task: TaskState, worker: WorkerState, now = true): boolean {
  if (worker.excluded) return false;
  // A verified task runs on workers that have not computed it yet, and have room for a replica.
  if (task.verify > 1) {
    if (task.replicas?.votes.some((v) => v.worker === worker)) return false;
    if (now && worker.replicas >= maxReplicas(worker)) return false;
  }
  const r = task.restrictions;
  const pinned = r?.workers !== undefined && !r.allowOtherWorkers;
  // A worker whose copy of this value a peer surely found missing or wrong makes it again only when it must.
  if (!pinned && task.shunned?.includes(worker)) return false;
  // Nor does a worker that held it past its lease: a copy runs there already (leases.ts; a
  // replica was taken back, so its worker may run the next one).
  if (task.verify <= 1 && task.stragglers?.includes(worker)) return false;
  if (!r) return true;
  if (pinned && !r.workers?.some((w) => w === worker.id || w === worker.name)) return false;
  if (r.resources) {
    for (const [name, amount] of Object.entries(r.resources)) {
      const used = now ? (worker.resourcesUsed[name] ?? 0) : 0;
      if ((worker.resources[name] ?? 0) - used < amount) return false;
    }
  }
  return true;
}

export class LocalityPlacement implements PlacementPolicy {
  private turn = 0;
  constructor(private readonly durationOf: (fnName: string) => number) {}

  choose(task: TaskState, candidates: Iterable<WorkerState>): WorkerState | null {
    const duration = this.durationOf(task.fnName);
    const preferred = task.restrictions?.workers;
    let best: WorkerState | null = null;
    let bestCost = Infinity;
    let bestPreferred = false;
    const start = this.turn++;
    let i = 0;
    for (const w of candidates) {
      i++;
      if (!allowed(task, w)) continue;
      const isPreferred = preferred?.some((p) => p === w.id || p === w.name) ?? false;
      let cost = ((w.processing.size + w.overdue.size + 1) / w.threads) * duration;
      for (const dep of task.deps) cost += transferMs(dep, w);
      // Rotate ties so that equal workers share root tasks evenly.
      cost += ((i + start) % 64) * 1e-9;
      // `best === null`: the first allowed worker is taken even if a cost is not a finite number.
      if (best === null || (isPreferred && !bestPreferred) || (isPreferred === bestPreferred && cost < bestCost)) {
        best = w;
        bestCost = cost;
        bestPreferred = isPreferred;
      }
    }
    return best;
  }
}
