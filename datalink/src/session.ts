/**
 * THE peer session, over any FrameLink. Roles: `both` (WebRTC and the relay: both ends of a pair
 * share one link, each asks and answers), `ask` (a dialled TCP link, a client: it sends `hello`
 * and asks; a request from the remote is refused), `serve` (an accepted TCP link: it answers
 * after the remote's hello and asks nothing). Every incoming header is validated here, at the
 * edge, with the PeerChannel schemas: a request goes to the responder, a reply to the requester,
 * anything else gets an `error` reply and the link stays.
 */
import { ConnectionError, PROTOCOL_VERSION, PeerChannel, ReplyCode, parseMessage, typesOf } from '@meshwork/protocol';
import { silentLogger, type Logger } from './logger.js';
import type { Delivery, FrameLink, GetOptions, LinkPath, PeerDataHandler, PeerLink, PutOptions } from './link.js';
import { PeerRequester } from './requester.js';
import { PeerResponder, type ResponderOptions } from './responder.js';

const requestTypes = typesOf(PeerChannel.PeerRequest);
const replyTypes = typesOf(PeerChannel.PeerReply);

export type SessionRole = 'both' | 'ask' | 'serve';

export interface PeerSessionOptions {
  /** This end's id, sent in `hello` (roles `both` and `ask`). */
  localId: string;
  /** The remote's id, or its address while its hello has not come (role `serve`). */
  peerId: string;
  /** Default 'both'. */
  role?: SessionRole;
  /** The scheduler's data token, sent in `hello` (a worker dialling a worker's TCP link). */
  token?: string | undefined;
  /** How to answer the remote's requests; read per request. Absent: every key is missing. */
  handler?: () => PeerDataHandler | undefined;
  /** Who the remote's hello may come from (see PeerResponder). Default, role `both`: only `peerId`. */
  admit?: ResponderOptions['admit'];
  logger?: Logger;
  /** Called once when the session ends, whatever the cause. */
  onClose?: (reason: Error) => void;
  /** Called on every frame or chunk received, and on every request made (for idle tracking). */
  onActivity?: () => void;
  /** How the link reaches the remote. Default 'webrtc'. */
  path?: LinkPath;
}

export class PeerSession implements PeerLink {
  readonly peerId: string;
  readonly path: LinkPath;
  private readonly requester: PeerRequester | undefined;
  private readonly responder: PeerResponder | undefined;
  private readonly log: Logger;
  private ended = false;

  constructor(
    private readonly link: FrameLink,
    private readonly o: PeerSessionOptions,
  ) {
    const role = o.role ?? 'both';
    this.peerId = o.peerId;
    this.path = o.path ?? 'webrtc';
    this.log = o.logger ?? silentLogger;
    if (role !== 'serve') this.requester = new PeerRequester(link, o.peerId, (e) => link.close(e));
    if (role !== 'ask') {
      const peerId = o.peerId;
      const onlyPeer: ResponderOptions['admit'] = (hello) =>
        hello.from === peerId
          ? { as: 'peer' }
          : { as: 'refused', code: ReplyCode.BAD_REQUEST, message: `expected hello from '${peerId}', got '${hello.from}'` };
      this.responder = new PeerResponder(link, o.peerId, {
        admit: o.admit ?? (role === 'both' ? onlyPeer : undefined),
        handler: o.handler ?? (() => undefined),
        path: this.path,
        logger: this.log,
      });
    }
    link.receive({
      frame: (header, body) => this.onFrame(header, body),
      progress: () => {
        this.requester?.progress();
        this.o.onActivity?.();
      },
      closed: (reason) => this.end(reason),
    });
    if (role !== 'serve') {
      const token = o.token !== undefined ? { token: o.token } : {};
      link.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, from: o.localId, ...token }).catch(() => {});
    }
  }

  get closed(): boolean {
    return this.ended || this.link.closed;
  }

  get busy(): boolean {
    return this.requester?.busy ?? false;
  }

  getData(keys: readonly string[], options: GetOptions): Promise<Delivery> {
    this.o.onActivity?.();
    if (!this.requester) return Promise.reject(new ConnectionError(`the link from ${this.peerId} only serves`));
    return this.requester.getData(keys, options);
  }

  putData(key: string, bytes: Uint8Array, options: PutOptions): Promise<void> {
    this.o.onActivity?.();
    if (!this.requester) return Promise.reject(new ConnectionError(`the link from ${this.peerId} only serves`));
    return this.requester.putData(key, bytes, options);
  }

  close(reason: Error = new ConnectionError(`link to ${this.peerId} closed`)): void {
    this.link.close(reason); // ends the session through `closed`
    this.end(reason);
  }

  private onFrame(header: unknown, body: Uint8Array): void {
    const type = typeof header === 'object' && header !== null ? (header as { type?: unknown }).type : undefined;
    if (typeof type === 'string' && replyTypes.has(type)) {
      if (!this.requester) return; // a serving end asked nothing: a stray reply changes nothing
      const parsed = parseMessage(header, PeerChannel.PeerReply, replyTypes);
      if (parsed.ok) return this.requester.reply(parsed.message, body);
      this.log.warn('refused a peer reply', { peer: this.peerId, message: parsed.error.message });
      return this.link.close(new ConnectionError(`bad reply from ${this.peerId}: ${parsed.error.message}`));
    }
    const parsed = parseMessage(header, PeerChannel.PeerRequest, requestTypes);
    if (!parsed.ok) {
      this.log.warn('refused a peer request', { peer: this.peerId, message: parsed.error.message });
      this.link.send(parsed.error).catch(() => {});
      return;
    }
    if (this.responder) return this.responder.request(parsed.message, body);
    if (parsed.message.type !== 'hello') {
      const r = { type: 'error', code: ReplyCode.BAD_REQUEST, message: 'this end serves nothing', replyTo: parsed.message.id } as const;
      this.link.send(r).catch(() => {});
    }
  }

  private end(reason: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.responder?.stop();
    this.requester?.close(reason);
    this.o.onClose?.(reason);
  }
}
