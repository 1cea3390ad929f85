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
        w.answer(await this.runOne(w.req).catch(failed));
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
