/**
 * A pool of task threads, for both executors: worker_threads in Node (node/thread-pool.ts) and
 * module Web Workers in a tab (browser/thread-pool.ts). Those only make, start and stop a thread
 * (a PoolHost); everything else is here.
 *
 * Each job goes to an idle thread with its inputs: bytes in shared memory as they are, so the task
 * sees the stored bytes themselves; others as copies, transferred (so copied once). The function's
 * source goes only to threads that have not seen it. An abort (timeout, free-keys) or a dying
 * thread ends that thread and a fresh one takes its index.
 *
 * A job whose thread reports that it waits on tasks of its own (secede) stops counting: the pool
 * may then hold one more job, and starts an extra thread for it when none is idle. When the job
 * rejoins or ends, the pool is one over, and the next thread to come free is stopped.
 */
import { CancelledError, ErrorCode, TimeoutError, errorToWire, type WireError } from '@meshwork/protocol';
import { MAX_EXTRA_THREADS, THREAD_START_TIMEOUT_MS } from '../constants.js';
import type { Executor, Job, Outcome, RunHooks } from './interfaces.js';
import { silentLogger, type Logger } from './logger.js';
import { ModuleError, type ModuleSources } from './modules.js';
import type { TaskReply, TaskRequest } from './task-runner.js';
import { firstOf, type FirstOf, type ThreadEnd } from './thread-end.js';

/** One thread, as its host made it. */
export interface HostThread {
  /** Runs one request in the thread; the buffers listed are transferred, not copied. */
  run(req: TaskRequest, transfer: ArrayBuffer[]): Promise<TaskReply>;
  /** Ends with the reason when the thread exits, crashes or is stopped. */
  readonly end: ThreadEnd;
  /** Settles once the thread answers its first call; rejects if it fails to start. */
  ready(): Promise<void>;
  /** Stops the thread; its end settles. */
  stop(reason: Error): Promise<void>;
}

/** How one kind of host makes threads. */
export interface PoolHost {
  /** Makes thread `index`; it calls `onWait` when its job starts or stops waiting on tasks of its own. */
  spawn(index: number, onWait: (waiting: boolean) => void): HostThread;
  /** What a thread is called in messages ("thread", "Web Worker"). */
  readonly noun: string;
}

export interface ThreadPoolCoreOptions {
  threads: number;
  logger?: Logger | undefined;
  /** Where uploaded modules' sources come from (fetched by the host with its token); without it, module tasks fail. */
  modules?: ModuleSources | undefined;
}

interface Slot {
  index: number;
  thread: HostThread;
  /** Function ids whose source this thread has been sent. */
  seen: Set<string>;
  /** The hooks of the job it runs, while it runs one. */
  current: RunHooks | undefined;
  /** Its job waits on tasks of its own. */
  seceded: boolean;
}

/** Shared memory exists only where it is allowed (a tab that is not cross-origin isolated has none). */
const isShared = (bytes: Uint8Array): boolean =>
  typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer;

/** Bytes in shared memory go to a thread as they are; others as a copy the thread owns. */
function forThread(bytes: Uint8Array): Uint8Array {
  if (isShared(bytes)) return bytes;
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}

const transferable = (bytes: Uint8Array): ArrayBuffer[] => (isShared(bytes) ? [] : [bytes.buffer as ArrayBuffer]);

export class ThreadPoolCore implements Executor {
  readonly threads: number;
  private readonly slots: Slot[] = [];
  private readonly idle: Slot[] = [];
  private readonly waiters: ((slot: Slot | null) => void)[] = [];
  protected readonly log: Logger;
  private seceded = 0;
  private closed = false;

  protected constructor(
    private readonly host: PoolHost,
    private readonly o: ThreadPoolCoreOptions,
  ) {
    if (!Number.isInteger(o.threads) || o.threads < 1) throw new RangeError(`threads must be a positive integer, got ${o.threads}`);
    this.threads = o.threads;
    this.log = o.logger ?? silentLogger;
  }

  /** Starts every thread and waits until each answers (bounded by THREAD_START_TIMEOUT_MS). */
  protected async startThreads(): Promise<void> {
    for (let i = 0; i < this.threads; i++) this.slots.push(this.spawn(i));
    try {
      await Promise.all(this.slots.map((s) => this.ready(s)));
    } catch (e) {
      await this.close();
      throw e;
    }
    this.idle.push(...this.slots);
  }

  /** Threads alive or starting (more than `threads` while jobs are seceded). */
  get size(): number {
    return this.slots.length;
  }

  /** Threads running a job now. */
  get busy(): number {
    return this.slots.filter((s) => s.current !== undefined).length;
  }

  async run(job: Job, signal: AbortSignal, hooks: RunHooks = {}): Promise<Outcome> {
    const startedAt = Date.now();
    const fail = (error: WireError, thread: number): Outcome => ({ ok: false, error, startedAt, stoppedAt: Date.now(), thread });
    if (signal.aborted) return fail(errorToWire(signal.reason), 0);
    const slot = await this.acquire();
    if (!slot) return fail(errorToWire(new CancelledError('the thread pool closed')), 0);
    if (signal.aborted) {
      this.release(slot);
      return fail(errorToWire(signal.reason), slot.index);
    }
    slot.current = hooks;
    hooks.onStart?.();
    // A failed call (e.g. a value could not be cloned) counts as aborted: the thread is in an unknown state.
    let r: FirstOf<TaskReply>;
    try {
      r = await firstOf(this.call(slot, job), slot.thread.end, signal);
    } finally {
      this.endJob(slot);
    }
    if ('died' in r) {
      this.replace(slot);
      const message = `the ${this.host.noun} running task '${job.key}' died: ${r.died.message}`;
      return fail({ code: ErrorCode.REMOTE_ERROR, name: 'ThreadDiedError', message }, slot.index);
    }
    if ('aborted' in r) {
      this.replace(slot);
      return fail(errorToWire(r.aborted, signal.aborted ? {} : { code: ErrorCode.REMOTE_ERROR }), slot.index);
    }
    this.release(slot);
    if (r.ok) return { ok: true, bytes: r.bytes, hash: r.hash, startedAt: r.startedAt, stoppedAt: r.stoppedAt, thread: slot.index };
    if ('needSource' in r) return fail(errorToWire(new Error(`${this.host.noun} asked twice for a source`)), slot.index);
    return { ok: false, error: r.error, startedAt: r.startedAt, stoppedAt: r.stoppedAt, thread: slot.index };
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    this.idle.length = 0;
    for (const waiter of this.waiters.splice(0)) waiter(null);
    await Promise.all(slots.map((s) => s.thread.stop(new CancelledError('the thread pool closed'))));
  }

  private async call(slot: Slot, job: Job): Promise<TaskReply> {
    const startedAt = Date.now();
    const { modules } = this.o;
    const request = async (withSource: boolean): Promise<TaskRequest> => ({
      fn: job.fn,
      fnName: job.fnName,
      source: withSource ? job.source : undefined,
      module: withSource ? job.module : undefined,
      // Fetched by the host with its token: a thread gets a module's text, never a credential.
      moduleSource: withSource && job.module && modules ? await modules.get(job.module) : undefined,
      capability: job.capability,
      args: forThread(job.args),
      deps: [...job.deps].map(([key, bytes]) => [key, forThread(bytes)]),
    });
    const send = (req: TaskRequest): Promise<TaskReply> =>
      slot.thread.run(req, [...transferable(req.args), ...req.deps.flatMap(([, b]) => transferable(b))]);
    try {
      let reply = await send(await request(!slot.seen.has(job.fn)));
      if (!reply.ok && 'needSource' in reply) reply = await send(await request(true));
      slot.seen.add(job.fn);
      return reply;
    } catch (e) {
      // The module could not be fetched: the task fails, and its thread, untouched, stays.
      if (!(e instanceof ModuleError)) throw e;
      return { ok: false, error: errorToWire(e, { code: ErrorCode.REMOTE_ERROR }), startedAt, stoppedAt: Date.now() };
    }
  }

  /** The thread's job started or stopped waiting on tasks of its own. */
  private onWait(slot: Slot, waiting: boolean): void {
    if (!slot.current || slot.seceded === waiting || !this.slots.includes(slot)) return;
    slot.seceded = waiting;
    this.seceded += waiting ? 1 : -1;
    slot.current.onWait?.(waiting);
    if (waiting) this.grow();
  }

  private endJob(slot: Slot): void {
    slot.current = undefined;
    if (slot.seceded) {
      slot.seceded = false;
      this.seceded--;
    }
  }

  /** Threads the pool may hold now. */
  private get capacity(): number {
    return this.threads + Math.min(this.seceded, MAX_EXTRA_THREADS);
  }

  /** Starts an extra thread when a job waits for one and the pool is under capacity. */
  private grow(): void {
    if (this.closed || this.waiters.length === 0 || this.slots.length >= this.capacity) return;
    const slot = this.spawn(this.freeIndex());
    this.slots.push(slot);
    this.log.debug(`starting an extra ${this.host.noun} for a seceded task`, { thread: slot.index });
    this.startInPlace(slot, `an extra ${this.host.noun}`);
  }

  private freeIndex(): number {
    const used = new Set(this.slots.map((s) => s.index));
    let i = 0;
    while (used.has(i)) i++;
    return i;
  }

  private spawn(index: number): Slot {
    // The host calls onWait only once the thread runs a job, long after `slot` is set.
    const slot: Slot = { index, thread: this.host.spawn(index, (waiting) => this.onWait(slot, waiting)), seen: new Set(), current: undefined, seceded: false };
    void slot.thread.end.promise.then((e) => {
      if (!this.closed) this.log.debug(`${this.host.noun} ended`, { thread: index, reason: e.message });
    });
    return slot;
  }

  private async ready(slot: Slot): Promise<void> {
    const { noun } = this.host;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`${noun} ${slot.index} did not start within ${THREAD_START_TIMEOUT_MS} ms`)), THREAD_START_TIMEOUT_MS);
    });
    const failed = (e: Error): never => {
      throw new Error(`${noun} ${slot.index} failed to start: ${e.message}`);
    };
    try {
      await Promise.race([slot.thread.ready().catch(failed), timeout, slot.thread.end.promise.then(failed)]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends a thread busy with an abandoned job and, unless the pool is over capacity, starts a fresh one in its place. */
  private replace(slot: Slot): void {
    if (this.closed || this.slots.length > this.capacity) return this.remove(slot);
    void slot.thread.stop(new CancelledError('replaced'));
    const fresh = this.spawn(slot.index);
    this.slots[this.slots.indexOf(slot)] = fresh;
    this.startInPlace(fresh, `a replacement ${this.host.noun}`);
  }

  private startInPlace(slot: Slot, what: string): void {
    this.ready(slot).then(
      () => this.release(slot),
      (e: unknown) => {
        this.log.error(`${what} failed to start`, { thread: slot.index, error: e });
        this.remove(slot);
      },
    );
  }

  private remove(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    void slot.thread.stop(new CancelledError('removed'));
  }

  private acquire(): Promise<Slot | null> {
    const slot = this.idle.pop();
    if (slot) return Promise.resolve(slot);
    const waiting = new Promise<Slot | null>((resolve) => this.waiters.push(resolve));
    this.grow();
    return waiting;
  }

  /** A thread came free: to a waiting job, else stopped if the pool is over capacity, else idle. */
  private release(slot: Slot): void {
    if (this.closed || !this.slots.includes(slot)) return;
    const waiter = this.waiters.shift();
    if (waiter) return waiter(slot);
    if (this.slots.length > this.capacity) {
      this.log.debug(`stopping an extra ${this.host.noun}`, { thread: slot.index });
      return this.remove(slot);
    }
    this.idle.push(slot);
  }
}
