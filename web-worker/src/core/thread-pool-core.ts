/**
 * A pool of task threads, for both executors: worker_threads in Node (node/thread-pool.ts) and
 * module Web Workers in a tab (browser/thread-pool.ts). Those only make, start and stop a thread
 * (a PoolHost); everything else is here.
 *
 * Each job goes to the least busy thread with its inputs: bytes in shared memory as they are, so
 * the task sees the stored bytes themselves; others as copies, transferred (so copied once). A
 * thread holds JOBS_PER_THREAD jobs, up to MAX_JOBS_PER_THREAD while they are short, and runs them
 * in order (job-queue.ts): the next one is already there when the current one ends. The function's source goes only to threads that have
 * not been sent it.
 *
 * An abort (timeout, free-keys) of a running job, or a dying thread, ends that thread and a fresh
 * one takes its index; the jobs queued behind it had not started and go to another thread. An
 * aborted job still queued is taken back; if its thread started it meanwhile, it may finish within
 * ABANDONED_GRACE_MS of coming to the front, else its thread is ended.
 *
 * A job whose thread reports that it waits on tasks of its own (secede) stops counting: the jobs
 * queued behind it are taken back (it may wait on one of them), the pool may hold one more
 * thread, and starts it when no thread has room. When the job rejoins or ends, the pool is one
 * over, and the next thread left with nothing to do is stopped.
 */
import { CancelledError, ErrorCode, TimeoutError, errorToWire, type WireError } from '@meshwork/protocol';
import { ABANDONED_GRACE_MS, JOBS_PER_THREAD, MAX_EXTRA_THREADS, MAX_JOBS_PER_THREAD, QUEUED_THREAD_WORK_MS, THREAD_START_TIMEOUT_MS } from '../constants.js';
import type { Executor, Job, Outcome, RunHooks } from './interfaces.js';
import { silentLogger, type Logger } from './logger.js';
import { ModuleError, type ModuleSources } from './modules.js';
import type { QueuedReply, QueuedRequest } from './job-queue.js';
import { firstOf, type ThreadEnd } from './thread-end.js';

/** One thread, as its host made it. */
export interface HostThread {
  /** Queues one request in the thread; the buffers listed are transferred, not copied. */
  run(req: QueuedRequest, transfer: ArrayBuffer[]): Promise<QueuedReply>;
  /** Asks the thread to give back these queued requests if they have not started (they answer `takenBack`). */
  takeBack(seqs: number[]): void;
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

/** A job given to a thread. */
interface Entry {
  seq: number;
  hooks: RunHooks;
  /** Its caller gave up on it while it was queued: if it comes to the front, the thread is ended. */
  abandoned: boolean;
}

interface Slot {
  index: number;
  thread: HostThread;
  /** Function ids whose source this thread has been sent. */
  seen: Set<string>;
  /** Its jobs in the order the thread runs them: the first runs, the others wait in the thread. */
  jobs: Entry[];
  /** Its first job waits on tasks of its own. */
  seceded: boolean;
  /** Answered its first call: may take jobs. */
  live: boolean;
  /** Being stopped (ended or replaced): takes nothing more, and its jobs list stays as it was. */
  retired: boolean;
}

/** A job waiting for room on a thread. */
interface Waiter {
  job: Job;
  moduleSource: string | undefined;
  hooks: RunHooks;
  signal: AbortSignal;
  place: (placed: Placed | null) => void;
}

/** A job given to a thread: the reply it will get, and whether it carried the function's source. */
interface Placed {
  slot: Slot;
  entry: Entry;
  reply: Promise<QueuedReply>;
  withSource: boolean;
}

/** Shared memory exists only where it is allowed (a tab that is not cross-origin isolated has none). */
const isShared = (bytes: Uint8Array): boolean =>
  typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer;

/** Inputs this small go to a thread as a copy of their own; larger ones are copied once and handed over (transferred). */
const TRANSFER_FROM_BYTES = 64 * 1024;

/** Bytes in shared memory go to a thread as they are; others as a copy the thread owns (never a view of a larger buffer, which the message would copy whole). */
function forThread(bytes: Uint8Array): Uint8Array {
  if (isShared(bytes)) return bytes;
  return bytes.slice();
}

const transferable = (bytes: Uint8Array): ArrayBuffer[] => (isShared(bytes) || bytes.byteLength < TRANSFER_FROM_BYTES ? [] : [bytes.buffer as ArrayBuffer]);

export class ThreadPoolCore implements Executor {
  readonly threads: number;
  private readonly slots: Slot[] = [];
  /** A moving average of the jobs' run times (none yet: infinite). */
  private msPerJob = Infinity;
  private readonly waiters: Waiter[] = [];
  protected readonly log: Logger;
  private seceded = 0;
  private seq = 0;
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
    for (const slot of this.slots) slot.live = true;
  }

  /** Jobs each thread may hold now: JOBS_PER_THREAD, more while jobs are short (about QUEUED_THREAD_WORK_MS of them). */
  get depth(): number {
    const fit = Math.floor(QUEUED_THREAD_WORK_MS / Math.max(this.msPerJob, 0.1));
    return Math.min(MAX_JOBS_PER_THREAD, Math.max(JOBS_PER_THREAD, fit));
  }

  /** Jobs it takes at once (the caller queues the rest). */
  get jobsAtOnce(): number {
    return this.threads * this.depth;
  }

  /** Threads alive or starting (more than `threads` while jobs are seceded). */
  get size(): number {
    return this.slots.length;
  }

  /** Threads running a job now. */
  get busy(): number {
    return this.slots.filter((s) => s.jobs.length > 0).length;
  }

  async run(job: Job, signal: AbortSignal, given: RunHooks = {}): Promise<Outcome> {
    const startedAt = Date.now();
    // A job placed again (taken back, or its thread ended before it started) may come to the
    // front of a thread twice: its caller hears of the start once.
    let startedOnce = false;
    const hooks: RunHooks = {
      onWait: (waiting) => given.onWait?.(waiting),
      onStart: () => {
        if (startedOnce) return;
        startedOnce = true;
        given.onStart?.();
      },
    };
    const fail = (error: WireError, thread: number): Outcome => ({ ok: false, error, startedAt, stoppedAt: Date.now(), thread });
    let moduleSource: string | undefined;
    try {
      // Fetched by the host with its token (once per version): a thread gets a module's text, never a credential.
      if (job.module && this.o.modules && !signal.aborted) moduleSource = await this.o.modules.get(job.module);
    } catch (e) {
      // The module could not be fetched: the task fails, and no thread is touched.
      if (!(e instanceof ModuleError)) throw e;
      return fail(errorToWire(e, { code: ErrorCode.REMOTE_ERROR }), 0);
    }
    for (let again = false; ; again = true) {
      if (signal.aborted) return fail(errorToWire(signal.reason), 0);
      const placed = await this.place({ job, moduleSource, hooks, signal }, again);
      if (!placed) return fail(errorToWire(signal.aborted ? signal.reason : new CancelledError('the thread pool closed')), 0);
      const { slot, entry } = placed;
      // A failed call (e.g. a value could not be cloned) counts as aborted: the thread is in an unknown state.
      const r = await firstOf(placed.reply, slot.thread.end, signal);
      const running = slot.jobs[0] === entry;
      if ('aborted' in r) {
        if (signal.aborted && !running && !slot.retired) {
          entry.abandoned = true;
          slot.thread.takeBack([entry.seq]);
        } else this.replace(slot);
        return fail(errorToWire(r.aborted, signal.aborted ? {} : { code: ErrorCode.REMOTE_ERROR }), slot.index);
      }
      if ('died' in r) {
        this.replace(slot);
        // Queued behind the job that ended the thread: it never started, so another thread runs it.
        if (!running) continue;
        const message = `the ${this.host.noun} running task '${job.key}' died: ${r.died.message}`;
        return fail({ code: ErrorCode.REMOTE_ERROR, name: 'ThreadDiedError', message }, slot.index);
      }
      if (r.ok || 'error' in r) this.timed(r.stoppedAt - r.startedAt);
      if (r.ok) return { ok: true, bytes: r.bytes, hash: r.hash, startedAt: r.startedAt, stoppedAt: r.stoppedAt, thread: slot.index };
      if ('takenBack' in r) {
        if (placed.withSource) slot.seen.delete(job.fn);
        continue;
      }
      if ('needSource' in r) {
        // The job that carried the source to this thread was taken back: send it again.
        if (placed.withSource) return fail(errorToWire(new Error(`${this.host.noun} asked twice for a source`)), slot.index);
        slot.seen.delete(job.fn);
        continue;
      }
      return { ok: false, error: r.error, startedAt: r.startedAt, stoppedAt: r.stoppedAt, thread: slot.index };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    for (const slot of slots) slot.retired = true;
    for (const waiter of this.waiters.splice(0)) waiter.place(null);
    await Promise.all(slots.map((s) => s.thread.stop(new CancelledError('the thread pool closed'))));
  }

  /** A job ran `ms` (whole milliseconds: a trivial one 0). */
  private timed(ms: number): void {
    const x = Math.max(0, ms);
    this.msPerJob = this.msPerJob === Infinity ? x : 0.8 * this.msPerJob + 0.2 * x;
  }

  /** Gives the job to the least busy thread with room, or waits for one; a job given again (taken back, its thread ended) waits ahead of new ones. */
  private place(w: Omit<Waiter, 'place'>, again: boolean): Promise<Placed | null> {
    if (this.closed) return Promise.resolve(null);
    const slot = this.waiters.length === 0 ? this.pick() : undefined;
    if (slot) return Promise.resolve(this.send(slot, w));
    return new Promise((resolve) => {
      // Aborted while it waits (stolen, freed): it leaves the line at once and is never sent.
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        waiter.place(null);
      };
      const waiter: Waiter = {
        ...w,
        place: (placed) => {
          w.signal.removeEventListener('abort', onAbort);
          resolve(placed);
        },
      };
      w.signal.addEventListener('abort', onAbort, { once: true });
      if (again) this.waiters.unshift(waiter);
      else this.waiters.push(waiter);
      this.grow();
    });
  }

  private pick(): Slot | undefined {
    const { depth } = this;
    let best: Slot | undefined;
    for (const s of this.slots) {
      if (!s.live || s.retired || s.seceded || s.jobs.length >= depth) continue;
      if (!best || s.jobs.length < best.jobs.length) best = s;
    }
    return best;
  }

  /** Sends the job to the thread now, so the thread runs jobs in the order of `slot.jobs`. */
  private send(slot: Slot, w: Omit<Waiter, 'place'>): Placed {
    const { job } = w;
    const entry: Entry = { seq: ++this.seq, hooks: w.hooks, abandoned: false };
    slot.jobs.push(entry);
    const withSource = !slot.seen.has(job.fn);
    if (withSource) slot.seen.add(job.fn);
    const req: QueuedRequest = {
      seq: entry.seq,
      fn: job.fn,
      key: job.key,
      fnName: job.fnName,
      source: withSource ? job.source : undefined,
      module: withSource ? job.module : undefined,
      moduleSource: withSource ? w.moduleSource : undefined,
      capability: job.capability,
      args: forThread(job.args),
      deps: [...job.deps].map(([key, bytes]) => [key, forThread(bytes)]),
    };
    if (slot.jobs.length === 1) this.start(entry);
    let reply: Promise<QueuedReply>;
    try {
      reply = slot.thread.run(req, [...transferable(req.args), ...req.deps.flatMap(([, b]) => transferable(b))]);
    } catch (e) {
      reply = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    const done = (): void => this.settled(slot, entry);
    reply.then(done, done);
    return { slot, entry, reply, withSource };
  }

  /**
   * An abandoned job came to the front before the thread answered the take-back: the thread may
   * have started it. A short one ends by itself (its reply or `takenBack` settles it); one still
   * unanswered after ABANDONED_GRACE_MS ends its thread.
   */
  private endUnlessAnswered(slot: Slot, entry: Entry): void {
    setTimeout(() => {
      if (slot.jobs[0] === entry && !slot.retired) this.replace(slot);
    }, ABANDONED_GRACE_MS);
  }

  /** The job came to the front of its thread (each does once per placement; `run` passes the first on). */
  private start(entry: Entry): void {
    entry.hooks.onStart?.();
  }

  /** A job's call settled (a reply, taken back, or failed): the next job is the thread's to run. */
  private settled(slot: Slot, entry: Entry): void {
    if (slot.retired || slot.thread.end.ended) return;
    const i = slot.jobs.indexOf(entry);
    if (i < 0) return;
    slot.jobs.splice(i, 1);
    if (i === 0 && slot.seceded) this.unsecede(slot);
    const next = slot.jobs[0];
    if (next?.abandoned) this.endUnlessAnswered(slot, next);
    else if (next) this.start(next);
    this.offer();
  }

  /** The thread's running job started or stopped waiting on tasks of its own. */
  private onWait(slot: Slot, waiting: boolean): void {
    const head = slot.jobs[0];
    if (!head || slot.retired || slot.seceded === waiting) return;
    if (waiting) {
      slot.seceded = true;
      this.seceded++;
      head.hooks.onWait?.(true);
      // It may wait on one of the jobs queued behind it.
      const queued = slot.jobs.slice(1).map((e) => e.seq);
      if (queued.length > 0) slot.thread.takeBack(queued);
      this.grow();
    } else {
      this.unsecede(slot);
      head.hooks.onWait?.(false);
      this.offer();
    }
  }

  private unsecede(slot: Slot): void {
    slot.seceded = false;
    this.seceded--;
  }

  /** Threads the pool may hold now. */
  private get capacity(): number {
    return this.threads + Math.min(this.seceded, MAX_EXTRA_THREADS);
  }

  /** Starts an extra thread when a job waits for room and the pool is under capacity. */
  private grow(): void {
    if (this.closed || this.waiters.length === 0 || this.slots.length >= this.capacity) return;
    const slot = this.spawn(this.freeIndex());
    this.slots.push(slot);
    this.log.debug(`starting an extra ${this.host.noun} for a seceded task`, { thread: slot.index });
    this.startInPlace(slot, `an extra ${this.host.noun}`);
  }

  /** Room may have come: to the waiting jobs first; then an idle thread beyond capacity is stopped. */
  private offer(): void {
    if (this.closed) return;
    for (let slot = this.pick(); slot && this.waiters.length > 0; slot = this.pick()) {
      const w = this.waiters.shift() as Waiter;
      w.place(this.send(slot, w));
    }
    while (this.slots.length > this.capacity) {
      const idle = this.slots.find((s) => s.live && !s.retired && s.jobs.length === 0);
      if (!idle) break;
      this.log.debug(`stopping an extra ${this.host.noun}`, { thread: idle.index });
      this.remove(idle);
    }
  }

  private freeIndex(): number {
    const used = new Set(this.slots.map((s) => s.index));
    let i = 0;
    while (used.has(i)) i++;
    return i;
  }

  private spawn(index: number): Slot {
    // The host calls onWait only once the thread runs a job, long after `slot` is set.
    const slot: Slot = {
      index,
      thread: this.host.spawn(index, (waiting) => this.onWait(slot, waiting)),
      seen: new Set(),
      jobs: [],
      seceded: false,
      live: false,
      retired: false,
    };
    void slot.thread.end.promise.then((e) => {
      if (this.closed) return;
      this.log.debug(`${this.host.noun} ended`, { thread: index, reason: e.message });
      // Died on its own after it started (not stopped by the pool): a fresh thread takes its place.
      if (slot.live && !slot.retired) this.replace(slot);
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

  /** Ends a thread (its running job abandoned, or it died) and, unless the pool is over capacity, starts a fresh one in its place. */
  private replace(slot: Slot): void {
    if (slot.retired) return;
    if (this.closed || this.slots.length > this.capacity) return this.remove(slot);
    this.retire(slot);
    void slot.thread.stop(new CancelledError('replaced'));
    const fresh = this.spawn(slot.index);
    this.slots[this.slots.indexOf(slot)] = fresh;
    this.startInPlace(fresh, `a replacement ${this.host.noun}`);
  }

  private startInPlace(slot: Slot, what: string): void {
    this.ready(slot).then(
      () => {
        slot.live = true;
        this.offer();
      },
      (e: unknown) => {
        this.log.error(`${what} failed to start`, { thread: slot.index, error: e });
        this.remove(slot);
      },
    );
  }

  private remove(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    this.retire(slot);
    void slot.thread.stop(new CancelledError('removed'));
  }

  /** Takes nothing more; a seceded job it ran no longer counts. */
  private retire(slot: Slot): void {
    if (slot.retired) return;
    slot.retired = true;
    if (slot.seceded) this.unsecede(slot);
  }
}
