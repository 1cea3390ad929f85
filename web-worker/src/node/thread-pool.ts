/**
 * The Node executor: a pool of worker_threads driven through comlink. Each job goes to an idle
 * thread with copies of its inputs (transferred, so copied once); the function's source goes
 * only to threads that have not seen it. An abort (timeout, free-keys) or a dying thread ends
 * that thread and a fresh one takes its index.
 */
import { Worker } from 'node:worker_threads';
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { CancelledError, ErrorCode, TimeoutError, errorToWire } from '@meshwork/protocol';
import { CLOSE_TIMEOUT_MS, THREAD_START_TIMEOUT_MS } from '../constants.js';
import type { Executor, Job, Outcome } from '../core/interfaces.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { TaskReply, TaskRequest } from '../core/task-runner.js';
import type { ThreadApi } from './thread.js';

export interface ThreadPoolOptions {
  threads: number;
  logger?: Logger;
  /** The thread script; defaults to thread.js beside this module (thread.ts when run from source). */
  script?: URL;
}

interface Slot {
  index: number;
  worker: Worker;
  api: Comlink.Remote<ThreadApi>;
  /** Function ids whose source this thread has been sent. */
  seen: Set<string>;
  /** Resolves with the reason when the thread exits or crashes. */
  died: Promise<Error>;
}

function defaultScript(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './thread.ts' : './thread.js', import.meta.url);
}

function copy(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}

export class ThreadPool implements Executor {
  readonly threads: number;
  private readonly slots: Slot[] = [];
  private readonly idle: Slot[] = [];
  private readonly waiters: ((slot: Slot | null) => void)[] = [];
  private readonly log: Logger;
  private readonly script: URL;
  private closed = false;

  private constructor(o: ThreadPoolOptions) {
    this.threads = o.threads;
    this.log = o.logger ?? silentLogger;
    this.script = o.script ?? defaultScript();
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

  async run(job: Job, signal: AbortSignal): Promise<Outcome> {
    const startedAt = Date.now();
    if (signal.aborted) return { ok: false, error: errorToWire(signal.reason), startedAt, stoppedAt: startedAt, thread: 0 };
    const slot = await this.acquire();
    if (!slot) return { ok: false, error: errorToWire(new CancelledError('the thread pool closed')), startedAt, stoppedAt: Date.now(), thread: 0 };
    if (signal.aborted) {
      this.release(slot);
      return { ok: false, error: errorToWire(signal.reason), startedAt, stoppedAt: Date.now(), thread: slot.index };
    }
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<{ aborted: unknown }>((resolve) => {
      onAbort = () => resolve({ aborted: signal.reason });
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const r = await Promise.race([this.call(slot, job), slot.died.then((died) => ({ died })), aborted]);
      if ('died' in r) {
        this.replace(slot);
        const error = { code: ErrorCode.REMOTE_ERROR, name: 'ThreadDiedError', message: `the thread running task '${job.key}' died: ${r.died.message}` };
        return { ok: false, error, startedAt, stoppedAt: Date.now(), thread: slot.index };
      }
      if ('aborted' in r) {
        this.replace(slot);
        return { ok: false, error: errorToWire(r.aborted), startedAt, stoppedAt: Date.now(), thread: slot.index };
      }
      this.release(slot);
      if (r.ok) return { ok: true, bytes: r.bytes, startedAt: r.startedAt, stoppedAt: r.stoppedAt, thread: slot.index };
      if ('needSource' in r) throw new Error('thread asked twice for a source');
      return { ok: false, error: r.error, startedAt: r.startedAt, stoppedAt: r.stoppedAt, thread: slot.index };
    } catch (e) {
      // comlink itself failed (e.g. a message could not be cloned): the thread is in an unknown state.
      this.replace(slot);
      return { ok: false, error: errorToWire(e, { code: ErrorCode.REMOTE_ERROR }), startedAt, stoppedAt: Date.now(), thread: slot.index };
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    this.idle.length = 0;
    for (const waiter of this.waiters.splice(0)) waiter(null);
    await Promise.all(slots.map((s) => this.stop(s)));
  }

  private async call(slot: Slot, job: Job): Promise<TaskReply> {
    const request = (withSource: boolean): TaskRequest => ({
      fn: job.fn,
      fnName: job.fnName,
      source: withSource ? job.source : undefined,
      args: copy(job.args),
      deps: [...job.deps].map(([key, bytes]) => [key, copy(bytes)]),
    });
    const send = (req: TaskRequest): Promise<TaskReply> =>
      slot.api.run(Comlink.transfer(req, [req.args.buffer, ...req.deps.map(([, b]) => b.buffer)]));
    let reply = await send(request(!slot.seen.has(job.fn)));
    if (!reply.ok && 'needSource' in reply) reply = await send(request(true));
    slot.seen.add(job.fn);
    return reply;
  }

  private spawn(index: number): Slot {
    const worker = this.script.pathname.endsWith('.ts')
      ? // Run from source under tsx (tests): threads do not inherit its loader, so register it first.
        new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(this.script.href)}); })`, { eval: true })
      : new Worker(this.script);
    const died = new Promise<Error>((resolve) => {
      worker.once('error', (e) => resolve(e instanceof Error ? e : new Error(String(e))));
      worker.once('exit', (code) => resolve(new Error(`thread exited with code ${code}`)));
    });
    const slot: Slot = { index, worker, api: Comlink.wrap<ThreadApi>(nodeEndpoint(worker)), seen: new Set(), died };
    void died.then((e) => {
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
        slot.died.then((e) => {
          throw new Error(`thread ${slot.index} failed to start (${this.script.href}): ${e.message}`);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends a thread that is busy with an abandoned job and puts a fresh one in its place. */
  private replace(slot: Slot): void {
    void this.stop(slot);
    if (this.closed) return;
    const fresh = this.spawn(slot.index);
    this.slots[this.slots.indexOf(slot)] = fresh;
    this.ready(fresh).then(
      () => this.release(fresh),
      (e: unknown) => this.log.error('a replacement thread failed to start', { thread: slot.index, error: e }),
    );
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
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(slot: Slot): void {
    if (this.closed || !this.slots.includes(slot)) return;
    const waiter = this.waiters.shift();
    if (waiter) waiter(slot);
    else this.idle.push(slot);
  }
}
