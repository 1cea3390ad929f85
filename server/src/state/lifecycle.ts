/**
 * The transitions of a task's life, shared by every event of the state machine.
 *
 * A task is *needed* while some client wants it or some dependent still waits for it. What is
 * needed gets computed (again, from lineage, if its result was lost); what is not needed has its
 * data freed; a task neither needed nor the input of an existing task is forgotten.
 */
import {
  DEFAULT_ALLOWED_FAILURES,
  ErrorCode,
  INLINE_VALUE_MAX_BYTES,
  SCHEDULER_INLINE_CACHE_BYTES,
  type ClientChannel,
  ownString,
  type TicketPurpose,
  type WireError,
  type WorkerChannel,
} from '@meshwork/protocol';
import type { Emit } from './emit.js';
import { depSpec } from './holders.js';
import type { LeaseOptions } from './leases.js';
import { TaskGroups, groupName } from './groups.js';
import { FairQueue } from './fair-queue.js';
import { Roster } from './roster.js';
import { queueExtraFor } from './queue-depth.js';
import { DEFAULT_TASK_DURATION_MS, LocalityPlacement, MAX_RECORDED_TASK_DURATION_MS, type PlacementPolicy } from './placement.js';
import { SmallMap, SmallSet, bytesToString, clear, emptySet, emptySmallSet, grow, shrink, stringToBytes } from './compact.js';
import type { ClientState, FunctionEntry, PendingGather, TaskState, TaskStatus, WorkerState } from './types.js';

export interface SchedulerOptions extends LeaseOptions {
  allowedFailures?: number;
  inlineCacheBytes?: number;
  /** Tasks a worker may hold beyond its threads; unset, it adapts to the worker's tasks (queue-depth.ts). */
  workerQueueExtra?: number;
  placement?: PlacementPolicy;
  /** The scheduler's clock in ms (default `performance.now`): the pace of workers' results (queue-depth.ts). */
  now?: () => number;
  /** Uniform in [0, 1) (default `Math.random`): which worker runs a verified task's next replica (replicas.ts). */
  random?: () => number;
  /**
   * Makes the data ticket for `purpose` on `key` (the server signs with its data secret, see
   * protocol tickets.ts). Called only for keys the client may use so: get tickets go with the
   * holders of a gather reply, put tickets with a scatter plan. Without it, none are issued.
   */
  tickets?: (purpose: TicketPurpose, key: string) => string;
}

export interface QueueEntry {
  task: TaskState;
  epoch: number;
}

export type TaskSpecMessage = Extract<ClientChannel.ClientToServer, { type: 'update-graph' }>['tasks'][number];
type ComputeTaskMessage = Extract<WorkerChannel.ServerToWorker, { type: 'compute-task' }>;

/** The deps of every task that has none (an empty array each would cost 32 bytes a task). */
const NO_DEPS: readonly TaskState[] = Object.freeze([]);

export abstract class Lifecycle {
  readonly tasks = new Map<string, TaskState>();
  readonly workers = new Map<string, WorkerState>();
  readonly clients = new Map<string, ClientState>();
  /** Task functions by id, each while some task uses it (see `newTask`, `maybeForget`). */
  readonly fns = new Map<string, FunctionEntry>();
  readonly counts: Record<TaskStatus, number> = { waiting: 0, queued: 0, processing: 0, memory: 0, erred: 0, released: 0 };
  /** Tasks per function and status, for the dashboard. */
  readonly groups = new TaskGroups();
  /** Totals since start, for metrics (tasksReplanned: a worker could not fetch an input, so the task was planned again). */
  readonly totals = { tasksFinished: 0, tasksErred: 0, tasksReplanned: 0, workersJoined: 0, workersLost: 0 };

  /** Ready tasks: clients take turns; a client's own by priority, then submission order (fair-queue.ts). */
  protected readonly ready = new FairQueue<QueueEntry>(
    (e) => e.task.creator,
    (a, b) => a.task.priority > b.task.priority || (a.task.priority === b.task.priority && a.task.order < b.task.order),
    (e) => e.task.status === 'queued' && e.task.queueEpoch === e.epoch,
  );
  /** Workers that may take another task now. */
  protected readonly roomy = new Roster<WorkerState>();
  protected readonly durations = new Map<string, number>();
  protected readonly placement: PlacementPolicy;
  protected readonly now: () => number;
  protected readonly random: () => number;
  protected readonly allowedFailures: number;
  private readonly inlineCacheBytes: number;
  /** Set by `workerQueueExtra`: a fixed number; else it adapts. */
  private readonly queueExtra: number | undefined;
  protected readonly tickets: ((purpose: TicketPurpose, key: string) => string) | undefined;
  private inlineBytes = 0;
  private order = 0;

  constructor(
    protected readonly emit: Emit,
    options: SchedulerOptions = {},
  ) {
    this.allowedFailures = options.allowedFailures ?? DEFAULT_ALLOWED_FAILURES;
    this.inlineCacheBytes = options.inlineCacheBytes ?? SCHEDULER_INLINE_CACHE_BYTES;
    this.queueExtra = options.workerQueueExtra;
    this.tickets = options.tickets;
    this.placement = options.placement ?? new LocalityPlacement((fn) => this.durationOf(fn));
    this.now = options.now ?? (() => performance.now());
    this.random = options.random ?? Math.random;
  }

  durationOf(fnName: string): number {
    return this.durations.get(fnName) ?? DEFAULT_TASK_DURATION_MS;
  }

  protected newTask(spec: TaskSpecMessage | { key: string; scattered: true }, deps: TaskState[], creator: string): TaskState {
    const task = 'scattered' in spec ? null : spec;
    const restricted = task !== null && (task.workers !== undefined || task.resources !== undefined);
    const fn = task ? this.fns.get(task.fn) : undefined;
    if (fn) fn.tasks++;
    const fnName = task ? (fn?.name ?? 'lambda') : 'scatter';
    const t: TaskState = {
      key: ownString(spec.key),
      fn: fn?.id ?? '',
      fnName,
      args: task ? bytesToString(task.args) : '',
      deps: deps.length === 0 ? NO_DEPS : deps,
      dependents: emptySet(),
      waiters: emptySet(),
      waitingOn: 0,
      status: 'released',
      processingOn: null,
      lastSentTo: null,
      whoHas: new SmallSet(),
      nbytes: 0,
      hash: null,
      inline: null,
      error: null,
      wants: new SmallMap(),
      creator,
      priority: task?.priority ?? 0,
      order: this.order++,
      retriesLeft: task?.retries ?? 0,
      suspicious: 0,
      verify: task?.verify ?? 1,
      replicas: null,
      shunned: null,
      stragglers: null,
      restrictions:
        task && restricted ? { workers: task.workers, allowOtherWorkers: task.allowOtherWorkers ?? false, resources: task.resources } : null,
      timeoutMs: task?.timeoutMs,
      gathers: emptySmallSet(),
      queueEpoch: 0,
      scattered: task === null,
      stealing: false,
      group: this.groups.add(groupName(fnName)),
    };
    for (const d of deps) grow(d, 'dependents').add(t);
    this.tasks.set(t.key, t);
    this.counts.released++;
    return t;
  }

  protected setStatus(t: TaskState, status: TaskStatus): void {
    this.counts[t.status]--;
    this.counts[status]++;
    t.group.counts[t.status]--;
    t.group.counts[status]++;
    t.status = status;
  }

  protected isNeeded(t: TaskState): boolean {
    return t.wants.size > 0 || t.waiters.size > 0;
  }

  /** Makes sure a needed task is (being) computed, and its inputs before it. */
  protected need(root: TaskState): void {
    const stack = [root];
    while (stack.length > 0) {
      const t = stack.pop() as TaskState;
      if (t.status !== 'released') continue;
      if (t.scattered) {
        this.fail(t, { code: ErrorCode.LOST, name: 'LostError', message: `scattered data ${t.key} is gone: every worker that held it left`, key: t.key });
        continue;
      }
      const erredDep = t.deps.find((d) => d.status === 'erred');
      if (erredDep) {
        this.fail(t, erredDep.error as WireError);
        continue;
      }
      t.waitingOn = 0;
      for (const d of t.deps) {
        grow(d, 'waiters').add(t);
        if (d.status !== 'memory') {
          t.waitingOn++;
          if (d.status === 'released') stack.push(d);
        }
      }
      if (t.waitingOn === 0) this.enqueue(t);
      else this.setStatus(t, 'waiting');
    }
  }

  protected enqueue(t: TaskState): void {
    this.setStatus(t, 'queued');
    t.queueEpoch++;
    this.ready.push({ task: t, epoch: t.queueEpoch });
  }

  /** A task that must run again (retry, dead worker, missing input): queued or waiting on its inputs. */
  protected reschedule(t: TaskState): void {
    this.setStatus(t, 'released');
    if (this.isNeeded(t)) {
      this.need(t);
    } else {
      this.releaseInputs(t);
      this.maybeForget(t);
    }
  }

  protected assign(t: TaskState, w: WorkerState): void {
    this.setStatus(t, 'processing');
    t.processingOn = w;
    t.lastSentTo = w;
    w.processing.add(t);
    for (const [r, n] of Object.entries(t.restrictions?.resources ?? {})) w.resourcesUsed[r] = (w.resourcesUsed[r] ?? 0) + n;
    this.updateRoom(w);
    const fn = this.fns.get(t.fn);
    const msg: ComputeTaskMessage = {
      type: 'compute-task',
      key: t.key,
      fn: t.fn,
      fnName: t.fnName,
      args: stringToBytes(t.args),
      deps: t.deps.map((d) => depSpec(d)),
    };
    if (fn?.module) msg.module = fn.module;
    if (!w.fnsSent.has(t.fn) && fn) {
      msg.source = fn.source;
      w.fnsSent.add(t.fn);
      fn.sentTo.add(w);
    }
    if (t.timeoutMs !== undefined) msg.timeoutMs = t.timeoutMs;
    this.emit.worker(w.id, msg);
  }

  protected unassign(t: TaskState): void {
    const w = t.processingOn;
    if (!w) return;
    w.processing.delete(t);
    w.seceded.delete(t);
    for (const [r, n] of Object.entries(t.restrictions?.resources ?? {})) w.resourcesUsed[r] = (w.resourcesUsed[r] ?? 0) - n;
    t.processingOn = null;
    t.stealing = false;
    this.updateRoom(w);
  }

  /** Puts a result (computed or scattered) in memory on `w`. */
  protected store(t: TaskState, w: WorkerState, nbytes: number, value: Uint8Array | undefined, hash: string | undefined): void {
    if (t.status === 'queued') t.queueEpoch++;
    this.setStatus(t, 'memory');
    t.nbytes = nbytes;
    t.hash = hash === undefined ? null : ownString(hash);
    this.addHolder(t, w);
    if (value && value.byteLength <= INLINE_VALUE_MAX_BYTES && this.inlineBytes + value.byteLength <= this.inlineCacheBytes) {
      t.inline = bytesToString(value);
      this.inlineBytes += value.byteLength;
    }
    for (const [clientId] of t.wants) this.emit.client(clientId, { type: 'key-finished', key: t.key });
    this.settleGathers(t);
    for (const d of t.waiters) {
      if (d.status === 'waiting' && --d.waitingOn === 0) this.enqueue(d);
    }
    for (const dep of t.deps) {
      shrink(dep, 'waiters', t);
      this.maybeRelease(dep);
    }
    this.maybeRelease(t);
  }

  protected addHolder(t: TaskState, w: WorkerState): void {
    if (t.whoHas.has(w)) return;
    t.whoHas.add(w);
    w.hasWhat.add(t);
    w.bytesStored += t.nbytes;
  }

  /** Fails a task and every task downstream of it that was waiting for it. */
  protected fail(root: TaskState, error: WireError): void {
    const stack = [root];
    while (stack.length > 0) {
      const t = stack.pop() as TaskState;
      if (t.status === 'erred' || t.status === 'memory') continue;
      if (t.status === 'queued') t.queueEpoch++;
      const on = t.processingOn;
      this.unassign(t);
      if (on) this.emit.worker(on.id, { type: 'free-keys', keys: [t.key] });
      this.setStatus(t, 'erred');
      t.error = error;
      for (const [clientId] of t.wants) this.emit.client(clientId, { type: 'key-erred', key: t.key, error });
      this.settleGathers(t);
      for (const d of t.deps) {
        shrink(d, 'waiters', t);
        this.maybeRelease(d);
      }
      for (const d of t.dependents) if (d.status !== 'released') stack.push(d);
      this.maybeRelease(t);
    }
  }

  /** The last copy of a result is gone. Recompute it if needed; its dependents wait again. */
  protected lose(t: TaskState): void {
    this.dropInline(t);
    this.setStatus(t, 'released');
    for (const d of t.waiters) {
      if (d.status === 'queued') {
        d.queueEpoch++;
        this.setStatus(d, 'waiting');
        d.waitingOn = 1;
      } else if (d.status === 'waiting') {
        d.waitingOn++;
      } else if (d.status === 'processing') {
        const on = d.processingOn as WorkerState;
        this.unassign(d);
        this.emit.worker(on.id, { type: 'free-keys', keys: [d.key] });
        this.setStatus(d, 'waiting');
        d.waitingOn = d.deps.filter((x) => x.status !== 'memory').length;
      }
    }
    if (this.isNeeded(t)) this.need(t);
    else this.maybeForget(t);
  }

  /** Frees what no one needs: the data of a finished task, or the work of an unfinished one. */
  protected maybeRelease(t: TaskState): void {
    if (this.isNeeded(t)) return;
    switch (t.status) {
      case 'memory': {
        for (const h of t.whoHas) {
          h.hasWhat.delete(t);
          h.bytesStored -= t.nbytes;
          this.emit.worker(h.id, { type: 'free-keys', keys: [t.key] });
        }
        t.whoHas.clear();
        this.dropInline(t);
        this.setStatus(t, 'released');
        break;
      }
      case 'processing': {
        const on = t.processingOn as WorkerState;
        this.unassign(t);
        this.emit.worker(on.id, { type: 'free-keys', keys: [t.key] });
        this.setStatus(t, 'released');
        this.releaseInputs(t);
        break;
      }
      case 'queued':
      case 'waiting':
        t.queueEpoch++;
        this.setStatus(t, 'released');
        this.releaseInputs(t);
        break;
      case 'erred':
      case 'released':
        break;
    }
    this.maybeForget(t);
  }

  protected releaseInputs(t: TaskState): void {
    for (const d of t.deps) {
      shrink(d, 'waiters', t);
      this.maybeRelease(d);
    }
  }

  /** Drops a task no one needs and no existing task takes as input. */
  protected maybeForget(root: TaskState): void {
    const stack = [root];
    while (stack.length > 0) {
      const t = stack.pop() as TaskState;
      if (this.isNeeded(t) || t.dependents.size > 0 || this.tasks.get(t.key) !== t) continue;
      if (t.status !== 'released' && t.status !== 'erred') continue;
      this.tasks.delete(t.key);
      this.unuseFunction(t.fn);
      this.counts[t.status]--;
      this.groups.remove(t.group, t.status);
      for (const d of t.deps) {
        shrink(d, 'dependents', t);
        stack.push(d);
      }
    }
  }

  /** A task that used function `id` is gone: the function goes with the last such task. */
  private unuseFunction(id: string): void {
    const fn = this.fns.get(id);
    if (!fn || --fn.tasks > 0) return;
    this.fns.delete(id);
    for (const w of fn.sentTo) w.fnsSent.delete(id);
  }

  private dropInline(t: TaskState): void {
    if (t.inline !== null) this.inlineBytes -= t.inline.length;
    t.inline = null;
  }

  private settleGathers(t: TaskState): void {
    for (const g of t.gathers) {
      if (--g.remaining === 0) this.answerGather(g);
    }
    clear(t, 'gathers');
  }

  /** Keys being copied onto a Node worker (acquire request id → keys and the gathers waiting). */
  protected readonly acquiring = new Map<number, { workerId: string; keys: string[]; gathers: Set<PendingGather> }>();
  private nextAcquire = 0;

  /**
   * Before answering a gather: a value only browser tabs hold (and too big to ride inline) is
   * first copied onto a Node worker, which a Node client reaches directly; the gather waits.
   */
  private acquireForGather(g: PendingGather): boolean {
    const node = [...this.workers.values()].find((w) => w.dataAddress !== null && !w.paused);
    if (!node) return false;
    const needed = g.keys.flatMap((key) => {
      const t = this.tasks.get(key);
      if (!t || t.status !== 'memory' || t.inline !== null || t.whoHas.size === 0) return [];
      return [...t.whoHas].some((w) => w.dataAddress !== null) ? [] : [t];
    });
    if (needed.length === 0) return false;
    const id = this.nextAcquire++;
    this.acquiring.set(id, { workerId: node.id, keys: needed.map((t) => t.key), gathers: new Set([g]) });
    g.remaining++;
    this.emit.worker(node.id, { type: 'acquire', id, items: needed.map((t) => depSpec(t)) });
    return true;
  }

  /**
   * Before answering a gather: a key lost since it was asked for (its last copy gone, the value
   * being made again) is waited for anew, rather than answered as lost.
   */
  private waitAgain(g: PendingGather): boolean {
    for (const key of g.keys) {
      const t = this.tasks.get(key);
      if (!t || g.cancelled?.has(key) || t.gathers.has(g) || !this.isPending(t)) continue;
      g.remaining++;
      grow(t, 'gathers').add(g);
    }
    if (g.remaining === 0) return false;
    g.acquired = false; // the new copy may be on a tab again
    return true;
  }

  /** Not settled yet, and someone still needs it: a gather for it waits. */
  protected isPending(t: TaskState): boolean {
    return t.status !== 'memory' && t.status !== 'erred' && (t.status !== 'released' || this.isNeeded(t));
  }

  protected answerGather(g: PendingGather): void {
    if (this.waitAgain(g)) return;
    if (!g.acquired && this.acquireForGather(g)) {
      g.acquired = true;
      return;
    }
    const items: ClientChannel.GatherItem[] = g.keys.map((key) => {
      const t = this.tasks.get(key);
      const lost = (message: string): ClientChannel.GatherItem => ({ key, error: { code: ErrorCode.LOST, name: 'LostError', message, key } });
      if (g.cancelled?.has(key)) return { key, error: { code: ErrorCode.CANCELLED, name: 'CancelledError', message: `${key} was cancelled`, key } };
      if (!t) return lost(`no task ${key}: it was released or never submitted`);
      if (t.status === 'erred') return { key, error: t.error as WireError };
      if (t.status !== 'memory') return lost(`${key} was released`);
      if (t.inline !== null) return { key, value: stringToBytes(t.inline) };
      const spec = depSpec(t);
      if (spec.holders.length === 0) return lost(`no worker holds ${key}`);
      // The gather was screened (tenancy.ts): the client holds a future for every key it names.
      return this.tickets ? { ...spec, ticket: this.tickets('get', key) } : spec;
    });
    this.emit.client(g.clientId, { type: 'gather-reply', id: g.id, items });
  }

  /** Records a task's run time as a worker reported it; returns it bounded. */
  protected recordDuration(fnName: string, ms: number): number {
    // Times come from workers: a clock step (or a lie) must not make a duration negative or endless.
    if (!(ms >= 0)) ms = 0;
    ms = Math.min(ms, MAX_RECORDED_TASK_DURATION_MS);
    const old = this.durations.get(fnName);
    this.durations.set(fnName, old === undefined ? ms : old * 0.9 + ms * 0.1);
    return ms;
  }

  protected capacity(w: WorkerState): number {
    return w.threads + queueExtraFor(w, this.queueExtra);
  }

  protected updateRoom(w: WorkerState): void {
    if (!w.paused && !w.excluded && w.processing.size + w.overdue.size < this.capacity(w) && this.workers.get(w.id) === w) this.roomy.add(w);
    else this.roomy.delete(w);
  }
}
