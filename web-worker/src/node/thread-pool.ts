/**
 * The Node executor: a pool of worker_threads driven through comlink. Each job goes to an idle
 * thread with its inputs: values in shared memory (the store's) as they are, so the task sees the
 * stored bytes themselves; others as copies, transferred (so copied once). The function's source goes
 * only to threads that have not seen it. An abort (timeout, free-keys) or a dying thread ends
 * that thread and a fresh one takes its index.
 *
 * A job whose thread reports that it waits on tasks of its own (secede) stops counting: the pool
 * may then hold one more job, and starts an extra thread for it when none is idle. When the job
 * rejoins or ends, the pool is one over, and the next thread to come free is stopped.
 */
import { Worker } from 'node:worker_threads';
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { CancelledError, ErrorCode, TimeoutError, errorToWire, type WireError } from '@meshwork/protocol';
import { CLOSE_TIMEOUT_MS, MAX_EXTRA_THREADS, THREAD_START_TIMEOUT_MS } from '../constants.js';
import type { Executor, Job, Outcome, RunHooks } from '../core/interfaces.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { ModuleError, type ModuleSources } from '../core/modules.js';
import type { TaskReply, TaskRequest } from '../core/task-runner.js';
import { ThreadEnd, firstOf, type FirstOf } from '../core/thread-end.js';
import type { ThreadApi } from './thread.js';
import { isWaitEvent, type ThreadData } from './thread-data.js';

export interface ThreadPoolOptions {
  threads: number;
  logger?: Logger;
  /** The thread script; defaults to thread.js beside this module (thread.ts when run from source). */
  script?: URL;
  /** Given to every thread as its `workerData`. */
  threadData?: ThreadData;
  /** Where uploaded modules' sources come from (fetched in this process); without it, module tasks fail. */
  modules?: ModuleSources;
}

/** Environment variables that carry tokens (the CLIs read them): left out of every thread's `process.env`. */
export const TOKEN_ENV_VARS: readonly string[] = ['MESHWORK_TOKEN', 'MESHWORK_WORKER_TOKEN', 'MESHWORK_CLIENT_TOKEN'];

/** This process's environment without its tokens: what task code finds in `process.env`. */
function threadEnv(): Record<string, string | undefined> {
  const env = { ...process.env };
  for (const name of TOKEN_ENV_VARS) delete env[name];
  return env;
}

interface Slot {
  index: number;
  worker: Worker;
  api: Comlink.Remote<ThreadApi>;
  /** Function ids whose source this thread has been sent. */
  seen: Set<string>;
  /** Ends with the reason when the thread exits or crashes. */
  end: ThreadEnd;
  /** The hooks of the job it runs, while it runs one. */
  current: RunHooks | undefined;
  /** Its job waits on tasks of its own. */
  seceded: boolean;
}

function defaultScript(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './thread.ts' : './thread.js', import.meta.url);
}

function copy(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}

/** Bytes in shared memory go to a thread as they are; others as a copy the thread owns. */
function forThread(bytes: Uint8Array): Uint8Array {
  return bytes.buffer instanceof SharedArrayBuffer ? bytes : copy(bytes);
}

function transferable(bytes: Uint8Array): ArrayBuffer[] {
  return bytes.buffer instanceof SharedArrayBuffer ? [] : [bytes.buffer];
}

export class ThreadPool implements Executor {
  readonly threads: number;
  private readonly slots: Slot[] = [];
  private readonly idle: Slot[] = [];
  private readonly waiters: ((slot: Slot | null) => void)[] = [];
  private readonly log: Logger;
  private readonly script: URL;
  private readonly threadData: ThreadData | undefined;
  private readonly modules: ModuleSources | undefined;
  private seceded = 0;
  private closed = false;

  private constructor(o: ThreadPoolOptions) {
    this.threads = o.threads;
    this.log = o.logger ?? silentLogger;
    this.script = o.script ?? defaultScript();
    this.threadData = o.threadData;
    this.modules = o.modules;
  }

  /** Starts every thread and waits until each answers (bounded by THREAD_START_TIMEOUT_MS). */
  static async start(o: ThreadPoolOptions): Promise<ThreadPool> {
    if (!Number.isInteger(o.threads) || o.threads < 1) throw new RangeError(`threads must be a positive integer, got ${o.threads}`);
    const pool = new ThreadPool(o);
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

  /** Threads alive or starting (more than `threads` while jobs are seceded). */
  get size(): number {
    return this.slots.length;
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
    // A failed call (e.g. a message could not be cloned) counts as aborted: the thread is in an unknown state.
    let r: FirstOf<TaskReply>;
    try {
      r = await firstOf(this.call(slot, job), slot.end, signal);
    } finally {
      this.endJob(slot);
    }
    if ('died' in r) {
      this.replace(slot);
      return fail({ code: ErrorCode.REMOTE_ERROR, name: 'ThreadDiedError', message: `the thread running task '${job.key}' died: ${r.died.message}` }, slot.index);
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

  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    this.idle.length = 0;
    for (const waiter of this.waiters.splice(0)) waiter(null);
    await Promise.all(slots.map((s) => this.stop(s)));
  }

  private async call(slot: Slot, job: Job): Promise<TaskReply> {
    const startedAt = Date.now();
    const request = async (withSource: boolean): Promise<TaskRequest> => ({
      fn: job.fn,
      fnName: job.fnName,
      source: withSource ? job.source : undefined,
      module: withSource ? job.module : undefined,
      // Fetched here with this process's token: a thread gets a module's text, never a credential.
      moduleSource: withSource && job.module && this.modules ? await this.modules.get(job.module) : undefined,
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
    this.log.debug('starting an extra thread for a seceded task', { thread: slot.index });
    this.ready(slot).then(
      () => this.release(slot),
      (e: unknown) => {
        this.log.error('an extra thread failed to start', { thread: slot.index, error: e });
        this.remove(slot);
      },
    );
  }

  private freeIndex(): number {
    const used = new Set(this.slots.map((s) => s.index));
    let i = 0;
    while (used.has(i)) i++;
    return i;
  }

  private spawn(index: number): Slot {
    const options = { workerData: this.threadData ?? {}, env: threadEnv() };
    const worker = this.script.pathname.endsWith('.ts')
      ? // Run from source under tsx (tests): threads do not inherit its loader, so register it first.
        new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(this.script.href)}); })`, { ...options, eval: true })
      : new Worker(this.script, options);
    const end = new ThreadEnd();
    worker.once('error', (e) => end.end(e instanceof Error ? e : new Error(String(e))));
    worker.once('exit', (code) => end.end(new Error(`thread exited with code ${code}`)));
    const slot: Slot = { index, worker, api: Comlink.wrap<ThreadApi>(nodeEndpoint(worker)), seen: new Set(), end, current: undefined, seceded: false };
    worker.on('message', (m: unknown) => {
      if (isWaitEvent(m)) this.onWait(slot, m.waiting);
    });
    void end.promise.then((e) => {
      if (!this.closed) this.log.debug('thread ended', { thread: index, reason: e.message });
    });
    return slot;
  }

  private async ready(slot: Slot): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`thread ${slot.index} did not start within ${THREAD_START_TIMEOUT_MS} ms`)), THREAD_START_TIMEOUT_MS);
    });
    try {
      await Promise.race([
        slot.api.ping(),
        timeout,
        slot.end.promise.then((e) => {
          throw new Error(`thread ${slot.index} failed to start (${this.script.href}): ${e.message}`);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends a thread that is busy with an abandoned job and, unless the pool is over capacity, starts a fresh one in its place. */
  private replace(slot: Slot): void {
    if (this.closed || this.slots.length > this.capacity) return this.remove(slot);
    void this.stop(slot);
    const fresh = this.spawn(slot.index);
    this.slots[this.slots.indexOf(slot)] = fresh;
    this.ready(fresh).then(
      () => this.release(fresh),
      (e: unknown) => {
        this.log.error('a replacement thread failed to start', { thread: slot.index, error: e });
        this.remove(fresh);
      },
    );
  }

  private remove(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    void this.stop(slot);
  }

  private async stop(slot: Slot): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      slot.worker.terminate().catch(() => undefined),
      new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
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
      this.log.debug('stopping an extra thread', { thread: slot.index });
      return this.remove(slot);
    }
    this.idle.push(slot);
  }
}
