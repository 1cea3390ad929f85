/**
 * A task thread's own queue, runtime-free (node/thread.ts and browser/thread.ts both use it).
 *
 * The pool hands a thread its next job while the current one runs (thread-pool-core.ts), so the
 * thread starts it the moment the current one ends, without waiting for the host to hear of the
 * end and answer. Jobs run one at a time, in the order they came. Between two jobs the thread
 * gives its event loop a turn: the reply just made is posted, and a `takeBack` that arrived is
 * handled before the next job starts. A job taken back before it started answers `takenBack`
 * (the host gives it to another thread); one that has started runs to its end.
 */
import { errorToWire } from '@meshwork/protocol';
import type { TaskReply, TaskRequest } from './task-runner.js';

/** One request as the pool sends it: `seq` names it for `takeBack`. */
export type QueuedRequest = TaskRequest & { seq: number };

/** A reply, or word that the job was taken back before it started. */
export type QueuedReply = TaskReply | { ok: false; takenBack: true };

interface Waiting {
  req: QueuedRequest;
  answer: (reply: QueuedReply) => void;
}

/** A runner that threw instead of replying: its job fails, the queue goes on. */
function failed(e: unknown): TaskReply {
  const now = Date.now();
  return { ok: false, error: errorToWire(e), startedAt: now, stoppedAt: now };
}

export class JobQueue {
  private readonly waiting: Waiting[] = [];
  private running = false;

  /**
   * @param runOne runs one request to its reply (never rejects: a thrown task is a reply).
   * @param nextTurn settles on a later turn of the event loop (setImmediate; a MessageChannel in a browser).
   */
  constructor(
    private readonly runOne: (req: QueuedRequest) => Promise<TaskReply>,
    private readonly nextTurn: () => Promise<void>,
  ) {}

  run(req: QueuedRequest): Promise<QueuedReply> {
    return new Promise((answer) => {
      this.waiting.push({ req, answer });
      if (!this.running) void this.drain();
    });
  }

  /** Takes back the named jobs that have not started; returns how many. */
  takeBack(seqs: readonly number[]): number {
    const names = new Set(seqs);
    let taken = 0;
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const w = this.waiting[i] as Waiting;
      if (!names.has(w.req.seq)) continue;
      this.waiting.splice(i, 1);
      w.answer({ ok: false, takenBack: true });
      taken++;
    }
    return taken;
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      for (let w = this.waiting.shift(); w; w = this.waiting.shift()) {
        let reply: TaskReply;
        try {
          reply = await this.runOne(w.req);
        } catch (e) {
          reply = failed(e);
        }
        w.answer(reply);
        if (this.waiting.length > 0) await this.nextTurn();
      }
    } finally {
      this.running = false;
    }
  }
}

/** A turn of a browser's event loop: a message to itself (setTimeout would be clamped to 4 ms when chained). */
export function messageTurn(): () => Promise<void> {
  const channel = new MessageChannel();
  const resolvers: (() => void)[] = [];
  channel.port1.onmessage = () => resolvers.shift()?.();
  return () =>
    new Promise<void>((resolve) => {
      resolvers.push(resolve);
      channel.port2.postMessage(0);
    });
}

/** Host → thread: jobs to queue, in order (one message for all the jobs the host had for it in one turn). */
export interface JobsMessage {
  type: typeof JOBS;
  reqs: QueuedRequest[];
}
/** Host → thread: give back these jobs if they have not started. */
export interface TakeBackMessage {
  type: typeof TAKE_BACK;
  seqs: number[];
}
/** Thread → host: one job's reply. */
export interface ReplyMessage {
  type: typeof REPLY;
  seq: number;
  reply: QueuedReply;
}
export const JOBS = 'meshwork:jobs';
export const TAKE_BACK = 'meshwork:take-back';
export const REPLY = 'meshwork:reply';

const isMessage = (data: unknown, type: string): boolean =>
  typeof data === 'object' && data !== null && (data as { type?: unknown }).type === type;

/** What a reply hands over rather than copies: a result's own memory, unless shared. */
function replyTransfer(reply: QueuedReply): ArrayBuffer[] {
  if (!reply.ok) return [];
  const { buffer } = reply.bytes;
  return typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer ? [] : [buffer as ArrayBuffer];
}

/**
 * The thread's side of JOBS / TAKE_BACK / REPLY over its port: returns the handler for messages
 * from the host (it ignores other messages, such as comlink's).
 */
export function serveJobs(
  queue: JobQueue,
  post: (msg: ReplyMessage, transfer: ArrayBuffer[]) => void,
): (data: unknown) => void {
  return (data) => {
    if (isMessage(data, JOBS)) {
      for (const req of (data as JobsMessage).reqs) {
        void queue.run(req).then((reply) => post({ type: REPLY, seq: req.seq, reply }, replyTransfer(reply)));
      }
    } else if (isMessage(data, TAKE_BACK)) queue.takeBack((data as TakeBackMessage).seqs);
  };
}

interface Pending {
  resolve: (reply: QueuedReply) => void;
  reject: (e: Error) => void;
}

/** A reply as the thread makes them; anything else came from task code posting to its port. */
function isQueuedReply(r: unknown): r is QueuedReply {
  if (typeof r !== 'object' || r === null) return false;
  const x = r as Record<string, unknown>;
  const timed = typeof x['startedAt'] === 'number' && typeof x['stoppedAt'] === 'number';
  if (x['ok'] === true)
    return timed && x['bytes'] instanceof Uint8Array && (x['hash'] === undefined || typeof x['hash'] === 'string');
  if (x['ok'] !== false) return false;
  if (x['takenBack'] === true || x['needSource'] === true) return true;
  const e = x['error'] as Record<string, unknown> | null | undefined;
  return (
    timed &&
    typeof e === 'object' &&
    e !== null &&
    typeof e['code'] === 'string' &&
    typeof e['name'] === 'string' &&
    typeof e['message'] === 'string'
  );
}

/**
 * The host's side: jobs given in one turn go to the thread in one message (a message to a
 * sleeping thread costs a wake-up, ~45 µs on a small VM, against ~1 µs to a running one); each
 * job's reply settles its own promise.
 *
 * Task code runs in the thread and can post to the same port, so a reply is believed only where
 * the thread itself could have sent it: well formed, and for the job at the front (the one the
 * thread runs, since it runs them in order), or `takenBack` for a job asked back. Anything else
 * calls `onViolation` (the host ends the thread: its running job fails, the queued ones go to
 * another thread).
 */
export class ThreadCalls {
  private readonly pending = new Map<number, Pending>();
  /** Jobs sent and not answered, in the order the thread runs them. */
  private readonly order: number[] = [];
  private readonly askedBack = new Set<number>();
  private outgoing: QueuedRequest[] = [];
  private transfer: ArrayBuffer[] = [];
  private broken = false;

  /**
   * @param later when to send the jobs given meanwhile: the end of this turn by default; Node's
   *   hosts pass setImmediate, so the replies read in one pass of the event loop refill the
   *   thread in one message.
   */
  constructor(
    private readonly post: (msg: JobsMessage | TakeBackMessage, transfer: ArrayBuffer[]) => void,
    private readonly onViolation: (reason: string) => void,
    private readonly later: (send: () => void) => void = (send) => queueMicrotask(send),
  ) {}

  run(req: QueuedRequest, transfer: ArrayBuffer[]): Promise<QueuedReply> {
    return new Promise((resolve, reject) => {
      this.pending.set(req.seq, { resolve, reject });
      this.order.push(req.seq);
      if (this.outgoing.length === 0) this.later(() => this.flush());
      this.outgoing.push(req);
      this.transfer.push(...transfer);
    });
  }

  /** Jobs not sent yet go first, so the thread has them when it reads this. */
  takeBack(seqs: number[]): void {
    this.flush();
    for (const seq of seqs) if (this.pending.has(seq)) this.askedBack.add(seq);
    this.post({ type: TAKE_BACK, seqs }, []);
  }

  /** A message from the thread: true if it was a reply (or claimed to be one). */
  onMessage(data: unknown): boolean {
    if (!isMessage(data, REPLY)) return false;
    if (this.broken) return true;
    const { seq, reply } = data as Partial<ReplyMessage>;
    if (typeof seq !== 'number' || !isQueuedReply(reply)) return this.violated('a malformed reply');
    const takenBack = !reply.ok && 'takenBack' in reply;
    if (takenBack ? !this.askedBack.has(seq) : this.order[0] !== seq)
      return this.violated(`a reply for job ${seq}, which it was not running`);
    this.order.splice(this.order.indexOf(seq), 1);
    this.askedBack.delete(seq);
    const p = this.pending.get(seq);
    this.pending.delete(seq);
    p?.resolve(reply);
    return true;
  }

  private violated(what: string): true {
    this.broken = true;
    this.onViolation(`the thread sent ${what}`);
    return true;
  }

  private flush(): void {
    const reqs = this.outgoing;
    const transfer = this.transfer;
    if (reqs.length === 0) return;
    this.outgoing = [];
    this.transfer = [];
    try {
      this.post({ type: JOBS, reqs }, transfer);
    } catch (e) {
      // Nothing in a request fails to clone (strings, numbers, bytes): this is the thread's port failing.
      const error = e instanceof Error ? e : new Error(String(e));
      for (const req of reqs) {
        this.pending.get(req.seq)?.reject(error);
        this.pending.delete(req.seq);
        this.order.splice(this.order.indexOf(req.seq), 1);
      }
    }
  }
}
