/**
 * The browser executor: a pool of module Web Workers driven through comlink (the twin of
 * node/thread-pool.ts). Each job goes to an idle thread with copies of its inputs, transferred
 * (so copied once: the page's store keeps its own to serve peers, and a page that is not
 * cross-origin isolated has no shared memory; bytes that are shared go as they are), and the task
 * decodes views of that copy; the function's source goes only to threads that have not seen it;
 * the result's buffer is transferred back, not copied. An abort (timeout, free-keys, leaving) terminates that Web Worker
 * and a fresh one takes its index.
 *
 * A job whose thread reports that it waits on tasks of its own (secede) stops counting: the pool
 * may then hold one more job, and starts an extra thread for it when none is idle. When the job
 * rejoins or ends, the pool is one over, and the next thread to come free is stopped.
 */
import * as Comlink from 'comlink';
import { CancelledError, ErrorCode, TimeoutError, errorToWire, type WireError } from '@meshwork/protocol';
import { MAX_EXTRA_THREADS, THREAD_START_TIMEOUT_MS } from '../constants.js';
import type { Executor, Job, Outcome, RunHooks } from '../core/interfaces.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { ModuleError, type ModuleSources } from '../core/modules.js';
import type { TaskReply, TaskRequest } from '../core/task-runner.js';
import { ThreadEnd, firstOf, type FirstOf } from '../core/thread-end.js';
import { isWaitEvent, type ThreadApi, type ThreadInit } from './thread-protocol.js';

export interface WebThreadPoolOptions {
  threads: number;
  init: ThreadInit;
  /** Where uploaded modules' sources come from (fetched by the page); without it, module tasks fail. */
  modules?: ModuleSources;
  logger?: Logger;
  /** Makes one task Web Worker; the default loads thread.ts beside this module (bundled by Vite). */
  spawn?: () => Worker;
}

interface Slot {
  index: number;
  worker: Worker;
  api: Comlink.Remote<ThreadApi>;
  /** Function ids whose source this thread has been sent. */
  seen: Set<string>;
  /** Ends with the reason when the Web Worker failed to load or was terminated. */
  end: ThreadEnd;
  kill(reason: Error): void;
  /** The hooks of the job it runs, while it runs one. */
  current: RunHooks | undefined;
  /** Its job waits on tasks of its own. */
  seceded: boolean;
}

function defaultSpawn(): Worker {
  // Literal arguments: Vite finds and bundles the thread script from exactly this expression.
  return new Worker(new URL('./thread.js', import.meta.url), { type: 'module', name: 'meshwork-task-thread' });
}

function copy(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}

/** Shared memory exists only on cross-origin isolated pages; elsewhere the global is missing. */
const isShared = (bytes: Uint8Array): boolean => typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer;

/** Bytes in shared memory go to a thread as they are; others as a copy the thread owns. */
function forThread(bytes: Uint8Array): Uint8Array {
  return isShared(bytes) ? bytes : copy(bytes);
}

function transferable(bytes: Uint8Array): ArrayBuffer[] {
  return isShared(bytes) ? [] : [bytes.buffer as ArrayBuffer];
}

export class WebThreadPool implements Executor {
  readonly threads: number;
  private readonly slots: Slot[] = [];
  private readonly idle: Slot[] = [];
  private readonly waiters: ((slot: Slot | null) => void)[] = [];
  private readonly log: Logger;
  private readonly spawnWorker: () => Worker;
  private seceded = 0;
  private closed = false;

  private constructor(private readonly o: WebThreadPoolOptions) {
    this.threads = o.threads;
    this.log = o.logger ?? silentLogger;
    this.spawnWorker = o.spawn ?? defaultSpawn;
  }

  /** Starts every Web Worker and waits until each answers (bounded by THREAD_START_TIMEOUT_MS). */
  static async start(o: WebThreadPoolOptions): Promise<WebThreadPool> {
    if (!Number.isInteger(o.threads) || o.threads < 1)
      throw new RangeError(`threads must be a positive integer, got ${o.threads}`);
    const pool = new WebThreadPool(o);
    for (let i = 0; i < o.threads; i++) pool.slots.push(pool.spawn(i));
    try {
      await Promise.all(pool.slots.map((s) => pool.ready(s)));
    } catch (e) {
      await pool.close();
      throw e;
    }
    pool.idle.push(...pool.slots);
    return pool;
  }

  /** Web Workers alive or starting (more than `threads` while jobs are seceded). */
  get size(): number {
    return this.slots.length;
  }

  /** Threads running a job now. */
  get busy(): number {
    return this.slots.filter((s) => s.current !== undefined).length;
  }

  async run(job: Job, signal: AbortSignal, hooks: RunHooks = {}): Promise<Outcome> {
    const startedAt = Date.now();
    const fail = (error: WireError, thread: number): Outcome => ({
      ok: false,
      error,
      startedAt,
      stoppedAt: Date.now(),
      thread,
    });
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
      r = await firstOf(this.call(slot, job), slot.end, signal);
    } finally {
      this.endJob(slot);
    }
    if ('died' in r) {
      this.replace(slot);
      return fail(
        {
          code: ErrorCode.REMOTE_ERROR,
          name: 'ThreadDiedError',
          message: `the Web Worker running task '${job.key}' died: ${r.died.message}`,
        },
        slot.index,
      );
    }
    if ('aborted' in r) {
      this.replace(slot);
      return fail(errorToWire(r.aborted, signal.aborted ? {} : { code: ErrorCode.REMOTE_ERROR }), slot.index);
    }
    this.release(slot);
    if (r.ok) return { ok: true, bytes: r.bytes, hash: r.hash, startedAt: r.startedAt, stoppedAt: r.stoppedAt, thread: slot.index };
    if ('needSource' in r) return fail(errorToWire(new Error('thread asked twice for a source')), slot.index);
    return { ok: false, error: r.error, startedAt: r.startedAt, stoppedAt: r.stoppedAt, thread: slot.index };
  }

  close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    this.idle.length = 0;
    for (const waiter of this.waiters.splice(0)) waiter(null);
    for (const s of slots) s.kill(new CancelledError('the thread pool closed'));
    return Promise.resolve();
  }

  private async call(slot: Slot, job: Job): Promise<TaskReply> {
    const startedAt = Date.now();
    const { modules } = this.o;
    const request = async (withSource: boolean): Promise<TaskRequest> => ({
      fn: job.fn,
      fnName: job.fnName,
      source: withSource ? job.source : undefined,
      module: withSource ? job.module : undefined,
      // Fetched by the page with its token: a Web Worker gets a module's text, never a credential.
      moduleSource: withSource && job.module && modules ? await modules.get(job.module) : undefined,
      capability: job.capability,
      args: forThread(job.args),
      deps: [...job.deps].map(([key, bytes]) => [key, forThread(bytes)]),
    });
    const send = (req: TaskRequest): Promise<TaskReply> =>
      slot.api.run(Comlink.transfer(req, [...transferable(req.args), ...req.deps.flatMap(([, b]) => transferable(b))]));
    try {
      let reply = await send(await request(!slot.seen.has(job.fn)));
      if (!reply.ok && 'needSource' in reply) reply = await send(await request(true));
      slot.seen.add(job.fn);
      return reply;
    } catch (e) {
      // The module could not be fetched: the task fails, and its Web Worker, untouched, stays.
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
    this.startInPlace(slot, 'an extra thread');
  }

  private freeIndex(): number {
    const used = new Set(this.slots.map((s) => s.index));
    let i = 0;
    while (used.has(i)) i++;
    return i;
  }

  private spawn(index: number): Slot {
    const worker = this.spawnWorker();
    const end = new ThreadEnd();
    const kill = (reason: Error): void => {
      worker.terminate();
      end.end(reason);
    };
    const slot: Slot = {
      index,
      worker,
      api: Comlink.wrap<ThreadApi>(worker),
      seen: new Set(),
      end,
      kill,
      current: undefined,
      seceded: false,
    };
    worker.addEventListener('message', (e: MessageEvent<unknown>) => {
      if (isWaitEvent(e.data)) this.onWait(slot, e.data.waiting);
    });
    // An uncaught error inside a Web Worker does not end it (unlike a worker_thread): say so, carry on.
    worker.addEventListener('error', (e: ErrorEvent) => {
      e.preventDefault();
      this.log.warn('uncaught error in a task thread', { thread: index, message: e.message });
    });
    return slot;
  }

  private async ready(slot: Slot): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onError: ((e: ErrorEvent) => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TimeoutError(`task thread ${slot.index} did not start within ${THREAD_START_TIMEOUT_MS} ms`)),
        THREAD_START_TIMEOUT_MS,
      );
      // Before it answers, an error is its script failing to load or evaluate.
      onError = (e) =>
        reject(new Error(`task thread ${slot.index} failed to start: ${e.message || 'its script did not load'}`));
      slot.worker.addEventListener('error', onError);
    });
    try {
      await Promise.race([slot.api.init(this.o.init), failed, slot.end.promise.then((e) => Promise.reject(e))]);
    } finally {
      clearTimeout(timer);
      if (onError) slot.worker.removeEventListener('error', onError);
    }
  }

  /** Ends a thread busy with an abandoned job and, unless the pool is over capacity, starts a fresh one in its place. */
  private replace(slot: Slot): void {
    if (this.closed || this.slots.length > this.capacity) return this.remove(slot);
    slot.kill(new CancelledError('replaced'));
    const fresh = this.spawn(slot.index);
    this.slots[this.slots.indexOf(slot)] = fresh;
    this.startInPlace(fresh, 'a replacement thread');
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
    slot.kill(new CancelledError('removed'));
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
    if (this.slots.length > this.capacity) return this.remove(slot);
    this.idle.push(slot);
  }
}
