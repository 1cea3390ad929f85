/**
 * Handing ready tasks to workers: admission (a worker holds at most threads + a small buffer;
 * the rest wait here, so new and idle workers can take them), placement, and work stealing of
 * tasks that wait in a busy worker's buffer while another worker idles.
 */
import { allowed, transferMs } from './placement.js';
import { chooseReplica } from './replicas.js';
import { isRootTask, RootBlocks } from './root-blocks.js';
import { Roster } from './roster.js';
import { maxReplicas } from './verify.js';
import { Lifecycle, type QueueEntry } from './lifecycle.js';
import type { TaskState, TaskStatus, WorkerState } from './types.js';

/**
 * Above twice this many workers with room, an unrestricted task is placed among the holders of
 * its inputs and at most this many workers with a free thread and this many with room, instead
 * of among all of them: placement stays O(1) per task with 1,000 workers (bench/scale).
 */
export const PLACEMENT_SCAN_LIMIT = 16;
/**
 * Tasks a worker may hold beyond its admission limit when it holds inputs of the task being
 * placed. dask sends a task with inputs straight to a holder without queuing it; here such a task
 * could only go to a worker with room, so when the holder was busy its inputs travelled (11–27 of
 * a tree reduction's 31 tasks fetched 8 MB). Bounded, so one client's graph still cannot fill a
 * worker's queue ahead of everyone else's.
 */
export const HOLDER_QUEUE_EXTRA = 4;
/** Most busy workers looked at for a task to steal, per event. */
export const STEAL_SCAN_LIMIT = 32;

export abstract class Dispatcher extends Lifecycle {
  /** Ready tasks that no worker with room may run now (restrictions, resources); retried when that may change. */
  private parked: QueueEntry[] = [];
  /** Parked replicas of verified tasks, oldest first: put back a few at a time as replica slots free (`unparkRunnable`). */
  private parkedReplicas: QueueEntry[] = [];
  /** Live workers with room and a free thread (kept by updateRoom). */
  private readonly idle = new Roster<WorkerState>();
  /** Tasks with a steal-request out → the idle worker each is stolen for (a few at a time). */
  private readonly thieves = new Map<TaskState, WorkerState>();
  /** Live workers holding tasks beyond their threads: whom idle workers may steal from. */
  private readonly overloaded = new Roster<WorkerState>();
  /** Which root task a worker gets: blocks of neighbours (root-blocks.ts). */
  private readonly rootBlocks = new RootBlocks();
  /** Threads of every live worker. */
  protected clusterThreads = 0;

  protected override enqueue(t: TaskState): void {
    super.enqueue(t);
    if (isRootTask(t)) this.rootBlocks.add(t);
  }

  protected override setStatus(t: TaskState, status: TaskStatus): void {
    if (t.status === 'queued' && status !== 'queued' && isRootTask(t)) this.rootBlocks.left(t);
    super.setStatus(t, status);
  }

  /** Task references the root blocks hold: bounded by the root tasks queued (tests watch it). */
  get rootTasksHeld(): number {
    return this.rootBlocks.held;
  }

  /** `w` left: the rest of its blocks go to whoever asks next. */
  protected releaseBlocks(w: WorkerState): void {
    this.rootBlocks.release(w);
  }

  protected override unassign(t: TaskState): void {
    this.thieves.delete(t);
    if (t.verify > 1 && t.processingOn) t.processingOn.replicas--;
    super.unassign(t);
  }

  protected override assign(t: TaskState, w: WorkerState): void {
    if (t.verify > 1) {
      // A replica counts against the worker's trusted threads, and the worker is asked for a result again.
      w.replicas++;
      const returned = t.replicas?.returned;
      if (returned?.includes(w)) returned.splice(returned.indexOf(w), 1);
    }
    super.assign(t, w);
  }

  protected override updateRoom(w: WorkerState): void {
    super.updateRoom(w);
    const live = this.workers.get(w.id) === w;
    if (!live || w.paused || w.excluded) this.rootBlocks.release(w);
    if (live && this.roomy.has(w) && w.processing.size + w.overdue.size < w.threads) this.idle.add(w);
    else this.idle.delete(w);
    if (live && w.processing.size > w.threads) this.overloaded.add(w);
    else this.overloaded.delete(w);
  }

  /**
   * Where `t` may go: every worker with room, or for an unrestricted task on a big cluster a
   * bounded sample; and the holders of its inputs while they are within HOLDER_QUEUE_EXTRA of room.
   */
  private candidatesFor(t: TaskState): Iterable<WorkerState> {
    const base = this.roomyCandidates(t);
    if (t.deps.length === 0) return base;
    let out: Set<WorkerState> | undefined;
    for (const d of t.deps)
      for (const h of d.whoHas)
        if (!this.roomy.has(h) && this.holderHasRoom(h)) (out ??= new Set(base)).add(h);
    return out ?? base;
  }

  private holderHasRoom(w: WorkerState): boolean {
    return this.workers.get(w.id) === w && !w.paused && !w.excluded && w.processing.size + w.overdue.size < this.capacity(w) + HOLDER_QUEUE_EXTRA;
  }

  private roomyCandidates(t: TaskState): Iterable<WorkerState> {
    if (t.restrictions || this.roomy.size <= 2 * PLACEMENT_SCAN_LIMIT) return this.roomy;
    const out = new Set<WorkerState>();
    for (const d of t.deps) for (const h of d.whoHas) if (this.roomy.has(h)) out.add(h);
    let n = 0;
    for (const w of this.idle) {
      if (n++ >= PLACEMENT_SCAN_LIMIT) break;
      if (this.roomy.has(w)) out.add(w);
    }
    n = 0;
    for (const w of this.roomy) {
      if (n++ >= PLACEMENT_SCAN_LIMIT) break;
      out.add(w);
    }
    return out;
  }

  protected unpark(): void {
    for (const e of this.parked) this.ready.push(e);
    for (const e of this.parkedReplicas) this.ready.push(e);
    this.parked = [];
    this.parkedReplicas = [];
  }

  /** Hands queued tasks, highest priority first, to workers with room; then balances by stealing. */
  protected dispatch(): void {
    // No scan of these is under way here: rebuild any that churn left full of holes (roster.ts).
    this.roomy.compact();
    this.idle.compact();
    this.overloaded.compact();
    // Parked tasks (no worker with room could run them when they were parked) go round again when
    // one may run on a worker with room now; after that only while a round places something: a
    // round that placed nothing would place nothing the next time either (a cost that is not a
    // number once made this recurse until the stack overflowed).
    for (let round = 0; ; round++) {
      let placed = false;
      // Whether some worker with room may take a replica of a verified task; unknown until one is met.
      let replicaRoom: boolean | undefined;
      while (this.ready.size > 0 && this.roomy.size > 0) {
        const entry = this.ready.pop();
        if (!entry) break; // every entry left was void (the queue drops them: lifecycle.ts)
        let t = entry.task;
        let w: WorkerState | null;
        if (t.verify > 1) {
          // Every worker with room, not a sample: a replica may need the one of an address that has not voted.
          replicaRoom ??= [...this.roomy].some((x) => x.replicas < maxReplicas(x));
          w = replicaRoom ? chooseReplica(t, this.roomy, this.workers.values(), this.random) : null;
          if (w) replicaRoom = undefined;
        } else {
          w = this.placement.choose(t, this.candidatesFor(t));
        }
        if (w && isRootTask(t)) {
          // Another root task of the same kind may suit this worker better; `t` keeps its place.
          const instead = this.rootBlocks.pick(t, w, this.clusterThreads);
          if (instead !== t) {
            this.ready.push(entry);
            t = instead;
          }
        }
        if (w) {
          this.assign(t, w);
          placed = true;
        } else {
          (t.verify > 1 ? this.parkedReplicas : this.parked).push(entry);
        }
      }
      const again = round === 0 || placed;
      const parked = this.parked.length + this.parkedReplicas.length;
      if (!again || this.ready.size > 0 || parked === 0 || this.roomy.size === 0 || !this.unparkRunnable())
        break;
    }
    if (this.ready.size === 0) this.steal();
  }

  /**
   * Puts back in the ready queue the parked tasks that may run on a worker with room now, and of
   * the parked replicas, oldest first, no more than there are free replica slots (thousands would
   * otherwise be popped and parked again each time one slot frees); true when it put back any.
   */
  private unparkRunnable(): boolean {
    const roomy = [...this.roomy];
    const runs = (e: QueueEntry): boolean => roomy.some((w) => allowed(e.task, w));
    const live = (e: QueueEntry): boolean => e.task.status === 'queued' && e.task.queueEpoch === e.epoch;
    const back: QueueEntry[] = [];
    const stay: QueueEntry[] = [];
    for (const e of this.parked) if (live(e)) (runs(e) ? back : stay).push(e);
    this.parked = stay;
    let slots = 0;
    for (const w of roomy) slots += Math.max(0, maxReplicas(w) - w.replicas);
    const kept: QueueEntry[] = [];
    let i = 0;
    for (; i < this.parkedReplicas.length && slots > 0; i++) {
      const e = this.parkedReplicas[i] as QueueEntry;
      if (!live(e)) continue;
      if (runs(e)) {
        back.push(e);
        slots--;
      } else {
        kept.push(e);
      }
    }
    if (kept.length === 0) this.parkedReplicas.splice(0, i);
    else this.parkedReplicas = kept.concat(this.parkedReplicas.slice(i));
    for (const e of back) this.ready.push(e);
    return back.length > 0;
  }

  /**
   * A worker with an idle thread while another holds tasks beyond its threads: ask the busy one
   * to give back its most recently sent task, if moving that task's inputs costs less than
   * waiting for it there.
   */
  private steal(): void {
    if (this.idle.size === 0 || this.overloaded.size === 0) return;
    let idle: WorkerState | undefined;
    for (const w of this.idle) {
      if (this.workers.get(w.id) === w && this.roomy.has(w) && w.processing.size + w.overdue.size < w.threads) {
        idle = w;
        break;
      }
      this.idle.delete(w); // left the cluster since
    }
    if (!idle) return;
    let victim: WorkerState | undefined;
    let most = 0;
    let n = 0;
    for (const w of this.overloaded) {
      if (n++ >= STEAL_SCAN_LIMIT) break;
      if (this.workers.get(w.id) !== w) {
        this.overloaded.delete(w);
        continue;
      }
      const excess = w.processing.size - w.threads;
      if (excess > most) {
        most = excess;
        victim = w;
      }
    }
    if (!victim) return;
    const queued = [...victim.processing].slice(victim.threads).reverse();
    for (const t of queued) {
      // A verified replica stays where replicas.ts put it: the idle worker may be the one it avoided.
      if (t.stealing || t.verify > 1 || !allowed(t, idle)) continue;
      if (this.moveCost(t, idle) >= this.waitCost(t, victim)) continue;
      t.stealing = true;
      this.thieves.set(t, idle);
      this.emit.worker(victim.id, { type: 'steal-request', key: t.key });
      return;
    }
  }

  private moveCost(t: TaskState, to: WorkerState): number {
    let ms = 0;
    for (const d of t.deps) ms += transferMs(d, to);
    return ms;
  }

  private waitCost(t: TaskState, on: WorkerState): number {
    return (on.processing.size / on.threads) * this.durationOf(t.fnName);
  }

  /**
   * The worker answered a steal-request: a task it gave back goes to the idle worker it was
   * stolen for (as dask's stealing moves a task to its thief), else to the ready queue. Not to
   * placement: it weighs the victim's queue, one task shorter now, against the move, and could
   * send the task straight back to its busy holder, to be stolen again, for ever.
   */
  stealResponse(workerId: string, key: string, ok: boolean): void {
    const t = this.tasks.get(key);
    if (!t || t.processingOn?.id !== workerId || !t.stealing) return;
    const thief = this.thieves.get(t);
    t.stealing = false;
    if (!ok) return void this.thieves.delete(t);
    this.unassign(t);
    this.reschedule(t);
    if (t.status === 'queued' && thief && this.workers.get(thief.id) === thief && this.roomy.has(thief) && allowed(t, thief)) {
      t.queueEpoch++; // its entry in the ready queue is void
      this.assign(t, thief);
    }
    this.dispatch();
  }
}
