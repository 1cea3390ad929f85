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
 * its own block, the rest of a block whose worker left or stopped taking tasks, a new block of the
 * tasks no worker has claimed yet, or, when none is left, the back half of the largest block still
 * waiting (the rest of that block stays contiguous). A task taken elsewhere (stolen, cancelled,
 * placed by the ready queue's own order) is skipped.
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
  readonly group: TaskGroup;
  readonly creator: string;
  readonly priority: number;
  readonly tasks: TaskState[];
  /** Of `tasks`, how many are queued now (a task queued twice counts twice): the run goes at 0. */
  queued: number;
  /** Index of the first task no block has claimed. */
  free: number;
  /** Tasks cut off the front so far: `base + i` is task i's place in the order the run was queued. */
  base: number;
  /** Tasks per thread in a block, fixed when the first block of a cut is claimed; 0 while none is. */
  perThread: number;
  readonly blocks: Map<WorkerState, Block>;
  /** Blocks whose worker left or stopped taking tasks: handed out before new ones are cut. */
  readonly orphans: Block[];
  /** `free` at which the next compaction is tried. */
  compactAt: number;
}

/** Only root tasks that placement would put anywhere: no inputs, no restrictions, not verified. */
export function isRootTask(t: TaskState): boolean {
  return t.deps.length === 0 && t.restrictions === null && t.verify <= 1 && !t.scattered;
}

export class RootBlocks {
  /** Runs of each group, by tenant then priority; a group's go with it when it is forgotten. */
  private readonly runs = new WeakMap<TaskGroup, Map<string, Map<number, Run>>>();
  /** The runs in which each worker holds a block. */
  private readonly blocksOf = new Map<WorkerState, Set<Run>>();
  /** Task references held in every run: bounded by the root tasks queued, however long a tenant trickles. */
  held = 0;

  /** A root task entered the ready queue. */
  add(t: TaskState): void {
    let byCreator = this.runs.get(t.group);
    if (!byCreator) this.runs.set(t.group, (byCreator = new Map<string, Map<number, Run>>()));
    let byPriority = byCreator.get(t.creator);
    if (!byPriority) byCreator.set(t.creator, (byPriority = new Map<number, Run>()));
    let run = byPriority.get(t.priority);
    if (!run) {
      run = {
        group: t.group,
        creator: t.creator,
        priority: t.priority,
        tasks: [],
        queued: 0,
        free: 0,
        base: 0,
        perThread: 0,
        blocks: new Map(),
        orphans: [],
        compactAt: COMPACT_AFTER,
      };
      byPriority.set(t.priority, run);
    }
    run.tasks.push(t);
    run.queued++;
    this.held++;
  }

  /** The run `t` was added to, if it is still kept. */
  private runOf(t: TaskState): Run | undefined {
    return this.runs.get(t.group)?.get(t.creator)?.get(t.priority);
  }

  /** A root task left the ready queue (placed, cancelled, released): once none of its run is queued, the run goes. */
  left(t: TaskState): void {
    const run = this.runOf(t);
    if (run && --run.queued <= 0) this.drop(run);
  }

  /** `w` left the cluster or takes no tasks now (paused, excluded): its blocks go to whoever asks next. */
  release(w: WorkerState): void {
    const runs = this.blocksOf.get(w);
    if (!runs) return;
    this.blocksOf.delete(w);
    for (const run of runs) {
      const b = run.blocks.get(w);
      run.blocks.delete(w);
      if (b && b.next < b.end) run.orphans.push(b);
    }
  }

  /**
   * The task `w` takes in place of `t`, the root task the ready queue gave it: `t` itself unless
   * blocks apply. `clusterThreads` counts the threads of every worker.
   */
  pick(t: TaskState, w: WorkerState, clusterThreads: number): TaskState {
    const run = this.runOf(t);
    if (!run) return t;
    const unclaimed = run.tasks.length - run.free;
    if (run.perThread === 0 && clusterThreads > w.threads && unclaimed >= MIN_ROOT_TASKS_PER_THREAD * clusterThreads) {
      // Even, so that blocks start at even places too (see the halving in `claim`).
      const perThread = Math.ceil(unclaimed / clusterThreads);
      run.perThread = perThread + (perThread % 2);
    }
    const chosen = run.perThread > 0 ? this.claim(run, w) : null;
    // Skip what no block will hand out any more.
    while (run.free < run.tasks.length && (run.tasks[run.free] as TaskState).status !== 'queued') run.free++;
    if (run.free >= run.compactAt) this.held -= compact(run);
    return chosen ?? t;
  }

  private drop(run: Run): void {
    const byCreator = this.runs.get(run.group);
    const byPriority = byCreator?.get(run.creator);
    if (byPriority?.get(run.priority) !== run) return;
    byPriority.delete(run.priority);
    if (byPriority.size === 0) byCreator?.delete(run.creator);
    this.held -= run.tasks.length;
    for (const w of run.blocks.keys()) this.unblock(run, w);
  }

  private setBlock(run: Run, w: WorkerState, b: Block): void {
    run.blocks.set(w, b);
    let runs = this.blocksOf.get(w);
    if (!runs) this.blocksOf.set(w, (runs = new Set()));
    runs.add(run);
  }

  private unblock(run: Run, w: WorkerState): void {
    run.blocks.delete(w);
    const runs = this.blocksOf.get(w);
    runs?.delete(run);
    if (runs?.size === 0) this.blocksOf.delete(w);
  }

  /** The next task of `w`'s block, taking over an orphan, a new block or half of another's when its own is done; null when none is left. */
  private claim(run: Run, w: WorkerState): TaskState | null {
    for (;;) {
      const own = run.blocks.get(w);
      if (own) {
        while (own.next < own.end) {
          const c = run.tasks[own.next++] as TaskState;
          if (c.status === 'queued' && allowed(c, w)) {
            if (own.next >= own.end) this.unblock(run, w);
            return c;
          }
        }
        this.unblock(run, w);
      }
      const orphan = run.orphans.pop();
      if (orphan) {
        this.setBlock(run, w, orphan);
        continue;
      }
      if (run.free < run.tasks.length) {
        const end = Math.min(run.tasks.length, run.free + run.perThread * w.threads);
        this.setBlock(run, w, { next: run.free, end });
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
      const end = block.end;
      let start = end - Math.ceil(most / 2);
      // Keep neighbours together: the half taken starts at an even place of the run's order
      // (pairs are what a reduction adds first), one task more or fewer than half.
      if ((run.base + start) % 2 === 1) start += start - 1 >= block.next ? -1 : start + 1 < end ? 1 : 0;
      block.end = start;
      if (block.next >= block.end) this.unblock(run, victim);
      this.setBlock(run, w, { next: start, end });
    }
  }
}

/**
 * Drops the tasks before every block and before the unclaimed ones (all handed out or gone), once
 * they are COMPACT_AFTER and half the list: each task is moved O(1) times on average, and the
 * blocks are scanned once per COMPACT_AFTER tasks handed out. Returns how many it dropped.
 */
function compact(run: Run): number {
  let cut = run.free;
  for (const b of run.blocks.values()) cut = Math.min(cut, b.next);
  for (const b of run.orphans) cut = Math.min(cut, b.next);
  run.compactAt = run.free + COMPACT_AFTER;
  if (cut < COMPACT_AFTER || cut * 2 < run.tasks.length) return 0;
  run.tasks.splice(0, cut);
  run.base += cut;
  run.free -= cut;
  run.compactAt -= cut;
  for (const b of [...run.blocks.values(), ...run.orphans]) {
    b.next -= cut;
    b.end -= cut;
  }
  return cut;
}
