/**
 * Everything the worker sends the scheduler, runtime-free: messages batched once per event-loop
 * turn, and heartbeats — every `intervalMs`, and at once (in the current turn's batch) when the
 * memory in use moved by more than MEMORY_REPORT_FRACTION of the limit since the last report, so
 * the scheduler can pause a worker before it fills up. A heartbeat's figure is read when its
 * batch leaves, so it is never staler than the batch it rides in.
 */
import { Batcher, HEARTBEAT_INTERVAL_MS, MAX_TRAFFIC_PER_HEARTBEAT, encodeFrame, type TurnScheduler, type WorkerChannel } from '@meshwork/protocol';
import { MEMORY_REPORT_FRACTION } from '../constants.js';

type Outgoing = WorkerChannel.WorkerToServer;

/**
 * Calls `tick` every `intervalMs` until the returned stop function is called. The default is
 * `setInterval`; a browser tab injects one driven from a Web Worker, because browsers throttle a
 * hidden page's timers (to once a minute after a few minutes) and the scheduler would drop it.
 */
export type Ticker = (tick: () => void, intervalMs: number) => () => void;

export const intervalTicker: Ticker = (tick, intervalMs) => {
  const timer = setInterval(tick, intervalMs);
  return () => clearInterval(timer);
};
type Heartbeat = Extract<Outgoing, { type: 'heartbeat' }>;

export interface OutboxOptions {
  /** Sends one encoded control frame. */
  send(frame: Uint8Array): void;
  /** The memory in use, in bytes. */
  memoryUsed(): number;
  /** Peer traffic that changed since the last heartbeat (at most `limit` entries); none when absent. */
  traffic?(limit: number): WorkerChannel.PeerTraffic[];
  /** Bytes; null for no limit (then heartbeats leave only on the interval). */
  memoryLimit: number | null;
  intervalMs?: number;
  /** What drives interval heartbeats; default `intervalTicker` (setInterval). */
  ticker?: Ticker;
  schedule?: TurnScheduler;
}

export class Outbox {
  private readonly batcher: Batcher<Outgoing>;
  private readonly stopTicks: () => void;
  /** The heartbeat queued in the batch that has not left yet. */
  private queued: Heartbeat | undefined;
  private reported = 0;
  private closed = false;

  constructor(private readonly o: OutboxOptions) {
    this.batcher = new Batcher((batch) => this.flushBatch(batch), o.schedule);
    this.stopTicks = (o.ticker ?? intervalTicker)(() => this.heartbeat(), o.intervalMs ?? HEARTBEAT_INTERVAL_MS);
    this.heartbeat();
  }

  send(msg: Outgoing): void {
    if (!this.closed) this.batcher.send(msg);
  }

  /** Queues a heartbeat in this turn's batch, unless one is queued already. */
  heartbeat(): void {
    if (this.closed || this.queued) return;
    this.queued = { type: 'heartbeat', memoryUsed: 0 };
    this.batcher.send(this.queued);
  }

  /** Call after the memory in use changed: reports at once if it moved far enough. */
  memoryChanged(): void {
    const limit = this.o.memoryLimit;
    if (limit === null || this.queued) return;
    if (Math.abs(this.o.memoryUsed() - this.reported) > limit * MEMORY_REPORT_FRACTION) this.heartbeat();
  }

  /** Sends what is queued now. */
  flush(): void {
    this.batcher.flushNow();
  }

  /** Stops heartbeats and drops what is queued. */
  close(): void {
    this.closed = true;
    this.stopTicks();
    this.batcher.clear();
    this.queued = undefined;
  }

  private flushBatch(batch: Outgoing[]): void {
    if (this.queued) {
      this.reported = Math.max(0, Math.round(this.o.memoryUsed()));
      this.queued.memoryUsed = this.reported;
      const traffic = this.o.traffic?.(MAX_TRAFFIC_PER_HEARTBEAT);
      if (traffic && traffic.length > 0) this.queued.traffic = traffic;
      this.queued = undefined;
    }
    this.o.send(encodeFrame(batch));
  }
}
