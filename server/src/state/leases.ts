/**
 * Leases: how long a worker may hold a task. A worker that holds one past its lease (a throttled
 * tab, a phone, a machine gone quiet, or a stranger that takes tasks and never answers) does not
 * keep it: when another worker has room, the task also runs there, speculatively
 * (MapReduce's backup tasks), while the first copy goes on. The first result wins; every other
 * copy is cancelled (`free-keys`). A copy overtaken by a later one is a race lost by its worker;
 * a worker that lost RACES_LOST_TO_EXCLUDE races, and more races than it finished tasks, gets no
 * more tasks (it takes work and does not do it). Lost races are not `suspicions` (those are for
 * wrong bytes): an honest slow volunteer, or one whose leases a liar shortened (durations are
 * reported by workers), finishes most of what it takes and stays. A copy that wins, though late,
 * costs its worker nothing: the task was slow, not it.
 *
 * A lease starts when the task is sent and lasts LEASE_DURATIONS × the time the task's group took
 * so far (its moving mean, see `durationOf`), per turn of the worker's threads the task waits for
 * there, plus the time to fetch its inputs; at least LEASE_MIN_MS, at most LEASE_MAX_MS;
 * LEASE_UNKNOWN_MS while no task of the group has finished; with `timeoutMs`, at most that per
 * turn plus LEASE_TIMEOUT_GRACE_MS (past it an honest worker has given up on the task). Each
 * further copy of a task gets twice the lease of the one before. At most 1 + MAX_SPECULATIONS
 * copies run at once: past that, the oldest copy is cancelled when a new one starts (its worker
 * lost the race), so workers that never answer cannot hold a task by holding all its copies,
 * while the doubling lease lets a task that is slow everywhere finish.
 *
 * A verified task's replica held past its lease is taken back at once (only the worker a replica
 * is processing on votes, see verify.ts); its worker may be given the next replica.
 *
 * Tasks waiting on tasks of their own (seceded, see `taskSeceded`) give their thread away, so a
 * worker could otherwise take any number: at most SECEDED_PER_THREAD per thread it declared are
 * counted so, and leases run for seceded tasks too (a copy of a seceded task waits on the same
 * tasks, so it costs little).
 */
import type { WireError } from '@meshwork/protocol';
import { Dispatcher } from './dispatch.js';
import type { Emit } from './emit.js';
import type { SchedulerOptions } from './lifecycle.js';
import { allowed, transferMs } from './placement.js';
import { SUSPICIONS_TO_EXCLUDE } from './verify.js';
import type { TaskState, WorkerState } from './types.js';

/** Shortest lease, in milliseconds: tasks of a few ms do not get a copy for every hiccup of a loaded machine. */
export const LEASE_MIN_MS = 10_000;
/** Lease of a task whose group has no finished run yet (its time is unknown), in milliseconds. */
export const LEASE_UNKNOWN_MS = 30_000;
/** Longest lease from a group's durations, in milliseconds (they are reported by workers). */
export const LEASE_MAX_MS = 3_600_000;
/** A lease is this many times the group's mean duration (per turn of the worker's threads). */
export const LEASE_DURATIONS = 4;
/** With `timeoutMs`, the lease is at most that per turn plus this, in milliseconds. */
export const LEASE_TIMEOUT_GRACE_MS = 2_000;
/** Copies of a task that run at once beyond the newest, at most; past this the oldest is cancelled. */
export const MAX_SPECULATIONS = 2;
/** Races lost (copies overtaken) from which a worker that lost more races than it finished tasks is excluded. */
export const RACES_LOST_TO_EXCLUDE = 8;
/** Seceded tasks a worker may hold per thread it declared; past this a secede is not counted (the task keeps its thread). */
export const SECEDED_PER_THREAD = 4;

export interface LeaseOptions {
  /** LEASE_MIN_MS unless set. */
  leaseMinMs?: number;
  /** LEASE_UNKNOWN_MS unless set. */
  leaseUnknownMs?: number;
}

export abstract class Leasing extends Dispatcher {
  /** Tasks processing on a worker → when their lease ends (the scheduler's clock). */
  private readonly leases = new Map<TaskState, number>();
  /** Tasks with stragglers → copies made of them so far (each doubles the next lease). */
  private readonly copies = new Map<TaskState, number>();
  /** Copies run because an earlier one was held past its lease, since start; and races lost. */
  readonly speculation = { copies: 0, racesLost: 0 };
  private readonly leaseMin: number;
  private readonly leaseUnknown: number;

  constructor(emit: Emit, options: SchedulerOptions = {}) {
    super(emit, options);
    this.leaseMin = options.leaseMinMs ?? LEASE_MIN_MS;
    this.leaseUnknown = options.leaseUnknownMs ?? LEASE_UNKNOWN_MS;
  }

  /** How long `w` may hold `t`, sent to it now (before `t` is counted in its `processing`). */
  leaseMs(t: TaskState, w: WorkerState): number {
    const turns = 1 + Math.floor((w.processing.size + w.overdue.size) / Math.max(1, w.threads));
    const mean = this.durations.get(t.fnName);
    let ms = this.leaseUnknown;
    if (mean !== undefined) {
      let fetch = 0;
      for (const d of t.deps) fetch += transferMs(d, w);
      ms = Math.min(LEASE_MAX_MS, Math.max(this.leaseMin, LEASE_DURATIONS * mean * turns + fetch));
    }
    if (t.timeoutMs !== undefined) ms = Math.min(ms, t.timeoutMs * turns + LEASE_TIMEOUT_GRACE_MS);
    return ms * 2 ** (this.copies.get(t) ?? 0);
  }

  protected override assign(t: TaskState, w: WorkerState): void {
    // A worker whose replica was taken back may run the next one: it is no straggler then.
    if (t.stragglers !== null && t.verify > 1) this.dropStraggler(t, w);
    this.leases.set(t, this.now() + this.leaseMs(t, w));
    super.assign(t, w);
  }

  protected override unassign(t: TaskState): void {
    this.leases.delete(t);
    super.unassign(t);
  }

  /** Runs again elsewhere every task held past its lease (see the file's comment); call it now and then (the server: every second). */
  checkLeases(): void {
    if (this.leases.size === 0) return;
    const now = this.now();
    const expired: TaskState[] = [];
    for (const [t, until] of this.leases) if (until <= now) expired.push(t);
    // Room on workers (what dispatch could not fill: no never-started work is waiting for it), used
    // up by the copies this pass starts (more would only queue ahead of later work).
    const spare = new Map<WorkerState, number>();
    let copied = false;
    for (const t of expired) copied = this.speculate(t, now, spare) || copied;
    if (copied) this.dispatch();
  }

  /** A copy of `t`, held past its lease, runs elsewhere when a worker has room for it; else it is looked at again later. */
  private speculate(t: TaskState, now: number, spare: Map<WorkerState, number>): boolean {
    const w = t.processingOn;
    if (!w) return (void this.leases.delete(t), false);
    let free = false;
    for (const o of this.roomy) {
      if (o === w || this.workers.get(o.id) !== o || !allowed(t, o)) continue;
      const left = spare.get(o) ?? this.capacity(o) - o.processing.size - o.overdue.size;
      if (left <= 0) continue;
      spare.set(o, left - 1);
      free = true;
      break;
    }
    if (!free) {
      // No copy may start now (every worker busy, or none may run it): a copy does not jump the queue.
      this.leases.set(t, now + this.leaseMin);
      return false;
    }
    this.speculation.copies++;
    this.copies.set(t, (this.copies.get(t) ?? 0) + 1);
    this.unassign(t);
    const stragglers = (t.stragglers ??= []);
    if (stragglers.length >= MAX_SPECULATIONS) {
      // The oldest copy goes, and its worker does not get the task again (one that never answers
      // would otherwise take it back: the copies would go round the same silent workers).
      const oldest = stragglers.shift() as WorkerState;
      this.cancelCopy(t, oldest, true);
      this.shun(t, oldest);
    }
    stragglers.push(w);
    if (t.verify > 1) {
      // A replica cannot be won by a late copy (it could not vote): it is taken back now.
      this.emit.worker(w.id, { type: 'free-keys', keys: [t.key] });
    } else {
      w.overdue.add(t); // it still runs there, on a thread the scheduler does not hand out again
      this.updateRoom(w);
    }
    this.reschedule(t);
    return true;
  }

  /** `t` settles on `w`'s result: every other copy is cancelled, and those started before the winning one lost a race. */
  protected override store(
    t: TaskState,
    w: WorkerState,
    nbytes: number,
    value: Uint8Array | undefined,
    hash: string | undefined,
  ): void {
    if (t.stragglers !== null) {
      const at = t.stragglers.indexOf(w);
      this.dropStragglers(t, at === -1 ? t.stragglers.length : at, w);
    } else if (this.copies.size > 0) {
      this.copies.delete(t);
    }
    super.store(t, w, nbytes, value, hash);
  }

  /** Cancels the copies of `t` its stragglers run (but the `winner`'s); the first `overtaken` of them lost a race. */
  private dropStragglers(t: TaskState, overtaken = 0, winner?: WorkerState): void {
    const stragglers = t.stragglers ?? [];
    t.stragglers = null;
    this.copies.delete(t);
    stragglers.forEach((s, i) => (s === winner ? this.stopCopy(t, s) : this.cancelCopy(t, s, i < overtaken)));
  }

  /** Cancels `s`'s copy of `t` (a replica was cancelled when it was taken back); `lost`: it was overtaken. */
  private cancelCopy(t: TaskState, s: WorkerState, lost: boolean): void {
    if (t.verify <= 1) this.emit.worker(s.id, { type: 'free-keys', keys: [t.key] });
    this.stopCopy(t, s);
    if (lost) this.lostRace(s);
  }

  /** `s`'s copy of `t` no longer runs: its thread is free. */
  private stopCopy(t: TaskState, s: WorkerState): void {
    if (s.overdue.delete(t)) this.updateRoom(s);
  }

  /** `s`'s copy of `t` stopped by itself (it erred, gave the task back, could not fetch an input, or `s` left): it races no more. */
  protected dropStraggler(t: TaskState, s: WorkerState): void {
    const i = t.stragglers?.indexOf(s) ?? -1;
    if (i === -1 || !t.stragglers) return;
    t.stragglers.splice(i, 1);
    if (t.stragglers.length === 0) t.stragglers = null;
    this.stopCopy(t, s);
  }

  /** `s`'s copy was overtaken; many such, and more than it finished, and it gets no more tasks. */
  private lostRace(s: WorkerState): void {
    this.speculation.racesLost++;
    s.racesLost++;
    if (s.racesLost >= RACES_LOST_TO_EXCLUDE && s.racesLost > s.tasksDone && !s.excluded) {
      s.excluded = true;
      this.updateRoom(s);
    }
  }

  protected override fail(root: TaskState, error: WireError): void {
    super.fail(root, error);
    this.dropSettledStragglers(root);
  }

  protected override maybeRelease(t: TaskState): void {
    super.maybeRelease(t);
    if (this.copies.size > 0 && t.status === 'released') this.dropStragglers(t);
  }

  override stealResponse(workerId: string, key: string, ok: boolean): void {
    const t = this.tasks.get(key);
    const w = this.workers.get(workerId);
    // A straggler that gave its copy back (a steal asked before its lease ended) no longer runs it.
    if (ok && t && w && t.processingOn !== w) this.dropStraggler(t, w);
    super.stealResponse(workerId, key, ok);
  }

  /** Failed tasks downstream of `root` (and it) that had stragglers: their copies are cancelled. */
  private dropSettledStragglers(root: TaskState): void {
    const stack = [root];
    const seen = new Set<TaskState>();
    while (stack.length > 0) {
      const t = stack.pop() as TaskState;
      if (seen.has(t) || t.status !== 'erred') continue;
      seen.add(t);
      if (this.copies.has(t)) this.dropStragglers(t);
      for (const d of t.dependents) stack.push(d);
    }
  }

  /** One more suspicion against `w`; past SUSPICIONS_TO_EXCLUDE it gets no more tasks. */
  protected suspect(w: WorkerState): void {
    w.suspicions++;
    if (w.suspicions >= SUSPICIONS_TO_EXCLUDE && !w.excluded) {
      w.excluded = true;
      this.updateRoom(w);
    }
  }

  /** `w` makes `t` again only when it must (its copy was found bad, or it lost `t`'s race for good). */
  protected shun(t: TaskState, w: WorkerState): void {
    if (!(t.shunned ??= []).includes(w)) t.shunned.push(w);
    // Never shun every worker: the value must be made somewhere (the latest shunned stays so).
    if (t.shunned.length >= this.workers.size) t.shunned = [w];
  }

  /** Seceded tasks `w` may hold (see SECEDED_PER_THREAD). */
  protected maxSeceded(w: WorkerState): number {
    return SECEDED_PER_THREAD * Math.max(1, w.threads);
  }
}
