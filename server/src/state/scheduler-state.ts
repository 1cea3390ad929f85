/**
 * The scheduler's state machine: events in (method calls), messages out (through `Emit`).
 * No I/O, no timers, no clock reads beyond the injected `now`: every transition is testable
 * and `checkInvariants` can run after each one.
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
  WORKER_QUEUE_EXTRA,
  type ClientChannel,
  type WireError,
  type WorkerChannel,
} from '@meshwork/protocol';
import type { Emit } from './emit.js';
import { Heap } from './heap.js';
import { DEFAULT_TASK_DURATION_MS, LocalityPlacement, allowed, type PlacementPolicy } from './placement.js';
import type { ClientState, PendingGather, TaskState, TaskStatus, WorkerState } from './types.js';

export interface SchedulerOptions {
  allowedFailures?: number;
  inlineCacheBytes?: number;
  /** Tasks a worker may hold beyond its threads. */
  workerQueueExtra?: number;
  placement?: PlacementPolicy;
}

export interface NewWorker {
  id: string;
  name: string;
  kind: 'node' | 'browser';
  agent: string;
  threads: number;
  resources: Record<string, number>;
  dataAddress: string | null;
  memoryLimit: number | null;
}

interface QueueEntry {
  task: TaskState;
  epoch: number;
}

const STATUSES: readonly TaskStatus[] = ['waiting', 'queued', 'processing', 'memory', 'erred', 'released'];

export class SchedulerState {
  readonly tasks = new Map<string, TaskState>();
  readonly workers = new Map<string, WorkerState>();
  readonly clients = new Map<string, ClientState>();
  readonly fns = new Map<string, { name: string; source: string }>();
  readonly counts: Record<TaskStatus, number> = { waiting: 0, queued: 0, processing: 0, memory: 0, erred: 0, released: 0 };
  /** Totals since start, for metrics. */
  readonly totals = { tasksFinished: 0, tasksErred: 0, workersJoined: 0, workersLost: 0 };

  private readonly ready = new Heap<QueueEntry>(
    (a, b) => a.task.priority > b.task.priority || (a.task.priority === b.task.priority && a.task.order < b.task.order),
  );
  /** Ready tasks that no worker with room may run (restrictions); retried when workers change. */
  private parked: QueueEntry[] = [];
  private readonly roomy = new Set<WorkerState>();
  private readonly durations = new Map<string, number>();
  private readonly placement: PlacementPolicy;
  private readonly allowedFailures: number;
  private readonly inlineCacheBytes: number;
  private readonly queueExtra: number;
  private inlineBytes = 0;
  private order = 0;

  constructor(
    private readonly emit: Emit,
    options: SchedulerOptions = {},
  ) {
    this.allowedFailures = options.allowedFailures ?? DEFAULT_ALLOWED_FAILURES;
    this.inlineCacheBytes = options.inlineCacheBytes ?? SCHEDULER_INLINE_CACHE_BYTES;
    this.queueExtra = options.workerQueueExtra ?? WORKER_QUEUE_EXTRA;
    this.placement = options.placement ?? new LocalityPlacement((fn) => this.durations.get(fn) ?? DEFAULT_TASK_DURATION_MS);
  }

  // ---- workers and clients -------------------------------------------------------------

  addWorker(info: NewWorker): void {
    const w: WorkerState = {
      ...info,
      memoryUsed: 0,
      paused: false,
      processing: new Set(),
      hasWhat: new Set(),
      bytesStored: 0,
      tasksDone: 0,
      fnsSent: new Set(),
    };
    this.workers.set(w.id, w);
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
    this.roomy.delete(w);
    this.totals.workersLost++;
    for (const t of w.hasWhat) {
      t.whoHas.delete(w);
      if (t.status === 'memory' && t.whoHas.size === 0) this.lose(t);
    }
    w.hasWhat.clear();
    for (const t of [...w.processing]) {
      this.unassign(t);
      t.suspicious++;
      if (t.suspicious >= this.allowedFailures) {
        const message = `task ${t.key} was running on ${t.suspicious} workers that died (the last: ${w.name}); giving up`;
        this.fail(t, { code: ErrorCode.KILLED_WORKER, name: 'KilledWorkerError', message, key: t.key, workerId: w.id });
      } else {
        this.reschedule(t);
      }
    }
    this.dispatch();
  }

  heartbeat(workerId: string, memoryUsed: number): void {
    const w = this.workers.get(workerId);
    if (w) w.memoryUsed = memoryUsed;
  }

  addClient(id: string, name: string): void {
    this.clients.set(id, { id, name, wants: new Set() });
  }

  removeClient(id: string): void {
    const c = this.clients.get(id);
    if (!c) return;
    this.clients.delete(id);
    for (const t of c.wants) {
      t.wants.delete(id);
      for (const g of t.gathers) if (g.clientId === id) t.gathers.delete(g);
      this.maybeRelease(t);
    }
    this.dispatch();
  }

  // ---- client events ---------------------------------------------------------------------

  updateGraph(clientId: string, msg: UpdateGraphMessage): void {
    for (const f of msg.fns) if (!this.fns.has(f.id)) this.fns.set(f.id, { name: f.name, source: f.source });
    const fresh: TaskState[] = [];
    const specs = new Map<string, (typeof msg.tasks)[number]>();
    for (const spec of msg.tasks) if (!this.tasks.has(spec.key) && !specs.has(spec.key)) specs.set(spec.key, spec);
    // Create in dependency order so that a task's deps exist before it; unknown deps fail it.
    const visiting = new Set<string>();
    const create = (key: string): TaskState | null => {
      const existing = this.tasks.get(key);
      if (existing) return existing;
      const spec = specs.get(key);
      if (!spec || visiting.has(key)) return null;
      visiting.add(key);
      const deps: TaskState[] = [];
      let missing: string | null = null;
      for (const d of spec.deps) {
        const dep = create(d);
        if (dep) deps.push(dep);
        else missing ??= d;
      }
      const t = this.newTask(spec, deps);
      fresh.push(t);
      if (missing !== null) {
        t.error = { code: ErrorCode.LOST, name: 'LostError', message: `dependency ${missing} of ${key} is not known to the scheduler (released?)`, key };
      } else if (!this.fns.has(spec.fn)) {
        t.error = { code: ErrorCode.PROTOCOL, name: 'ProtocolError', message: `function ${spec.fn} of ${key} was never sent`, key };
      }
      return t;
    };
    for (const key of specs.keys()) create(key);
    const client = this.clients.get(clientId);
    for (const key of msg.wants) {
      const t = this.tasks.get(key);
      if (!t || !client) continue;
      t.wants.set(clientId, (t.wants.get(clientId) ?? 0) + 1);
      client.wants.add(t);
    }
    for (const t of fresh) {
      if (t.error) this.fail(t, t.error);
    }
    const created = new Set(fresh);
    for (const key of msg.wants) {
      const t = this.tasks.get(key);
      if (!t) continue;
      this.need(t);
      if (t.status === 'memory') this.emit.client(clientId, { type: 'key-finished', key });
      else if (t.status === 'erred' && !created.has(t)) this.emit.client(clientId, { type: 'key-erred', key, error: t.error as WireError });
    }
    for (const t of fresh) if (t.status === 'released' && !this.isNeeded(t)) this.maybeForget(t);
    this.dispatch();
  }

  releaseKeys(clientId: string, keys: readonly string[]): void {
    const client = this.clients.get(clientId);
    for (const key of keys) {
      const t = this.tasks.get(key);
      if (!t) continue;
      const n = (t.wants.get(clientId) ?? 0) - 1;
      if (n > 0) {
        t.wants.set(clientId, n);
        continue;
      }
      t.wants.delete(clientId);
      client?.wants.delete(t);
      this.maybeRelease(t);
    }
    this.dispatch();
  }

  gather(clientId: string, id: number, keys: readonly string[]): void {
    const g: PendingGather = { clientId, id, keys: [...keys], remaining: 0 };
    for (const key of keys) {
      const t = this.tasks.get(key);
      if (t && !isSettled(t) && (t.status !== 'released' || this.isNeeded(t))) {
        g.remaining++;
        t.gathers.add(g);
      }
    }
    if (g.remaining === 0) this.answerGather(g);
  }

  // ---- worker events ---------------------------------------------------------------------

  taskFinished(workerId: string, msg: TaskFinishedMessage): void {
    const w = this.workers.get(workerId);
    const t = this.tasks.get(msg.key);
    if (!w) return;
    if (!t || !(t.processingOn === w || t.status === 'waiting' || t.status === 'queued' || t.status === 'released')) {
      // Not expected from this worker (cancelled, or already done elsewhere): it should not keep it.
      if (!t || t.status !== 'memory' || !t.whoHas.has(w)) this.emit.worker(w.id, { type: 'free-keys', keys: [msg.key] });
      if (t?.processingOn === w) this.unassign(t);
      this.dispatch();
      return;
    }
    if (t.processingOn) this.unassign(t);
    else if (t.status === 'queued' || t.status === 'waiting') this.unwait(t);
    this.recordDuration(t.fnName, msg.stoppedAt - msg.startedAt);
    w.tasksDone++;
    this.totals.tasksFinished++;
    this.store(t, w, msg.nbytes, msg.value);
    this.dispatch();
  }

  taskErred(workerId: string, msg: TaskErredMessage): void {
    const w = this.workers.get(workerId);
    const t = this.tasks.get(msg.key);
    if (!w || !t || t.processingOn !== w) {
      this.dispatch();
      return;
    }
    this.unassign(t);
    w.tasksDone++;
    if (t.retriesLeft > 0) {
      t.retriesLeft--;
      this.reschedule(t);
    } else {
      this.totals.tasksErred++;
      this.fail(t, { ...msg.error, key: t.key, workerId: w.id });
    }
    this.dispatch();
  }

  /** A worker could not fetch `dep` for `key` from `holder`. */
  depMissing(workerId: string, msg: { key: string; dep: string; holder: string }): void {
    const dep = this.tasks.get(msg.dep);
    const holder = this.workers.get(msg.holder);
    if (dep && holder && dep.whoHas.has(holder)) {
      dep.whoHas.delete(holder);
      holder.hasWhat.delete(dep);
      holder.bytesStored -= dep.nbytes;
      if (dep.status === 'memory' && dep.whoHas.size === 0) this.lose(dep);
    }
    const t = this.tasks.get(msg.key);
    if (t && t.processingOn?.id === workerId) {
      this.unassign(t);
      this.reschedule(t);
    }
    this.dispatch();
  }

  // ---- transitions ---------------------------------------------------------------------------

  private newTask(spec: UpdateGraphMessage['tasks'][number], deps: TaskState[]): TaskState {
    const restricted = spec.workers !== undefined || spec.resources !== undefined;
    const t: TaskState = {
      key: spec.key,
      fn: spec.fn,
      fnName: this.fns.get(spec.fn)?.name ?? 'lambda',
      args: spec.args,
      deps,
      dependents: new Set(),
      waiters: new Set(),
      waitingOn: 0,
      status: 'released',
      processingOn: null,
      whoHas: new Set(),
      nbytes: 0,
      inline: null,
      error: null,
      wants: new Map(),
      priority: spec.priority,
      order: this.order++,
      retriesLeft: spec.retries,
      suspicious: 0,
      restrictions: restricted
        ? { workers: spec.workers, allowOtherWorkers: spec.allowOtherWorkers ?? false, resources: spec.resources }
        : null,
      timeoutMs: spec.timeoutMs,
      gathers: new Set(),
      queueEpoch: 0,
    };
    for (const d of deps) d.dependents.add(t);
    this.tasks.set(t.key, t);
    this.counts.released++;
    return t;
  }

  private setStatus(t: TaskState, status: TaskStatus): void {
    this.counts[t.status]--;
    this.counts[status]++;
    t.status = status;
  }

  private isNeeded(t: TaskState): boolean {
    return t.wants.size > 0 || t.waiters.size > 0;
  }

  /** Makes sure a needed task is (being) computed, and its inputs before it. */
  private need(root: TaskState): void {
    const stack = [root];
    while (stack.length > 0) {
      const t = stack.pop() as TaskState;
      if (t.status !== 'released') continue;
      const erredDep = t.deps.find((d) => d.status === 'erred');
      if (erredDep) {
        this.fail(t, erredDep.error as WireError);
        continue;
      }
      t.waitingOn = 0;
      for (const d of t.deps) {
        d.waiters.add(t);
        if (d.status !== 'memory') {
          t.waitingOn++;
          if (d.status === 'released') stack.push(d);
        }
      }
      if (t.waitingOn === 0) this.enqueue(t);
      else this.setStatus(t, 'waiting');
    }
  }

  private enqueue(t: TaskState): void {
    this.setStatus(t, 'queued');
    t.queueEpoch++;
    this.ready.push({ task: t, epoch: t.queueEpoch });
  }

  /** A task that must run again (retry, dead worker, missing input): queued or waiting on its inputs. */
  private reschedule(t: TaskState): void {
    this.setStatus(t, 'released');
    if (this.isNeeded(t)) {
      this.need(t);
    } else {
      this.releaseInputs(t);
      this.maybeForget(t);
    }
  }

  private assign(t: TaskState, w: WorkerState): void {
    this.setStatus(t, 'processing');
    t.processingOn = w;
    w.processing.add(t);
    this.updateRoom(w);
    const fn = this.fns.get(t.fn);
    const msg: ComputeTaskMessage = {
      type: 'compute-task',
      key: t.key,
      fn: t.fn,
      fnName: t.fnName,
      args: t.args,
      deps: t.deps.map((d) => ({
        key: d.key,
        holders: [...d.whoHas].filter((h) => h !== w && h.dataAddress !== null).map((h) => ({ id: h.id, address: h.dataAddress as string })),
      })),
    };
    if (!w.fnsSent.has(t.fn) && fn) {
      msg.source = fn.source;
      w.fnsSent.add(t.fn);
    }
    if (t.timeoutMs !== undefined) msg.timeoutMs = t.timeoutMs;
    this.emit.worker(w.id, msg);
  }

  private unassign(t: TaskState): void {
    const w = t.processingOn;
    if (!w) return;
    w.processing.delete(t);
    t.processingOn = null;
    this.updateRoom(w);
  }

  /** Takes a waiting or queued task out of the running (it was computed anyway, or is no longer needed). */
  private unwait(t: TaskState): void {
    if (t.status === 'queued') t.queueEpoch++;
  }

  private store(t: TaskState, w: WorkerState, nbytes: number, value: Uint8Array | undefined): void {
    this.setStatus(t, 'memory');
    t.nbytes = nbytes;
    t.whoHas.add(w);
    w.hasWhat.add(t);
    w.bytesStored += nbytes;
    if (value && value.byteLength <= INLINE_VALUE_MAX_BYTES && this.inlineBytes + value.byteLength <= this.inlineCacheBytes) {
      t.inline = value.slice(); // a copy: the message's bytes are a view into a whole frame
      this.inlineBytes += value.byteLength;
    }
    for (const [clientId] of t.wants) this.emit.client(clientId, { type: 'key-finished', key: t.key });
    this.settleGathers(t);
    for (const d of t.waiters) {
      if (d.status === 'waiting' && --d.waitingOn === 0) this.enqueue(d);
    }
    for (const dep of t.deps) {
      dep.waiters.delete(t);
      this.maybeRelease(dep);
    }
    this.maybeRelease(t);
  }

  /** Fails a task and every task downstream of it that was waiting for it. */
  private fail(root: TaskState, error: WireError): void {
    const stack = [root];
    while (stack.length > 0) {
      const t = stack.pop() as TaskState;
      if (t.status === 'erred' || t.status === 'memory') continue;
      if (t.status === 'queued') t.queueEpoch++;
      this.unassign(t);
      this.setStatus(t, 'erred');
      t.error = error;
      for (const [clientId] of t.wants) this.emit.client(clientId, { type: 'key-erred', key: t.key, error });
      this.settleGathers(t);
      for (const d of t.deps) {
        d.waiters.delete(t);
        this.maybeRelease(d);
      }
      for (const d of t.dependents) if (d.status !== 'released') stack.push(d);
      this.maybeRelease(t);
    }
  }

  /** The last copy of a result is gone. Recompute it if needed; its dependents wait again. */
  private lose(t: TaskState): void {
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
  private maybeRelease(t: TaskState): void {
    if (this.isNeeded(t)) return;
    switch (t.status) {
      case 'memory': {
        const holders = [...t.whoHas];
        for (const h of holders) {
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

  private releaseInputs(t: TaskState): void {
    for (const d of t.deps) {
      d.waiters.delete(t);
      this.maybeRelease(d);
    }
  }

  /** Drops a task no one needs and no existing task takes as input. */
  private maybeForget(root: TaskState): void {
    const stack = [root];
    while (stack.length > 0) {
      const t = stack.pop() as TaskState;
      if (this.isNeeded(t) || t.dependents.size > 0 || !this.tasks.has(t.key)) continue;
      if (t.status !== 'released' && t.status !== 'erred') continue;
      this.tasks.delete(t.key);
      this.counts[t.status]--;
      for (const d of t.deps) {
        d.dependents.delete(t);
        stack.push(d);
      }
    }
  }

  private dropInline(t: TaskState): void {
    if (t.inline) this.inlineBytes -= t.inline.byteLength;
    t.inline = null;
  }

  private settleGathers(t: TaskState): void {
    for (const g of t.gathers) {
      if (--g.remaining === 0) this.answerGather(g);
    }
    t.gathers.clear();
  }

  private answerGather(g: PendingGather): void {
    const items: ClientChannel.GatherItem[] = g.keys.map((key) => {
      const t = this.tasks.get(key);
      if (!t) return { key, error: { code: ErrorCode.LOST, name: 'LostError', message: `no task ${key}: it was released or never submitted`, key } };
      if (t.status === 'erred') return { key, error: t.error as WireError };
      if (t.status !== 'memory') return { key, error: { code: ErrorCode.LOST, name: 'LostError', message: `${key} was released`, key } };
      if (t.inline) return { key, value: t.inline };
      const holders = [...t.whoHas].filter((w) => w.dataAddress !== null).map((w) => ({ id: w.id, address: w.dataAddress as string }));
      if (holders.length === 0) return { key, error: { code: ErrorCode.LOST, name: 'LostError', message: `no worker holds ${key}`, key } };
      return { key, holders };
    });
    this.emit.client(g.clientId, { type: 'gather-reply', id: g.id, items });
  }

  private recordDuration(fnName: string, ms: number): void {
    const old = this.durations.get(fnName);
    this.durations.set(fnName, old === undefined ? ms : old * 0.9 + ms * 0.1);
  }

  // ---- dispatch -----------------------------------------------------------------------------

  private capacity(w: WorkerState): number {
    return w.threads + this.queueExtra;
  }

  private updateRoom(w: WorkerState): void {
    if (!w.paused && w.processing.size < this.capacity(w) && this.workers.has(w.id)) this.roomy.add(w);
    else this.roomy.delete(w);
  }

  private unpark(): void {
    for (const e of this.parked) this.ready.push(e);
    this.parked = [];
  }

  /** Hands queued tasks, highest priority first, to workers with room. */
  private dispatch(): void {
    while (this.ready.size > 0 && this.roomy.size > 0) {
      const entry = this.ready.pop() as QueueEntry;
      const t = entry.task;
      if (t.status !== 'queued' || t.queueEpoch !== entry.epoch) continue;
      const w = this.placement.choose(t, this.roomy);
      if (w) this.assign(t, w);
      else this.parked.push(entry);
    }
    if (this.ready.size === 0 && this.parked.length > 0 && this.roomy.size > 0 && this.anyRoomyRuns()) {
      this.unpark();
      this.dispatch();
    }
  }

  private anyRoomyRuns(): boolean {
    return this.parked.some((e) => e.task.status === 'queued' && [...this.roomy].some((w) => allowed(e.task, w)));
  }

  /** Tasks by status, for /api/state. */
  statusCounts(): Record<TaskStatus, number> {
    const out = {} as Record<TaskStatus, number>;
    for (const s of STATUSES) out[s] = this.counts[s];
    return out;
  }
}

type UpdateGraphMessage = Extract<ClientChannel.ClientToServer, { type: 'update-graph' }>;
type TaskFinishedMessage = Extract<WorkerChannel.WorkerToServer, { type: 'task-finished' }>;
type ComputeTaskMessage = Extract<WorkerChannel.ServerToWorker, { type: 'compute-task' }>;
type TaskErredMessage = Extract<WorkerChannel.WorkerToServer, { type: 'task-erred' }>;

function isSettled(t: TaskState): boolean {
  return t.status === 'memory' || t.status === 'erred';
}
