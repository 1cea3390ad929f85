/**
 * One WebSocket peer of the scheduler (a client or a worker), after or before its `hello`.
 * Frames in are parsed once, by the scheduler, against the channel's schema; frames out are
 * batched per event-loop turn. A bad message gets an error reply and the connection stays; a
 * frame over the size limit closes the connection (ws enforces `maxPayload`).
 *
 * Each connection has a message budget (`admit`): a token bucket of MESSAGE_BURST messages
 * refilled at MAX_MESSAGES_PER_SECOND. A frame over what is left is refused whole with
 * RATE_LIMITED (its messages still count); a connection that owes more than a whole burst is closed.
 * A message may count as more than one (a `gather` listing many keys: see key-requests.ts).
 */
import {
  Batcher,
  CLOSE_HANDSHAKE_TIMEOUT_MS,
  MAX_MESSAGES_PER_SECOND,
  MESSAGE_BURST,
  ReplyCode,
  encodeFrames,
  type ErrorReply,
} from '@meshwork/protocol';
import type { RawData, WebSocket } from 'ws';

export interface RateLimit {
  /** Messages per second, sustained. */
  messagesPerSecond: number;
  /** Messages at once (the bucket's size). */
  burst: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { messagesPerSecond: MAX_MESSAGES_PER_SECOND, burst: MESSAGE_BURST };

/** What `admit` decided about a frame: handle it, refuse it (RATE_LIMITED), or close the connection. */
export type Admission = 'ok' | 'refuse' | 'close';

export class Connection<Out> {
  private readonly batcher: Batcher<Out | ErrorReply>;
  closed = false;
  private tokens: number;
  private refilledAt = performance.now();

  constructor(
    readonly socket: WebSocket,
    readonly remote: string,
    private readonly rate: RateLimit = DEFAULT_RATE_LIMIT,
  ) {
    this.tokens = rate.burst;
    this.batcher = new Batcher((batch) => {
      if (this.closed || socket.readyState !== socket.OPEN) return;
      for (const frame of encodeFrames(batch)) socket.send(frame);
    });
    socket.on('close', () => {
      this.closed = true;
      this.batcher.clear();
    });
  }

  /**
   * Spends `messages` (at least 1: an empty frame costs too) from the connection's budget. On
   * 'refuse' a RATE_LIMITED reply has been queued; on 'close' the connection is closing.
   */
  admit(messages: number): Admission {
    const now = performance.now();
    this.tokens = Math.min(
      this.rate.burst,
      this.tokens + ((now - this.refilledAt) / 1000) * this.rate.messagesPerSecond,
    );
    this.refilledAt = now;
    const cost = Math.max(1, messages);
    const enough = this.tokens >= cost;
    this.tokens -= cost;
    if (enough) return 'ok';
    if (this.tokens < -this.rate.burst) {
      this.reply(
        ReplyCode.RATE_LIMITED,
        `over ${this.rate.messagesPerSecond} messages per second, and kept on: closing`,
      );
      this.close(1008, ReplyCode.RATE_LIMITED);
      return 'close';
    }
    this.reply(
      ReplyCode.RATE_LIMITED,
      `a frame counted as ${messages} messages was dropped: this connection may send ${this.rate.messagesPerSecond} messages per second (bursts of ${this.rate.burst}); slow down`,
    );
    return 'refuse';
  }

  send(message: Out | ErrorReply): void {
    if (!this.closed) this.batcher.send(message);
  }

  reply(code: ReplyCode, message: string, replyTo?: number): void {
    const r: ErrorReply = { type: 'error', code, message };
    if (replyTo !== undefined) r.replyTo = replyTo;
    this.send(r);
  }

  /**
   * Sends what is queued, then closes with a WebSocket close code and reason; a peer that does
   * not answer the close within CLOSE_HANDSHAKE_TIMEOUT_MS is cut off.
   */
  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    this.batcher.flushNow();
    this.closed = true;
    closeSocket(this.socket, code, reason);
  }
}

/** Closes a WebSocket, and cuts it off if the peer does not complete the close handshake in time. */
export function closeSocket(socket: WebSocket, code: number, reason: string): void {
  socket.close(code, reason.slice(0, 120));
  if (socket.readyState === socket.CLOSED) return;
  const timer = setTimeout(() => socket.terminate(), CLOSE_HANDSHAKE_TIMEOUT_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** A WebSocket message's bytes, or null for a text frame. */
export function toBytes(data: RawData): Uint8Array | null {
  if (data instanceof Uint8Array) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return null;
}
