/**
 * Leases: how long a worker may hold a task. A worker that holds one past its lease (a throttled
 * tab, a phone, a machine gone quiet, or a stranger that takes tasks and never answers) does not
 * keep it: the task is run again elsewhere, speculatively (MapReduce's backup tasks), while the
 * first copy goes on. The first result wins; every other copy is cancelled (`free-keys`). A copy
 * that was overtaken by a later one, on a worker that had held it past its lease, is a lost race:
 * that worker is suspected (SUSPICIONS_TO_EXCLUDE lost races or outvoted results, and it gets no
 * more tasks). A copy that wins, though late, costs its worker nothing: the task was slow, not it.
 *
 * A lease starts when the task is sent and lasts LEASE_DURATIONS × the time the task's group took
 * so far (its moving mean, see `durationOf`), per turn of the worker's threads the task waits for
 * there, plus the time to fetch its inputs; at least LEASE_MIN_MS; LEASE_UNKNOWN_MS while no task
 * of the group has finished; with `timeoutMs`, at most that per turn plus LEASE_TIMEOUT_GRACE_MS
 * (past it an honest worker has given up on the task). Each further copy of a task gets twice the
 * lease of the one before, and a task has at most MAX_SPECULATIONS copies beyond its first, so a
 * task slow everywhere runs at most 1 + MAX_SPECULATIONS times at once and then waits.
 *
 * A verified task's replica held past its lease is taken back at once (its worker cannot vote on
 * it any more: votes come only from the worker a replica is processing on, see verify.ts).
 *
 * Tasks waiting on tasks of their own (seceded, see `taskSeceded`) give their thread away, so a
 * worker could otherwise take any number: at most SECEDED_PER_THREAD per thread it declared are
 * counted so, and leases run for seceded tasks too.
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
/** Copies of a task run beyond its first because earlier ones were held past their lease, at most. */
export const MAX_SPECULATIONS = 2;
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
    const turns = 1 + Math.floor((w.processing.size + w.overdue) / Math.max(1, w.threads));
    const mean = this.durations.get(t.fnName);
    let ms = this.leaseUnknown;
    if (mean !== undefined) {
      let fetch = 0;
      for (const d of t.deps) fetch += transferMs(d, w);
      ms = Math.min(LEASE_MAX_MS, Math.max(this.leaseMin, LEASE_DURATIONS * mean * turns + fetch));
    }
    if (t.timeoutMs !== undefined) ms = Math.min(ms, t.timeoutMs * turns + LEASE_TIMEOUT_GRACE_MS);
    return ms * 2 ** (t.stragglers?.length ?? 0);
  }

  protected override assign(t: TaskState, w: WorkerState): void {
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
    for (const t of expired) this.speculate(t, now);
    if (expired.length > 0) this.dispatch();
  }

  private speculate(t: TaskState, now: number): void {
    const w = t.processingOn;
    if (!w) return void this.leases.delete(t);
    const others = [...this.workers.values()].some(
      (o) => o !== w && !t.stragglers?.includes(o) && allowed(t, o, false),
    );
    if ((t.stragglers?.length ?? 0) >= MAX_SPECULATIONS || !others) {
      // No further copy may run (yet): it stays where it is; a worker may join meanwhile.
      this.leases.set(t, now + this.leaseMin);
      return;
    }
    this.speculation.copies++;
    this.unassign(t);
    (t.stragglers ??= []).push(w);
    if (t.verify > 1) {
      // A replica cannot be won by a late copy (it could not vote): it is taken back now.
      this.emit.worker(w.id, { type: 'free-keys', keys: [t.key] });
    } else {
      w.overdue++; // it still runs there, on a thread the scheduler does not hand out again
      this.updateRoom(w);
    }
    this.reschedule(t);
  }

  /**
   * `t` settles on `w`'s result: every other copy is cancelled, and the workers of copies started
   * before the winning one, and overtaken by it, are suspected.
   */
  protected override store(
    t: TaskState,
    w: WorkerState,
    nbytes: number,
    value: Uint8Array | undefined,
    hash: string | undefined,
  ): void {
    if (t.stragglers !== null) this.dropStragglers(t, w);
    super.store(t, w, nbytes, value, hash);
  }

  /**
   * Cancels the other copies of `t` (its stragglers'). With a `winner`, the workers of the copies
   * older than the winning one lost a race.
   */
  private dropStragglers(t: TaskState, winner?: WorkerState): void {
    const stragglers = t.stragglers ?? [];
    t.stragglers = null;
    const at = winner === undefined ? 0 : stragglers.indexOf(winner);
    const overtaken = at === -1 ? stragglers.length : at;
    stragglers.forEach((s, i) => {
      if (t.verify <= 1) {
        // A replica was taken back when its lease ended; any other copy still runs there.
        if (s !== winner) this.emit.worker(s.id, { type: 'free-keys', keys: [t.key] });
        s.overdue--;
        this.updateRoom(s);
      }
      if (i < overtaken) {
        this.speculation.racesLost++;
        this.suspect(s);
      }
    });
  }

  /** `s`'s copy of `t` stopped (it erred): it no longer holds a thread for it, and races no more. */
  protected dropStraggler(t: TaskState, s: WorkerState): void {
    const i = t.stragglers?.indexOf(s) ?? -1;
    if (i === -1 || !t.stragglers) return;
    t.stragglers.splice(i, 1);
    if (t.stragglers.length === 0) t.stragglers = null;
    if (t.verify <= 1) {
      s.overdue--;
      this.updateRoom(s);
    }
  }

  protected override fail(root: TaskState, error: WireError): void {
    super.fail(root, error);
    this.dropSettledStragglers(root);
  }

  protected override maybeRelease(t: TaskState): void {
    super.maybeRelease(t);
    if (t.stragglers !== null && t.status === 'released') this.dropStragglers(t);
  }

  /** Failed tasks downstream of `root` (and it) that had stragglers: their copies are cancelled. */
  private dropSettledStragglers(root: TaskState): void {
    const stack = [root];
    const seen = new Set<TaskState>();
    while (stack.length > 0) {
      const t = stack.pop() as TaskState;
      if (seen.has(t) || t.status !== 'erred') continue;
      seen.add(t);
      if (t.stragglers !== null) this.dropStragglers(t);
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

  /** Seceded tasks `w` may hold (see SECEDED_PER_THREAD). */
  protected maxSeceded(w: WorkerState): number {
    return SECEDED_PER_THREAD * Math.max(1, w.threads);
  }
}
