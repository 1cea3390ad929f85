/**
 * Co-assignment of root tasks (dask's `decide_worker` for root-ish tasks before its queuing): many
 * tasks without inputs, of one function, one tenant and one priority, go to the workers in
 * contiguous blocks of their submission order. Neighbours in that order are what a reduction
 * combines (`add(x[0], x[1])`, then pairs of those), so with blocks they sit on one worker and
 * their results do not travel; handed out one by one in order, every second task went to the
 * other worker and a tree reduction of 16 × 8 MB moved ~12 of its 15 additions' inputs.
 *
 * The ready queue still decides which tenant goes next and that a root task runs now; this only
 * decides which of that tenant's root tasks of the same kind the chosen worker gets: the next of
 * its own block, a new block of the tasks no worker has claimed yet, or, when none is left, the
 * back half of the largest block still waiting (the rest of that block stays contiguous). A task
 * taken elsewhere (stolen, cancelled, placed by the ready queue's own order) is skipped.
 */
import { allowed } from './placement.js';
import type { TaskGroup, TaskState, WorkerState } from './types.js';

/** Blocks are cut only when at least this many root tasks per thread in the cluster wait unclaimed (dask: 2). */
export const MIN_ROOT_TASKS_PER_THREAD = 2;
/** Tasks handed out before the front of a run's list is cut off (a steady trickle never empties it). */
export const COMPACT_AFTER = 1024;
/** Most blocks looked at when taking the back half of one. */
export const BLOCK_STEAL_SCAN_LIMIT = 32;

interface Block {
  /** Index in `Run.tasks` of the next task to hand out. */
  next: number;
  /** Index past the block's last task. */
  end: number;
}

/** The root tasks of one group, tenant and priority, in the order they were queued. */
interface Run {
  readonly tasks: TaskState[];
  /** Index of the first task no block has claimed. */
  free: number;
  /** Tasks per thread in a block, fixed when the first block of a cut is claimed; 0 while none is. */
  perThread: number;
  readonly blocks: Map<WorkerState, Block>;
  /** `free` at which the next compaction is tried. */
  compactAt: number;
}

/** Only root tasks that placement would put anywhere: no inputs, no restrictions, not verified. */
export function isRootTask(t: TaskState): boolean {
  return t.deps.length === 0 && t.restrictions === null && t.verify <= 1 && !t.scattered;
}

export class RootBlocks {
  /** Runs of each group, by tenant and priority; a group's go with it when it is forgotten. */
  private readonly runs = new WeakMap<TaskGroup, Map<string, Run>>();
  /** Task references held in every run: bounded however long a tenant trickles tasks in. */
  held = 0;

  /** A root task entered the ready queue. */
  add(t: TaskState): void {
    let byKey = this.runs.get(t.group);
    if (!byKey) this.runs.set(t.group, (byKey = new Map<string, Run>()));
    const key = runKey(t);
    let run = byKey.get(key);
    if (!run) byKey.set(key, (run = { tasks: [], free: 0, perThread: 0, blocks: new Map(), compactAt: COMPACT_AFTER }));
    run.tasks.push(t);
    this.held++;
  }

  /**
   * The task `w` takes in place of `t`, the root task the ready queue gave it: `t` itself unless
   * blocks apply. `clusterThreads` counts the threads of every worker.
   */
  pick(t: TaskState, w: WorkerState, clusterThreads: number): TaskState {
    const byKey = this.runs.get(t.group);
    const key = runKey(t);
    const run = byKey?.get(key);
    if (!byKey || !run) return t;
    let chosen: TaskState | null = null;
    const unclaimed = run.tasks.length - run.free;
    if (run.perThread === 0 && clusterThreads > w.threads && unclaimed >= MIN_ROOT_TASKS_PER_THREAD * clusterThreads) {
      run.perThread = Math.ceil(unclaimed / clusterThreads);
    }
    if (run.perThread > 0) chosen = claim(run, w);
    // Skip what no block will hand out any more; forget the run once nothing of it is left.
    while (run.free < run.tasks.length && (run.tasks[run.free] as TaskState).status !== 'queued') run.free++;
    if (run.free >= run.tasks.length && run.blocks.size === 0) {
      byKey.delete(key);
      this.held -= run.tasks.length;
    } else if (run.free >= run.compactAt) {
      this.held -= compact(run);
    }
    return chosen ?? t;
  }
}

function runKey(t: TaskState): string {
  return `${t.priority} ${t.creator}`;
}

/**
 * Drops the tasks before every block and before the unclaimed ones (all handed out or gone), once
 * they are COMPACT_AFTER and half the list: each task is moved O(1) times on average, and the
 * blocks are scanned once per COMPACT_AFTER tasks handed out. Returns how many it dropped.
 */
function compact(run: Run): number {
  let cut = run.free;
  for (const b of run.blocks.values()) cut = Math.min(cut, b.next);
  run.compactAt = run.free + COMPACT_AFTER;
  if (cut < COMPACT_AFTER || cut * 2 < run.tasks.length) return 0;
  run.tasks.splice(0, cut);
  run.free -= cut;
  run.compactAt -= cut;
  for (const b of run.blocks.values()) {
    b.next -= cut;
    b.end -= cut;
  }
  return cut;
}

/** The next task of `w`'s block, claiming a new block or half of another's when its own is done; null when none is left. */
function claim(run: Run, w: WorkerState): TaskState | null {
  for (;;) {
    const own = run.blocks.get(w);
    if (own) {
      while (own.next < own.end) {
        const c = run.tasks[own.next++] as TaskState;
        if (c.status === 'queued' && allowed(c, w)) {
          if (own.next >= own.end) run.blocks.delete(w);
          return c;
        }
      }
      run.blocks.delete(w);
    }
    if (run.free < run.tasks.length) {
      const end = Math.min(run.tasks.length, run.free + run.perThread * w.threads);
      run.blocks.set(w, { next: run.free, end });
      run.free = end;
      continue;
    }
    let victim: WorkerState | undefined;
    let most = 0;
    let n = 0;
    for (const [v, b] of run.blocks) {
      if (n++ >= BLOCK_STEAL_SCAN_LIMIT) break;
      if (b.end - b.next > most) {
        most = b.end - b.next;
        victim = v;
      }
    }
    if (!victim) {
      run.perThread = 0; // every block is done: the next tasks start a new cut
      return null;
    }
    const block = run.blocks.get(victim) as Block;
    const take = Math.ceil(most / 2);
    block.end -= take;
    if (block.next >= block.end) run.blocks.delete(victim);
    run.blocks.set(w, { next: block.end, end: block.end + take });
  }
}
