/**
 * THE answering half of the data plane, over any FrameLink (TCP, WebRTC, the relay). After the
 * remote's `hello`, each `get-data {id, keys}` is answered per key by `data {id, key, nbytes}`
 * with the stored bytes as the body (not copied), or by `data-missing`; `put-data` stores the
 * body and answers `put-ok`. Requests are served in order, one frame handed to the link at a time
 * (the link's back-pressure), at most MAX_QUEUED_PEER_REQUESTS queued. Requests arrive validated.
 *
 * Who asks is settled at `hello` by the `admit` policy: a peer worker (served every key), a client
 * (each key must carry its ticket: a key without a valid one is answered `error` AUTH_FAILED
 * naming it, nothing served or stored, and the link stays), or refused (the link closes). Links
 * opened through the scheduler's signalling (WebRTC, relay) reach only workers: their policy
 * checks only who the hello says it is.
 */
import {
  HELLO_TIMEOUT_MS,
  PROTOCOL_VERSION,
  ProtocolError,
  ReplyCode,
  type ErrorReply,
  type PeerChannel,
  type TicketPurpose,
} from '@meshwork/protocol';
import { silentLogger, type Logger } from './logger.js';
import { MAX_QUEUED_PEER_REQUESTS, REFUSAL_LINGER_MS } from './constants.js';
import type { FrameLink, LinkPath, PeerDataHandler } from './link.js';

type Request = PeerChannel.PeerRequest;
type Hello = Extract<Request, { type: 'hello' }>;
type Queued = { msg: Exclude<Request, { type: 'hello' }>; body: Uint8Array };

/** Who a hello comes from, by the link's policy. */
export type Admission =
  | { as: 'peer' }
  /** A client: `ticketValid(purpose, key, ticket)` decides each key. */
  | { as: 'client'; ticketValid(purpose: TicketPurpose, key: string, ticket: string | undefined): boolean }
  | { as: 'refused'; code: ErrorReply['code']; message: string };

export interface ResponderOptions {
  /** Decides who the hello comes from. Default: a peer, whoever it is. */
  admit?(hello: Hello): Admission;
  /** Read on every request, so a handler set later (`serve`) applies to open links too. */
  handler(): PeerDataHandler | undefined;
  /** How this link reaches the remote, told to the handler (for the traffic counters). */
  path: LinkPath;
  logger?: Logger;
}

export class PeerResponder {
  private readonly queue: Queued[] = [];
  private admission: Admission | undefined;
  /** Who asks, as its hello said (the link's name until then). */
  private from: string;
  private serving = false;
  private stopped = false;
  private readonly helloTimer: ReturnType<typeof setTimeout>;
  private readonly log: Logger;

  constructor(
    private readonly link: FrameLink,
    private readonly name: string,
    private readonly o: ResponderOptions,
  ) {
    this.from = name;
    this.log = o.logger ?? silentLogger;
    this.helloTimer = setTimeout(
      () => this.fail(ReplyCode.PROTOCOL_ERROR, `no hello within ${HELLO_TIMEOUT_MS} ms`),
      HELLO_TIMEOUT_MS,
    );
  }

  request(msg: Request, body: Uint8Array): void {
    if (this.stopped) return;
    switch (msg.type) {
      case 'hello': {
        if (this.admission) return this.reply(ReplyCode.BAD_REQUEST, 'hello was already sent');
        if (msg.protocolVersion !== PROTOCOL_VERSION) {
          return this.fail(
            ReplyCode.VERSION_MISMATCH,
            `this worker speaks protocol version ${PROTOCOL_VERSION}, the peer ${msg.protocolVersion}`,
          );
        }
        const admission = this.o.admit?.(msg) ?? { as: 'peer' };
        if (admission.as === 'refused') return this.fail(admission.code, admission.message);
        this.admission = admission;
        this.from = msg.from;
        clearTimeout(this.helloTimer);
        return;
      }
      case 'get-data':
      case 'put-data':
        if (!this.admission) return this.reply(ReplyCode.BAD_REQUEST, 'send hello first', msg.id);
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

  reply(code: ErrorReply['code'], message: string, replyTo?: number, key?: string): void {
    const r: ErrorReply = { type: 'error', code, message };
    if (replyTo !== undefined) r.replyTo = replyTo;
    if (key !== undefined) r.key = key;
    this.link.send(r).catch(() => {});
  }

  /** May the remote have `key` for `purpose`? A peer may have any; a client needs the ticket. */
  private admitted(purpose: TicketPurpose, key: string, ticket: string | undefined): boolean {
    const a = this.admission;
    return a?.as === 'peer' || (a?.as === 'client' && a.ticketValid(purpose, key, ticket));
  }

  private async serve(): Promise<void> {
    this.serving = true;
    try {
      while (this.queue.length > 0 && !this.stopped && !this.link.closed) {
        const { msg, body } = this.queue.shift() as Queued;
        if (msg.type === 'put-data') await this.store(msg, body);
        else await this.answer(msg);
      }
    } catch (e) {
      // The link closed under us (its owner learns why from the link itself).
      this.log.debug('serving a peer stopped', { peer: this.from, error: e });
    } finally {
      this.serving = false;
    }
  }

  private async answer(msg: Extract<Request, { type: 'get-data' }>): Promise<void> {
    let refused = 0;
    for (const [i, key] of msg.keys.entries()) {
      if (!this.admitted('get', key, msg.tickets?.[i])) {
        refused++;
        const why = `no valid get ticket for '${key}': the scheduler gives one with the holders of a key the client may gather`;
        await this.link.send({ type: 'error', code: ReplyCode.AUTH_FAILED, message: why, replyTo: msg.id, key } satisfies ErrorReply);
      } else {
        const bytes = this.o.handler()?.lookup(key, this.from, this.o.path);
        if (bytes) await this.link.send({ type: 'data', id: msg.id, key, nbytes: bytes.byteLength }, bytes);
        else await this.link.send({ type: 'data-missing', id: msg.id, key });
      }
      if (this.stopped || this.link.closed) return;
    }
    if (refused > 0) this.log.warn('refused get-data keys without a valid ticket', { peer: this.name, from: this.from, keys: refused });
  }

  private async store(msg: Extract<Request, { type: 'put-data' }>, body: Uint8Array): Promise<void> {
    const { id, key } = msg;
    if (!this.admitted('put', key, msg.ticket)) {
      this.log.warn('refused put-data without a valid ticket', { peer: this.name, from: this.from, key });
      return this.reply(ReplyCode.AUTH_FAILED, `no valid put ticket for '${key}': ask the scheduler for it (scatter plan)`, id, key);
    }
    const handler = this.o.handler();
    if (!handler?.put) return this.reply(ReplyCode.BAD_REQUEST, 'this peer accepts no put-data', id);
    if (body.byteLength === 0) return this.reply(ReplyCode.BAD_REQUEST, `put-data of '${key}' has no value (an empty body)`, id);
    const stored = await handler.put(key, body);
    if (this.stopped || this.link.closed) return;
    if (!stored.ok) {
      this.log.info('refused put-data', { peer: this.name, key, bytes: body.byteLength, message: stored.message });
      return this.reply(ReplyCode.BAD_REQUEST, stored.message, id);
    }
    await this.link.send({ type: 'put-ok', id, key });
  }

  /** Replies, then closes the link: it can no longer be trusted or understood. */
  private fail(code: ErrorReply['code'], message: string): void {
    if (this.stopped) return;
    this.log.warn('closing a peer link', { peer: this.name, code, message });
    this.reply(code, message);
    this.stop();
    // The remote closes the link on reading the refusal; closing here at once could lose it.
    const reason = new ProtocolError(`${this.name}: ${message}`);
    const timer = setTimeout(() => this.link.close(reason), REFUSAL_LINGER_MS);
    (timer as { unref?: () => void }).unref?.();
  }
}
