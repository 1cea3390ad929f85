/**
 * The worker core, runtime-free: tasks from `compute-task` wait for their dependencies (fetched
 * through the injected PeerFetcher), queue, and run on the injected Executor; results go into the
 * store and are reported; `free-keys` drops data and abandons tasks; `steal-request` gives back
 * a task that has not started; `run-function` runs once on a separate executor. The host feeds
 * in every frame after `welcome`.
 *
 * Task states: fetching (deps on their way) → ready (queued, FIFO: the scheduler orders) → sent
 * (given to the executor, which may queue it behind a thread's running task) → running (on a
 * thread; `seceded` while it waits on tasks of its own) → gone (reported, freed, stolen or
 * dropped). At most `jobsAtOnce` tasks are sent or running that have not seceded; one that has
 * not started can still be stolen. `acquire` copies values
 * from their holders into the store and answers `acquired` (acquire.ts).
 *
 * Memory in use (heartbeat `memoryUsed`) is the bytes of values held: the store plus fetched
 * dependencies. Not the process RSS: that moves with the garbage collector and V8's heap sizing,
 * is shared with the threads, and cannot be freed by anything the scheduler decides.
 */
import {
  CancelledError,
  INLINE_VALUE_MAX_BYTES,
  ProtocolError,
  TimeoutError,
  WorkerChannel,
  errorToWire,
  parseFrame,
  type SignalPayload,
  type TurnScheduler,
  type WireError,
} from '@meshwork/protocol';
import { MAX_QUEUED_TASKS } from '../constants.js';
import { acquireValues } from './acquire.js';
import { AnnouncedPuts } from './announced-puts.js';
import { DepGatherer } from './dep-gatherer.js';
import { serverToWorkerTypes } from './handshake.js';
import type { Digest, Executor, Job, ModuleRef, Outcome, PeerFetcher } from './interfaces.js';
import { silentLogger, type Logger } from './logger.js';
import { Outbox, type Ticker } from './outbox.js';
import { runFunction } from './run-function.js';
import { DepCache, Store } from './store.js';
import type { TransferStats } from './transfer-stats.js';

type ComputeTask = WorkerChannel.ComputeTask;
type Acquire = Extract<WorkerChannel.ServerToWorker, { type: 'acquire' }>;
type Timing = { startedAt: number; stoppedAt: number; thread: number };

export interface WorkerCoreOptions {
  workerId: string;
  /** Sends one encoded control frame to the scheduler. */
  send(frame: Uint8Array): void;
  executor: Executor;
  /** Runs `run-function` (client.run) apart from tasks; without it those are answered with an error. */
  runExecutor?: Executor;
  fetcher: PeerFetcher;
  store?: Store;
  /** A value this worker held (stored or fetched for a task) was dropped: `bytes` may be reclaimed. */
  onDrop?: (bytes: number) => void;
  /** Bytes this worker should hold at most; null or absent for no limit. */
  memoryLimit?: number | null;
  logger?: Logger;
  heartbeatIntervalMs?: number;
  /** What drives interval heartbeats (default setInterval; a browser tab drives them from a Web Worker). */
  heartbeatTicker?: Ticker;
  /** How messages are batched per turn (default: setImmediate, or setTimeout 0). */
  schedule?: TurnScheduler;
  /** Hashes values (the host's fastest value hash); without it, results are reported without a hash. */
  digest?: Digest;
  /** Bytes traded with peers: what changed rides on each heartbeat. */
  stats?: TransferStats;
  /** Receives WebRTC signals relayed from other workers (the host's WebRTC transport). */
  onSignal?: (from: string, payload: SignalPayload) => void;
  /** Receives peer data the scheduler relays (the host's relay transport). */
  onRelay?: (msg: WorkerChannel.RelayFrom) => void;
}

/** A function as the scheduler sent it: source text, or (with `module`) an export's name. */
interface FunctionSpec {
  source: string;
  module: ModuleRef | undefined;
}

interface Task {
  msg: ComputeTask;
  fn: FunctionSpec;
  state: 'fetching' | 'ready' | 'sent' | 'running';
  abort: AbortController;
  /** Dependency bytes, once gathered; `fetched` ones are held in the DepCache. */
  deps: Map<string, Uint8Array>;
  fetched: string[];
  seceded: boolean;
}

export class WorkerCore {
  readonly store: Store;
  private readonly cache: DepCache;
  private readonly gatherer: DepGatherer;
  private readonly outbox: Outbox;
  private readonly fns = new Map<string, FunctionSpec>();
  private readonly tasks = new Map<string, Task>();
  private readonly ready: Task[] = [];
  private readonly closing = new AbortController();
  private readonly log: Logger;
  /** What clients may put here (expect-put). */
  private readonly announced: AnnouncedPuts;
  /** Announced puts taken this turn, reported together (`puts-stored`). */
  private putsTaken: string[] | null = null;
  /** Tasks given to the executor (sent or running). */
  private running = 0;
  /** Of those, the ones that started on a thread. */
  private started = 0;
  private seceded = 0;
  private done = 0;

  constructor(private readonly o: WorkerCoreOptions) {
    this.store = o.store ?? new Store(o.onDrop);
    this.cache = new DepCache(o.onDrop);
    this.announced = new AnnouncedPuts(o.digest);
    this.log = o.logger ?? silentLogger;
    this.gatherer = new DepGatherer(this.store, this.cache, o.fetcher, () => this.outbox.memoryChanged());
    const outbox: ConstructorParameters<typeof Outbox>[0] = { send: (frame) => o.send(frame), memoryUsed: () => this.memoryUsed, memoryLimit: o.memoryLimit ?? null };
    if (o.stats) outbox.traffic = (limit) => o.stats?.takeChanged(limit) ?? [];
    if (o.heartbeatIntervalMs !== undefined) outbox.intervalMs = o.heartbeatIntervalMs;
    if (o.heartbeatTicker !== undefined) outbox.ticker = o.heartbeatTicker;
    if (o.schedule !== undefined) outbox.schedule = o.schedule;
    this.outbox = new Outbox(outbox);
  }

  /** Tasks held (fetching, ready or running), tasks finished, tasks on threads, and of those the seceded. */
  get stats(): { tasks: number; done: number; running: number; seceded: number; bytesStored: number } {
    return { tasks: this.tasks.size, done: this.done, running: this.started, seceded: this.seceded, bytesStored: this.store.bytes };
  }

  /** Bytes of values held: stored plus fetched dependencies (see the file comment). */
  get memoryUsed(): number {
    return this.store.bytes + this.cache.bytes;
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
        case 'steal-request':
          this.steal(msg.key);
          break;
        case 'acquire':
          void this.acquire(msg);
          break;
        case 'expect-put':
          this.announced.announce(msg.items);
          break;
        case 'run-function':
          void runFunction(msg, { executor: this.o.runExecutor, workerId: this.o.workerId, closing: this.closing.signal, send: (m) => this.outbox.send(m) });
          break;
        case 'signal':
          if (this.o.onSignal) this.o.onSignal(msg.from, msg.payload);
          else this.log.debug('ignored a WebRTC signal: this worker has no WebRTC transport', { from: msg.from });
          break;
        case 'relay':
          if (this.o.onRelay) this.o.onRelay(msg);
          else if (!msg.close) this.log.debug('ignored relayed peer data: this worker has no relay transport', { from: msg.from });
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

  /**
   * Stores a value a client put here (scatter): only what the scheduler announced to this worker
   * for it (`expect-put`: the key, its size and value hash; announced-puts.ts), and never over
   * another value (the same bytes again are accepted). Refused past the memory limit too. The
   * scheduler learns of the key from the client, not from this worker, and until it lists this
   * worker as a holder the bytes are no task's input here (see `listedHere`).
   */
  async putData(key: string, bytes: Uint8Array): Promise<{ ok: true } | { ok: false; message: string }> {
    if (this.closing.signal.aborted) return { ok: false, message: 'the worker is closing' };
    const existing = this.store.get(key);
    if (existing) {
      if (sameBytes(existing, bytes)) {
        // No later put can use an announcement for a key held here: the scheduler stops counting it.
        if (this.announced.discard(key)) this.putTaken(key);
        return { ok: true };
      }
      return { ok: false, message: `another value is stored under ${key.slice(0, 64)} here: a client cannot overwrite it` };
    }
    const limit = this.o.memoryLimit;
    if (limit != null && bytes.byteLength > limit - this.memoryUsed) {
      const remaining = Math.max(0, limit - this.memoryUsed);
      return { ok: false, message: `a value of ${bytes.byteLength} bytes is over this worker's remaining memory (${remaining} of ${limit} bytes)` };
    }
    const verdict = await this.announced.check(key, bytes, this.closing.signal);
    if (!verdict.ok) return verdict;
    if (this.closing.signal.aborted) return { ok: false, message: 'the worker is closing' };
    if (this.store.has(key)) return { ok: false, message: `a value was stored under ${key.slice(0, 64)} here meanwhile` };
    this.store.put(key, bytes, verdict.hash);
    this.outbox.memoryChanged();
    this.putTaken(key);
    return { ok: true };
  }

  /** Tells the scheduler, once per turn for all of them, which announcements were used up. */
  private putTaken(key: string): void {
    if (this.putsTaken) return void this.putsTaken.push(key);
    const keys = (this.putsTaken = [key]);
    queueMicrotask(() => {
      this.putsTaken = null;
      this.outbox.send({ type: 'puts-stored', keys });
    });
  }

  /** Stops heartbeats, abandons every task and run, and drops queued messages (the link is going away). */
  close(): void {
    if (this.closing.signal.aborted) return;
    const reason = new CancelledError('worker closing');
    this.closing.abort(reason);
    this.outbox.close();
    for (const task of this.tasks.values()) task.abort.abort(reason);
    this.tasks.clear();
    this.ready.length = 0;
    this.gatherer.close(reason);
  }

  /** Sends what is queued now (e.g. before a clean close). */
  flush(): void {
    this.outbox.flush();
  }

  private computeTask(msg: ComputeTask): void {
    if (msg.source !== undefined) this.fns.set(msg.fn, { source: msg.source, module: msg.module });
    if (this.tasks.has(msg.key)) {
      this.log.debug('ignored a repeated compute-task', { key: msg.key });
      return;
    }
    // A value stored under the key already is not the task's result: a client may have put it
    // here before the task existed. The task runs; its result replaces what is stored.
    const fn = this.fns.get(msg.fn);
    if (fn === undefined) {
      return this.reportErred(msg.key, errorToWire(new ProtocolError(`no source for function '${msg.fnName}' (${msg.fn}) was sent to this worker`)));
    }
    if (this.tasks.size >= MAX_QUEUED_TASKS) {
      return this.reportErred(msg.key, errorToWire(new ProtocolError(`worker holds ${MAX_QUEUED_TASKS} tasks already`)));
    }
    const task: Task = { msg, fn, state: 'fetching', abort: new AbortController(), deps: new Map(), fetched: [], seceded: false };
    this.tasks.set(msg.key, task);
    void this.gatherDeps(task);
  }

  private async gatherDeps(task: Task): Promise<void> {
    let gathered;
    try {
      gathered = await this.gatherer.gather(task.msg.deps, task.abort.signal);
    } catch {
      return; // the task was abandoned (stolen, freed, or the worker is closing)
    }
    if (this.tasks.get(task.msg.key) !== task) {
      if (gathered.ok) this.gatherer.release(gathered.fetched);
      return;
    }
    if (!gathered.ok) {
      this.log.info('dependency unavailable: dropping the task for the scheduler to re-plan', { key: task.msg.key, dep: gathered.dep, holder: gathered.holder });
      this.tasks.delete(task.msg.key);
      const blamed = gathered.holder === undefined ? {} : { holder: gathered.holder };
      this.outbox.send({ type: 'dep-missing', key: task.msg.key, dep: gathered.dep, ...blamed });
      return;
    }
    task.deps = gathered.deps;
    task.fetched = gathered.fetched;
    task.state = 'ready';
    this.ready.push(task);
    this.pump();
  }

  private pump(): void {
    const { executor } = this.o;
    while (this.running - this.seceded < (executor.jobsAtOnce ?? executor.threads) && this.ready.length > 0) {
      const task = this.ready.shift() as Task;
      if (this.tasks.get(task.msg.key) !== task) continue;
      void this.run(task);
    }
  }

  private async run(task: Task): Promise<void> {
    task.state = 'sent';
    this.running++;
    const { msg } = task;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const { timeoutMs } = msg;
    let started = false;
    const onStart = (): void => {
      if (started) return;
      task.state = 'running';
      started = true;
      this.started++;
      if (timeoutMs === undefined) return;
      timer = setTimeout(() => task.abort.abort(new TimeoutError(`task '${msg.key}' ran past its timeout of ${timeoutMs} ms`)), timeoutMs);
    };
    const job: Job = { key: msg.key, fn: msg.fn, fnName: msg.fnName, source: task.fn.source, module: task.fn.module, capability: msg.capability, args: msg.args, deps: task.deps };
    let outcome: Outcome;
    try {
      outcome = await this.o.executor.run(job, task.abort.signal, { onWait: (waiting) => this.onWait(task, waiting), onStart });
    } catch (e) {
      // An executor must not reject; if one does, the task errs rather than staying 'running' for ever.
      outcome = { ok: false, error: errorToWire(e), startedAt: Date.now(), stoppedAt: Date.now(), thread: 0 };
    }
    clearTimeout(timer);
    this.running--;
    if (started) this.started--;
    if (task.seceded) {
      // It ended while seceded: its task-finished/erred stands for the rejoin.
      task.seceded = false;
      this.seceded--;
    }
    this.gatherer.release(task.fetched);
    task.fetched = [];
    task.deps = new Map();
    if (this.tasks.get(msg.key) === task) {
      this.tasks.delete(msg.key);
      this.done++;
      if (outcome.ok) {
        this.store.put(msg.key, outcome.bytes, outcome.hash);
        this.outbox.memoryChanged();
        this.reportFinished(msg.key, outcome.bytes, outcome, outcome.hash);
      } else {
        this.reportErred(msg.key, outcome.error, outcome);
      }
    }
    this.pump();
  }

  /** A running task started or stopped waiting on tasks of its own (secede / rejoin). */
  private onWait(task: Task, waiting: boolean): void {
    if (this.tasks.get(task.msg.key) !== task || task.state !== 'running' || task.seceded === waiting) return;
    task.seceded = waiting;
    this.seceded += waiting ? 1 : -1;
    this.outbox.send({ type: waiting ? 'task-seceded' : 'task-rejoined', key: task.msg.key });
    if (waiting) this.pump();
  }

  private freeKeys(keys: readonly string[]): void {
    for (const key of keys) {
      this.store.delete(key);
      const task = this.tasks.get(key);
      if (task) this.abandon(task, new CancelledError(`task '${key}' was freed by the scheduler`));
    }
    this.outbox.memoryChanged();
  }

  /** Gives a task back if it has not started (fetching, queued, or sent but waiting behind another); a running one stays. */
  private steal(key: string): void {
    const task = this.tasks.get(key);
    const ok = task !== undefined && task.state !== 'running';
    if (ok) this.abandon(task, new CancelledError(`task '${key}' was stolen by another worker`));
    this.outbox.send({ type: 'steal-response', key, ok });
  }

  /** Forgets a task and aborts whatever it is doing (its dependency fetch, or its thread). */
  private abandon(task: Task, reason: Error): void {
    this.tasks.delete(task.msg.key);
    task.abort.abort(reason);
  }

  /** Copies values into the store for the scheduler (see acquire.ts) and says what arrived. */
  private async acquire({ id, items }: Acquire): Promise<void> {
    const { store, cache } = this;
    try {
      const got = await acquireValues(items, { store, cache, fetcher: this.o.fetcher, signal: this.closing.signal });
      this.log.debug('acquired values for the scheduler', { id, stored: got.items.length, missing: got.missing });
      this.outbox.memoryChanged();
      this.outbox.send({ type: 'acquired', id, ...got });
    } catch {
      // The worker is closing: no answer (the scheduler learns from the closed connection).
    }
  }

  private reportFinished(key: string, bytes: Uint8Array, t: Timing, hash?: string): void {
    const msg: WorkerChannel.WorkerToServer = { type: 'task-finished', key, nbytes: bytes.byteLength, startedAt: t.startedAt, stoppedAt: t.stoppedAt, thread: t.thread };
    if (hash !== undefined) msg.hash = hash;
    if (bytes.byteLength <= INLINE_VALUE_MAX_BYTES) msg.value = bytes;
    this.outbox.send(msg);
  }

  private reportErred(key: string, error: WireError, t?: Timing): void {
    const now = Date.now();
    const wire: WireError = { ...error, key, workerId: this.o.workerId };
    if (wire.stack === undefined) delete wire.stack;
    this.outbox.send({ type: 'task-erred', key, error: wire, startedAt: t?.startedAt ?? now, stoppedAt: t?.stoppedAt ?? now, thread: t?.thread ?? 0 });
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
