/**
 * The answering half of a PeerSession: after the remote's `hello`, each `get-data {id, keys}` is
 * answered per key by `data {id, key, nbytes}` with the stored bytes as the body (not copied),
 * or by `data-missing`; `put-data` stores the body and answers `put-ok`. Requests are served in
 * order, one frame handed to the link at a time (the link's back-pressure), at most
 * MAX_QUEUED_PEER_REQUESTS queued. Requests arrive already validated.
 *
 * Only workers reach a responder: its links (WebRTC, the scheduler's relay) are opened through
 * `signal` and `relay` messages of the worker channel, which clients have no part in. So it asks
 * for no data token nor tickets (the TCP data server does: clients dial it).
 */
import {
  HELLO_TIMEOUT_MS,
  PROTOCOL_VERSION,
  ProtocolError,
  ReplyCode,
  type ErrorReply,
  type PeerChannel,
} from '@meshwork/protocol';
import { silentLogger, type Logger } from '../core/logger.js';
import { MAX_QUEUED_PEER_REQUESTS } from './constants.js';
import type { FrameLink, PeerDataHandler } from './link.js';

type Request = PeerChannel.PeerRequest;
type Queued = { msg: Exclude<Request, { type: 'hello' }>; body: Uint8Array };

export interface ResponderOptions {
  /** The remote's worker id, when known: a `hello` from anyone else is refused. */
  expectFrom?: string;
  /** Read on every request, so a handler set later (`serve`) applies to open links too. */
  handler(): PeerDataHandler | undefined;
  /** How this link reaches the remote, told to the handler (for the traffic counters). Default 'webrtc'. */
  path?: 'webrtc' | 'relay';
  logger?: Logger;
}

export class PeerResponder {
  private readonly queue: Queued[] = [];
  private helloed = false;
  private serving = false;
  private stopped = false;
  private readonly helloTimer: ReturnType<typeof setTimeout>;
  private readonly log: Logger;

  constructor(
    private readonly link: FrameLink,
    private readonly name: string,
    private readonly o: ResponderOptions,
  ) {
    this.log = o.logger ?? silentLogger;
    this.helloTimer = setTimeout(
      () => this.fail(ReplyCode.PROTOCOL_ERROR, `no hello within ${HELLO_TIMEOUT_MS} ms`),
      HELLO_TIMEOUT_MS,
    );
  }

  request(msg: Request, body: Uint8Array): void {
    if (this.stopped) return;
    switch (msg.type) {
      case 'hello':
        if (this.helloed) return this.reply(ReplyCode.BAD_REQUEST, 'hello was already sent');
        if (msg.protocolVersion !== PROTOCOL_VERSION) {
          return this.fail(
            ReplyCode.VERSION_MISMATCH,
            `this worker speaks protocol version ${PROTOCOL_VERSION}, the peer ${msg.protocolVersion}`,
          );
        }
        if (this.o.expectFrom !== undefined && msg.from !== this.o.expectFrom) {
          return this.fail(ReplyCode.BAD_REQUEST, `expected hello from '${this.o.expectFrom}', got '${msg.from}'`);
        }
        this.helloed = true;
        clearTimeout(this.helloTimer);
        return;
      case 'get-data':
      case 'put-data':
        if (!this.helloed) return this.reply(ReplyCode.BAD_REQUEST, 'send hello first', msg.id);
        if (this.queue.length >= MAX_QUEUED_PEER_REQUESTS)
          return this.reply(ReplyCode.BAD_REQUEST, `over ${MAX_QUEUED_PEER_REQUESTS} requests queued`, msg.id);
        this.queue.push({ msg, body });
        if (!this.serving) void this.serve();
        return;
      default:
        msg satisfies never;
    }
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    clearTimeout(this.helloTimer);
  }

  reply(code: ErrorReply['code'], message: string, replyTo?: number): void {
    const r: ErrorReply = { type: 'error', code, message };
    if (replyTo !== undefined) r.replyTo = replyTo;
    this.link.send(r).catch(() => {});
  }

  private async serve(): Promise<void> {
    this.serving = true;
    try {
      while (this.queue.length > 0 && !this.stopped && !this.link.closed) {
        const { msg, body } = this.queue.shift() as Queued;
        const handler = this.o.handler();
        if (msg.type === 'put-data') {
          if (!handler?.put) {
            this.reply(ReplyCode.BAD_REQUEST, 'this peer accepts no put-data', msg.id);
            continue;
          }
          handler.put(msg.key, body);
          await this.link.send({ type: 'put-ok', id: msg.id, key: msg.key });
          continue;
        }
        for (const key of msg.keys) {
          const bytes = handler?.lookup(key, this.name, this.o.path ?? 'webrtc');
          if (bytes) await this.link.send({ type: 'data', id: msg.id, key, nbytes: bytes.byteLength }, bytes);
          else await this.link.send({ type: 'data-missing', id: msg.id, key });
          if (this.stopped || this.link.closed) return;
        }
      }
    } catch (e) {
      // The link closed under us (its owner learns why from the link itself).
      this.log.debug('serving a peer stopped', { peer: this.name, error: e });
    } finally {
      this.serving = false;
    }
  }

  /** Replies, then closes the link: it can no longer be trusted or understood. */
  private fail(code: ErrorReply['code'], message: string): void {
    if (this.stopped) return;
    this.log.warn('closing a peer link', { peer: this.name, code, message });
    this.reply(code, message);
    this.stop();
    this.link.close(new ProtocolError(`${this.name}: ${message}`));
  }
}
