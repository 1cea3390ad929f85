/**
 * The scheduler's state machine: events in (method calls), messages out (through `Emit`).
 * No I/O, no timers, no clock but the one given (SchedulerOptions.now): every transition is testable and `checkInvariants` can run
 * after each one. The transitions live in lifecycle.ts, dispatching in dispatch.ts, what clients
 * ask in client-events.ts; workers' events and `run` are here.
 */
import { ErrorCode, MEMORY_PAUSE_FRACTION, type ClientChannel, type WireError, type WorkerChannel } from '@meshwork/protocol';
import { ClientEvents } from './client-events.js';
import { MAX_BLAMERS_REMEMBERED, errorOutcome, resultOutcome, tally, unresolved, type Verdict, type Vote } from './verify.js';
import { anyEligible } from './replicas.js';
import { recordResult } from './queue-depth.js';
import type { ClientState, TaskState, TaskStatus, WorkerState } from './types.js';

export type { SchedulerOptions } from './lifecycle.js';

export interface NewWorker {
  id: string;
  name: string;
  kind: 'node' | 'browser';
  agent: string;
  threads: number;
  resources: Record<string, number>;
  dataAddress: string | null;
  memoryLimit: number | null;
  /** Where its connection came from (see `addressGroup`); unknown, it shares '' with every other unknown. */
  address?: string;
}

type ClientMessage<T extends ClientChannel.ClientToServer['type']> = Extract<ClientChannel.ClientToServer, { type: T }>;
type WorkerMessage<T extends WorkerChannel.WorkerToServer['type']> = Extract<WorkerChannel.WorkerToServer, { type: T }>;

interface PendingRun {
  /** The scheduler's id for it (clients' ids may collide). */
  runId: number;
  clientId: string;
  id: number;
  waiting: Set<string>;
  results: Record<string, { value?: Uint8Array; error?: WireError }>;
}

const STATUSES: readonly TaskStatus[] = ['waiting', 'queued', 'processing', 'memory', 'erred', 'released'];

export class SchedulerState extends ClientEvents {
  private readonly runs = new Map<number, PendingRun>();
  private nextRun = 0;

  // ---- workers and clients -------------------------------------------------------------

  addWorker(info: NewWorker): void {
    const w: WorkerState = {
      ...info,
      address: info.address ?? '',
      replicas: 0,
      agreed: 0,
      memoryUsed: 0,
      paused: false,
      overdue: new Set(),
      racesLost: 0,
      suspicions: 0,
      blamedBy: null,
      excluded: false,
      processing: new Set(),
      seceded: new Set(),
      resourcesUsed: {},
      hasWhat: new Set(),
      bytesStored: 0,
      tasksDone: 0,
      msPerTask: null,
      busySince: null,
      fnsSent: new Set(),
    };
    this.workers.set(w.id, w);
    this.clusterThreads += w.threads;
    this.totals.workersJoined++;
    this.updateRoom(w);
    this.unpark();
    this.dispatch();
  }

  /** A worker left or died: its running tasks run elsewhere, its lost results are recomputed. */
  removeWorker(id: string): void {
    const w = this.workers.get(id);
    if (!w) return;
    this.workers.delete(id);
    this.clusterThreads -= w.threads;
    this.roomy.delete(w);
    this.releaseBlocks(w);
    this.totals.workersLost++;
    for (const t of w.hasWhat) {
      t.whoHas.delete(w);
      if (t.status === 'memory' && t.whoHas.size === 0) this.lose(t);
    }
    w.hasWhat.clear();
    for (const fn of w.fnsSent) this.fns.get(fn)?.sentTo.delete(w);
    for (const t of [...w.overdue]) this.dropStraggler(t, w); // its late copies are gone with it
    // The first `threads` tasks sent to it were (most likely) running; the rest only waited there.
    const running = new Set([...w.seceded, ...[...w.processing].slice(0, w.threads)]);
    for (const t of [...w.seceded, ...w.processing]) {
      this.unassign(t);
      if (running.has(t)) t.suspicious++;
      if (t.suspicious >= this.allowedFailures) {
        const message = `task ${t.key} was running on ${t.suspicious} workers that died (the last: ${w.name}); giving up`;
        this.fail(t, { code: ErrorCode.KILLED_WORKER, name: 'KilledWorkerError', message, key: t.key, workerId: w.id });
      } else {
        this.reschedule(t);
      }
    }
    // Acquisitions it was doing will never answer: their gathers go on without them.
    for (const [acquireId, pending] of this.acquiring) {
      if (pending.workerId !== id) continue;
      this.acquiring.delete(acquireId);
      for (const g of pending.gathers) if (--g.remaining === 0) this.answerGather(g);
    }
    for (const run of this.runs.values()) {
      if (run.waiting.has(id)) this.runAnswered(run, id, { error: { code: ErrorCode.CONNECTION, name: 'ConnectionError', message: `worker ${w.name} left` } });
    }
    this.dispatch();
  }

  heartbeat(workerId: string, memoryUsed: number): void {
    const w = this.workers.get(workerId);
    if (!w) return;
    w.memoryUsed = memoryUsed;
    const paused = w.memoryLimit !== null && memoryUsed > MEMORY_PAUSE_FRACTION * w.memoryLimit;
    if (paused !== w.paused) {
      w.paused = paused;
      this.updateRoom(w);
      if (!paused) this.dispatch();
    }
  }

  run(clientId: string, msg: ClientMessage<'run'>): void {
    const workers = [...this.workers.values()].filter((w) => !msg.workers || msg.workers.some((n) => n === w.id || n === w.name));
    const id = this.nextRun++;
    const run: PendingRun = { runId: id, clientId, id: msg.id, waiting: new Set(workers.map((w) => w.id)), results: {} };
    this.runs.set(id, run);
    for (const w of workers) {
      this.emit.worker(w.id, { type: 'run-function', id, fn: msg.fn.id, fnName: msg.fn.name, source: msg.fn.source, module: msg.fn.module, args: msg.args });
    }
    if (run.waiting.size === 0) this.finishRun(run);
  }

  runResult(workerId: string, msg: WorkerMessage<'run-result'>): void {
    const run = this.runs.get(msg.id);
    if (!run?.waiting.has(workerId)) return;
    const result: { value?: Uint8Array; error?: WireError } = {};
    if (msg.value) result.value = msg.value.slice();
    if (msg.error) result.error = { ...msg.error, workerId };
    this.runAnswered(run, workerId, result);
  }

  private runAnswered(run: PendingRun, workerId: string, result: { value?: Uint8Array; error?: WireError }): void {
    run.results[workerId] = result;
    run.waiting.delete(workerId);
    if (run.waiting.size === 0) this.finishRun(run);
  }

  private finishRun(run: PendingRun): void {
    this.runs.delete(run.runId);
    this.emit.client(run.clientId, { type: 'run-reply', id: run.id, results: run.results });
  }

  // ---- worker events ---------------------------------------------------------------------

  taskFinished(workerId: string, msg: WorkerMessage<'task-finished'>): void {
    const w = this.workers.get(workerId);
    const t = this.tasks.get(msg.key);
    if (!w) return;
    if (t !== undefined && t.verify > 1 && t.processingOn !== w) return this.strayReplica(t, w, true);
    // Expected from the worker running it, from the one it was last sent to when it was taken
    // back meanwhile (stolen, its inputs lost), or from one that held it past its lease (its copy
    // may still win, see leases.ts): a result no one asked this worker for is refused.
    const unsettled = t !== undefined && (t.status === 'waiting' || t.status === 'queued' || t.status === 'released');
    const late = t?.stragglers?.includes(w) === true && (unsettled || t.status === 'processing');
    const asked = t !== undefined && (t.processingOn === w || (t.lastSentTo === w && unsettled) || late);
    if (!t || !asked) {
      // Not expected from this worker (cancelled, already done elsewhere, or never sent there): it should not keep it.
      if (!t || t.status !== 'memory' || !t.whoHas.has(w)) this.emit.worker(w.id, { type: 'free-keys', keys: [msg.key] });
      if (t?.processingOn === w) this.unassign(t);
      this.dispatch();
      return;
    }
    const verifying = t.verify > 1;
    // A straggler's copy won: the copy running elsewhere is cancelled.
    if (t.processingOn && t.processingOn !== w) this.emit.worker(t.processingOn.id, { type: 'free-keys', keys: [t.key] });
    if (t.processingOn) this.unassign(t);
    else if (t.status === 'waiting') this.releaseInputs(t);
    const ms = this.recordDuration(t.fnName, msg.stoppedAt - msg.startedAt);
    recordResult(w, this.now(), ms);
    this.updateRoom(w);
    w.tasksDone++;
    if (verifying) {
      // The vote that completes a verdict is this one: a verdict here is this worker's result.
      const verdict = this.vote(t, { worker: w, outcome: resultOutcome(msg.hash, w), error: null });
      if (!verdict) return this.dispatch();
      this.totals.tasksFinished++;
      t.group.totals.finished++;
      this.store(t, w, msg.nbytes, msg.value, msg.hash);
      for (const other of verdict.agreed) if (other !== w && this.workers.get(other.id) === other) this.addHolder(t, other);
      return this.dispatch();
    }
    this.totals.tasksFinished++;
    t.group.totals.finished++;
    this.store(t, w, msg.nbytes, msg.value, msg.hash);
    this.dispatch();
  }

  /**
   * A result (`finished`) or error from `w` for verified `t`, which is not processing on `w`: it
   * is no vote. Forged when `w` gave that replica back itself (dep-missing) and was not sent it
   * again: one more suspicion.
   */
  private strayReplica(t: TaskState, w: WorkerState, finished: boolean): void {
    if (finished && (t.status !== 'memory' || !t.whoHas.has(w))) this.emit.worker(w.id, { type: 'free-keys', keys: [t.key] });
    const returned = t.replicas?.returned;
    if (returned?.includes(w)) {
      returned.splice(returned.indexOf(w), 1);
      this.suspect(w);
    }
    this.dispatch();
  }

  /**
   * One run of a verified task ended on `w`: the verdict once k runs agree (the outvoted drop their
   * copies; those outvoted by a result are suspected, and the agreeing gain trust), else null and
   * the task runs again elsewhere, or fails when a run erred and no further worker may run it.
   */
  private vote(t: TaskState, v: Vote): Verdict | null {
    const replicas = (t.replicas ??= { votes: [], returned: [] });
    replicas.votes.push(v);
    const verdict = tally(replicas.votes, t.verify);
    if (!verdict) {
      if (replicas.votes.some((x) => x.error !== null) && !anyEligible(t, this.workers.values())) {
        this.totals.tasksErred++;
        t.group.totals.failed++;
        this.fail(t, unresolved(t, replicas.votes));
      } else {
        this.reschedule(t);
      }
      return null;
    }
    t.replicas = null;
    for (const w of verdict.agreed) w.agreed++;
    for (const bad of verdict.outvoted) {
      this.emit.worker(bad.id, { type: 'free-keys', keys: [t.key] });
      if (verdict.error === null) this.suspect(bad);
    }
    return verdict;
  }

  /**
   * `reporter` surely found `holderId`'s copy of `key` missing or wrong (it said data-missing,
   * sent bytes that do not match, or failed every fetch in a row): the copy is dropped, the value
   * is made again elsewhere when it can be, and the holder is suspected once per distinct
   * reporter (one peer's word alone cannot exclude anyone).
   */
  private blame(key: string, holderId: string, reporter: WorkerState): void {
    const t = this.tasks.get(key);
    const holder = this.workers.get(holderId);
    if (!t || !holder || !t.whoHas.has(holder)) return;
    this.dropCopy(key, holderId);
    if (holder === reporter) return; // its own store lacks what the scheduler listed: no one to suspect
    this.shun(t, holder);
    holder.blamedBy ??= new Set();
    if (holder.blamedBy.has(reporter.id) || holder.blamedBy.size >= MAX_BLAMERS_REMEMBERED) return;
    holder.blamedBy.add(reporter.id);
    this.suspect(holder);
  }

  taskErred(workerId: string, msg: WorkerMessage<'task-erred'>): void {
    const w = this.workers.get(workerId);
    const t = this.tasks.get(msg.key);
    if (w && t && t.verify > 1 && t.processingOn !== w) return this.strayReplica(t, w, false);
    if (!w || !t || t.processingOn !== w) {
      if (w && t) this.dropStraggler(t, w); // a late copy erred: the copy elsewhere goes on
      this.dispatch();
      return;
    }
    this.unassign(t);
    w.tasksDone++;
    let error: WireError = { ...msg.error, key: t.key, workerId: w.id };
    if (t.verify > 1) {
      // A verified task's error is a vote: it counts (a retry, or the failure) only once k workers report the same error.
      const verdict = this.vote(t, { worker: w, outcome: errorOutcome(msg.error), error });
      if (!verdict) return this.dispatch();
      error = verdict.error ?? error;
    }
    if (t.retriesLeft > 0) {
      t.retriesLeft--;
      this.reschedule(t);
    } else {
      this.totals.tasksErred++;
      t.group.totals.failed++;
      this.fail(t, error);
    }
    this.dispatch();
  }

  /**
   * A client's gather found `key` missing on `holder`, or its bytes wrong there. Only a client
   * that holds a future for the key gathers it and can find it missing; a key another client holds
   * too (a shared pure call) keeps its copies: one client's word would otherwise make the value
   * again for every client (a different one, if impure).
   */
  missingData(clientId: string, key: string, holderId: string): void {
    const t = this.tasks.get(key);
    if (!t || !this.clients.get(clientId)?.wants.has(t)) return;
    const tenant = this.tenantOf(clientId);
    for (const [other] of t.wants) if (this.tenantOf(other) !== tenant) return;
    this.dropCopy(key, holderId);
    this.dispatch();
  }

  /** `holderId` does not hold `key` (or its copy is bad): forget that copy; recompute when it was the last. */
  private dropCopy(key: string, holderId: string): void {
    const t = this.tasks.get(key);
    const holder = this.workers.get(holderId);
    if (!t || !holder || !t.whoHas.has(holder)) return;
    t.whoHas.delete(holder);
    holder.hasWhat.delete(t);
    holder.bytesStored -= t.nbytes;
    // It may still hold a copy, a bad one (its bytes did not match the hash): a recompute placed
    // there must not be answered from it.
    this.emit.worker(holder.id, { type: 'free-keys', keys: [t.key] });
    if (t.status === 'memory' && t.whoHas.size === 0) this.lose(t);
  }

  /**
   * A worker could not get `dep` for `key`: the task is planned again; the copy on `holder` is
   * dropped only when that holder said it lacks the value or sent bad bytes (a failed link drops
   * nothing: dropping a live copy would recompute the value, a different one if impure).
   */
  depMissing(workerId: string, msg: { key: string; dep: string; holder?: string | undefined }): void {
    const t = this.tasks.get(msg.key);
    // Only the worker running `key` fetches its inputs: it may blame a holder of one of them (if
    // not a holder, dropCopy does nothing), and its task is planned again, blamed holder or not.
    if (t && t.processingOn?.id === workerId) {
      const reporter = this.workers.get(workerId);
      if (msg.holder !== undefined && reporter && t.deps.some((d) => d.key === msg.dep)) this.blame(msg.dep, msg.holder, reporter);
      // It gave the replica back: a result it sends for it now, before it is sent it again, is forged.
      if (t.verify > 1 && reporter) (t.replicas ??= { votes: [], returned: [] }).returned.push(reporter);
      this.totals.tasksReplanned++;
      this.unassign(t);
      this.reschedule(t);
    } else if (t) {
      const w = this.workers.get(workerId);
      if (w) this.dropStraggler(t, w); // a late copy could not get its input: it stopped
    }
    this.dispatch();
  }

  /** A worker copied values for a gather (`acquire`): it holds them now. */
  acquired(workerId: string, msg: WorkerMessage<'acquired'>): void {
    const w = this.workers.get(workerId);
    const pending = this.acquiring.get(msg.id);
    if (pending?.workerId !== workerId) return;
    this.acquiring.delete(msg.id);
    for (const item of msg.items) {
      const t = this.tasks.get(item.key);
      if (w && t?.status === 'memory') this.addHolder(t, w);
      else if (w) this.emit.worker(w.id, { type: 'free-keys', keys: [item.key] });
    }
    // A holder that said it lacks the value (or sent bad bytes) loses its copy, and a value with
    // no copy left is made again; the gathers wait for it (answerGather). A failed link drops
    // nothing: a closed tab is removed when its socket closes, and the client asks again.
    const asked = new Set(pending.keys);
    for (const m of msg.missing) if (w && m.holder !== undefined && asked.has(m.key)) this.blame(m.key, m.holder, w);
    for (const g of pending.gathers) if (--g.remaining === 0) this.answerGather(g);
    this.dispatch();
  }

  /** The running task waits on other tasks: its thread is free for them. */
  taskSeceded(workerId: string, key: string): void {
    const t = this.tasks.get(key);
    const w = t?.processingOn;
    // Past its cap a worker's seceded tasks keep their threads (a stranger could otherwise take every task this way).
    if (!t || !w || w.id !== workerId || !w.processing.has(t) || w.seceded.size >= this.maxSeceded(w)) return;
    w.processing.delete(t);
    w.seceded.add(t);
    this.updateRoom(w);
    this.dispatch();
  }

  taskRejoined(workerId: string, key: string): void {
    const t = this.tasks.get(key);
    const w = t?.processingOn;
    if (!t || !w || w.id !== workerId || !w.seceded.has(t)) return;
    w.seceded.delete(t);
    w.processing.add(t);
    this.updateRoom(w);
  }

  /** Tasks by status, for /api/state. */
  statusCounts(): Record<TaskStatus, number> {
    const out = {} as Record<TaskStatus, number>;
    for (const s of STATUSES) out[s] = this.counts[s];
    return out;
  }
}

export type { ClientState };
