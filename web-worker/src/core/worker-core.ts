/**
 * The worker core, runtime-free: tasks from `compute-task` wait for their dependencies (fetched
 * through the injected PeerFetcher), queue, and run on the injected Executor; results go into the
 * store and are reported; `free-keys` drops data and cancels tasks. Outgoing messages leave
 * batched once per event-loop turn. The host feeds in every frame after `welcome`.
 *
 * Task states: fetching (deps on their way) → ready (queued, FIFO: the scheduler orders) →
 * running (on a thread) → gone (reported, freed or dropped).
 */
import {
  Batcher,
  CancelledError,
  HEARTBEAT_INTERVAL_MS,
  INLINE_VALUE_MAX_BYTES,
  ProtocolError,
  TimeoutError,
  WorkerChannel,
  encodeFrame,
  errorToWire,
  parseFrame,
  type TurnScheduler,
  type WireError,
} from '@meshwork/protocol';
import { MAX_QUEUED_TASKS } from '../constants.js';
import { serverToWorkerTypes } from './handshake.js';
import type { Executor, FetchResult, PeerFetcher } from './interfaces.js';
import { silentLogger, type Logger } from './logger.js';
import { DepCache, Store } from './store.js';

type ComputeTask = WorkerChannel.ComputeTask;
type Outgoing = WorkerChannel.WorkerToServer;

export interface WorkerCoreOptions {
  workerId: string;
  /** Sends one encoded control frame to the scheduler. */
  send(frame: Uint8Array): void;
  executor: Executor;
  fetcher: PeerFetcher;
  store?: Store;
  logger?: Logger;
  /** Memory the host uses beyond the stored bytes (e.g. its JS heap), in bytes. */
  hostMemory?: () => number;
  heartbeatIntervalMs?: number;
  schedule?: TurnScheduler;
}

interface Task {
  msg: ComputeTask;
  source: string;
  state: 'fetching' | 'ready' | 'running';
  abort: AbortController;
  /** Dependency bytes gathered so far; fetched ones are held in the DepCache. */
  deps: Map<string, Uint8Array>;
  fetched: string[];
}

type DepResult = { bytes: Uint8Array } | { missingAt: string };

export class WorkerCore {
  readonly store: Store;
  private readonly deps = new DepCache();
  private readonly sources = new Map<string, string>();
  private readonly tasks = new Map<string, Task>();
  private readonly ready: Task[] = [];
  private readonly inflight = new Map<string, Promise<DepResult>>();
  private readonly batcher: Batcher<Outgoing>;
  private readonly closing = new AbortController();
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private readonly log: Logger;
  private running = 0;
  private done = 0;

  constructor(private readonly o: WorkerCoreOptions) {
    this.store = o.store ?? new Store();
    this.log = o.logger ?? silentLogger;
    this.batcher = new Batcher((batch) => o.send(encodeFrame(batch)), o.schedule);
    this.heartbeat = setInterval(() => this.sendHeartbeat(), o.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS);
    this.sendHeartbeat();
  }

  /** Tasks held (fetching, ready or running), tasks finished, and threads busy. */
  get stats(): { tasks: number; done: number; running: number; bytesStored: number } {
    return { tasks: this.tasks.size, done: this.done, running: this.running, bytesStored: this.store.bytes };
  }

  get memoryUsed(): number {
    return this.store.bytes + this.deps.bytes + (this.o.hostMemory?.() ?? 0);
  }

  /** Parses one frame from the scheduler (untrusted bytes) and acts on each valid message. */
  handleFrame(bytes: Uint8Array): void {
    const { messages, errors } = parseFrame(bytes, WorkerChannel.ServerToWorker, serverToWorkerTypes);
    for (const e of errors) this.log.warn('refused a message from the scheduler', { code: e.code, message: e.message });
    this.handleMessages(messages);
  }

  handleMessages(messages: readonly WorkerChannel.ServerToWorker[]): void {
    if (this.closing.signal.aborted) return;
    for (const msg of messages) {
      switch (msg.type) {
        case 'compute-task':
          this.computeTask(msg);
          break;
        case 'free-keys':
          this.freeKeys(msg.keys);
          break;
        case 'welcome':
          this.log.debug('ignored a repeated welcome');
          break;
        case 'error':
          this.log.warn('the scheduler reported an error', { code: msg.code, message: msg.message, replyTo: msg.replyTo });
          break;
        default:
          msg satisfies never;
      }
    }
  }

  /** Stops heartbeats, cancels every task and drops queued messages (the link is going away). */
  close(): void {
    if (this.closing.signal.aborted) return;
    clearInterval(this.heartbeat);
    this.closing.abort(new CancelledError('worker closing'));
    for (const task of this.tasks.values()) task.abort.abort(new CancelledError('worker closing'));
    this.tasks.clear();
    this.ready.length = 0;
    this.batcher.clear();
  }

  /** Sends what is queued now (e.g. before a clean close). */
  flush(): void {
    this.batcher.flushNow();
  }

  private send(msg: Outgoing): void {
    if (!this.closing.signal.aborted) this.batcher.send(msg);
  }

  private sendHeartbeat(): void {
    this.send({ type: 'heartbeat', memoryUsed: Math.max(0, Math.round(this.memoryUsed)) });
  }

  private computeTask(msg: ComputeTask): void {
    if (msg.source !== undefined) this.sources.set(msg.fn, msg.source);
    if (this.tasks.has(msg.key)) {
      this.log.debug('ignored a repeated compute-task', { key: msg.key });
      return;
    }
    const stored = this.store.get(msg.key);
    if (stored) {
      const now = Date.now();
      this.reportFinished(msg.key, stored, { startedAt: now, stoppedAt: now, thread: 0 });
      return;
    }
    const source = this.sources.get(msg.fn);
    if (source === undefined) {
      return this.reportErred(msg.key, errorToWire(new ProtocolError(`no source for function '${msg.fnName}' (${msg.fn}) was sent to this worker`)));
    }
    if (this.tasks.size >= MAX_QUEUED_TASKS) {
      return this.reportErred(msg.key, errorToWire(new ProtocolError(`worker holds ${MAX_QUEUED_TASKS} tasks already`)));
    }
    const task: Task = { msg, source, state: 'fetching', abort: new AbortController(), deps: new Map(), fetched: [] };
    this.tasks.set(msg.key, task);
    void this.gatherDeps(task);
  }

  private async gatherDeps(task: Task): Promise<void> {
    const waits: [string, Promise<DepResult>][] = [];
    const groups = new Map<string, { holders: ComputeTask['deps'][number]['holders']; keys: string[] }>();
    for (const dep of task.msg.deps) {
      const local = this.store.get(dep.key);
      if (local) {
        task.deps.set(dep.key, local);
        continue;
      }
      const cached = this.deps.peek(dep.key);
      if (cached) {
        this.deps.acquire(dep.key, cached);
        task.fetched.push(dep.key);
        task.deps.set(dep.key, cached);
        continue;
      }
      const pending = this.inflight.get(dep.key);
      if (pending) {
        waits.push([dep.key, pending]);
        continue;
      }
      const signature = dep.holders.map((h) => h.address).join('\n');
      const group = groups.get(signature) ?? { holders: dep.holders, keys: [] };
      group.keys.push(dep.key);
      groups.set(signature, group);
    }
    for (const { holders, keys } of groups.values()) {
      // The fetcher rejects only when the worker closes; every waiter then finds its task gone.
      const fetched = this.o.fetcher
        .fetch(holders, keys, { signal: this.closing.signal })
        .catch((): FetchResult => ({ values: new Map(), missing: keys.map((key) => ({ key, holder: holders[0]?.id ?? '' })) }));
      for (const key of keys) {
        const one = fetched.then((r): DepResult => {
          const bytes = r.values.get(key);
          return bytes ? { bytes } : { missingAt: r.missing.find((m) => m.key === key)?.holder ?? '' };
        });
        this.inflight.set(key, one);
        void one.then(() => this.inflight.delete(key));
        waits.push([key, one]);
      }
    }
    const results = await Promise.all(waits.map(async ([key, p]) => [key, await p] as const));
    let missing: { dep: string; holder: string } | undefined;
    for (const [key, r] of results) {
      if ('bytes' in r) {
        this.deps.acquire(key, r.bytes);
        task.fetched.push(key);
        task.deps.set(key, r.bytes);
      } else {
        missing ??= { dep: key, holder: r.missingAt };
      }
    }
    if (this.tasks.get(task.msg.key) !== task) return this.releaseDeps(task);
    if (missing) {
      this.log.info('dependency unavailable: dropping the task for the scheduler to re-plan', { key: task.msg.key, ...missing });
      this.tasks.delete(task.msg.key);
      this.releaseDeps(task);
      this.send({ type: 'dep-missing', key: task.msg.key, dep: missing.dep, holder: missing.holder });
      return;
    }
    task.state = 'ready';
    this.ready.push(task);
    this.pump();
  }

  private releaseDeps(task: Task): void {
    for (const key of task.fetched) this.deps.release(key);
    task.fetched = [];
    task.deps.clear();
  }

  private pump(): void {
    while (this.running < this.o.executor.threads && this.ready.length > 0) {
      const task = this.ready.shift() as Task;
      if (this.tasks.get(task.msg.key) !== task) continue;
      void this.run(task);
    }
  }

  private async run(task: Task): Promise<void> {
    task.state = 'running';
    this.running++;
    const { msg } = task;
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (msg.timeoutMs !== undefined) {
      timer = setTimeout(() => task.abort.abort(new TimeoutError(`task '${msg.key}' ran past its timeout of ${msg.timeoutMs} ms`)), msg.timeoutMs);
    }
    const job = { key: msg.key, fn: msg.fn, fnName: msg.fnName, source: task.source, args: msg.args, deps: task.deps };
    const outcome = await this.o.executor.run(job, task.abort.signal);
    clearTimeout(timer);
    this.running--;
    this.releaseDeps(task);
    if (this.tasks.get(msg.key) === task) {
      this.tasks.delete(msg.key);
      this.done++;
      if (outcome.ok) {
        this.store.put(msg.key, outcome.bytes);
        this.reportFinished(msg.key, outcome.bytes, outcome);
      } else {
        this.reportErred(msg.key, outcome.error, outcome);
      }
    }
    this.pump();
  }

  private freeKeys(keys: readonly string[]): void {
    for (const key of keys) {
      this.store.delete(key);
      const task = this.tasks.get(key);
      if (!task) continue;
      this.tasks.delete(key);
      task.abort.abort(new CancelledError(`task '${key}' was freed by the scheduler`));
    }
  }

  private reportFinished(key: string, bytes: Uint8Array, t: { startedAt: number; stoppedAt: number; thread: number }): void {
    const msg: Outgoing = { type: 'task-finished', key, nbytes: bytes.byteLength, startedAt: t.startedAt, stoppedAt: t.stoppedAt, thread: t.thread };
    if (bytes.byteLength <= INLINE_VALUE_MAX_BYTES) msg.value = bytes;
    this.send(msg);
  }

  private reportErred(key: string, error: WireError, t?: { startedAt: number; stoppedAt: number; thread: number }): void {
    const now = Date.now();
    const wire: WireError = { ...error, key, workerId: this.o.workerId };
    if (wire.stack === undefined) delete wire.stack;
    this.send({ type: 'task-erred', key, error: wire, startedAt: t?.startedAt ?? now, stoppedAt: t?.stoppedAt ?? now, thread: t?.thread ?? 0 });
  }
}

