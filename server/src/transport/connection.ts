/**
 * One WebSocket peer of the scheduler (a client or a worker), after or before its `hello`.
 * Frames in are parsed once, here, against the channel's schema; frames out are batched per
 * event-loop turn. A bad message gets an error reply and the connection stays; a frame over
 * the size limit closes the connection (ws enforces `maxPayload`).
 */
import { Batcher, ReplyCode, encodeFrame, type ErrorReply } from '@meshwork/protocol';
import type { WebSocket } from 'ws';

export class Connection<Out> {
  private readonly batcher: Batcher<Out | ErrorReply>;
  closed = false;

  constructor(
    readonly socket: WebSocket,
    readonly remote: string,
  ) {
    this.batcher = new Batcher((batch) => {
      if (!this.closed && socket.readyState === socket.OPEN) socket.send(encodeFrame(batch));
    });
    socket.on('close', () => {
      this.closed = true;
      this.batcher.clear();
    });
  }

  send(message: Out | ErrorReply): void {
    if (!this.closed) this.batcher.send(message);
  }

  reply(code: ReplyCode, message: string, replyTo?: number): void {
    const r: ErrorReply = { type: 'error', code, message };
    if (replyTo !== undefined) r.replyTo = replyTo;
    this.send(r);
  }

  /** Sends what is queued, then closes with a WebSocket close code and reason. */
  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    this.batcher.flushNow();
    this.closed = true;
    this.socket.close(code, reason.slice(0, 120));
  }
}
