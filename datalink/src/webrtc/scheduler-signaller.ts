/**
 * The Signaller over a worker's control link to the scheduler: `signal {to, payload}` goes out
 * with the worker's other messages, and each `signal {from, payload}` the scheduler relays is
 * handed in through `deliver` (from WorkerCore's `onSignal`). Used by both hosts.
 */
import type { WorkerChannel } from '@meshwork/protocol';
import { parseSignal, type SignalPayload, type Signaller } from './signals.js';

/** Runs the delivery of a payload from `from` (a tab credits the connection it makes to that peer). */
export type DeliveryWrapper = (from: string, deliver: () => void) => void;

export class SchedulerSignaller implements Signaller {
  private receiver: ((from: string, payload: SignalPayload) => void) | undefined;

  constructor(
    /** Queues one message to the scheduler (batched with the rest of this turn's). */
    private readonly sendMessage: (msg: WorkerChannel.WorkerToServer) => void,
    private readonly around?: DeliveryWrapper,
  ) {}

  send(to: string, payload: SignalPayload): void {
    this.sendMessage({ type: 'signal', to, payload });
  }

  subscribe(receiver: (from: string, payload: SignalPayload) => void): () => void {
    this.receiver = receiver;
    return () => {
      if (this.receiver === receiver) this.receiver = undefined;
    };
  }

  /** The payload of a `signal {from, payload}` from the scheduler (validated by the frame parser, and again here). */
  deliver(from: string, raw: unknown): void {
    const payload = parseSignal(raw);
    const receiver = this.receiver;
    if (!payload || !receiver) return;
    if (this.around) this.around(from, () => receiver(from, payload));
    else receiver(from, payload);
  }
}
