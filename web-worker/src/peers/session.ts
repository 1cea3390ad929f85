/**
 * A PeerLink over any FrameLink, symmetric: it sends `hello` first, asks through a PeerRequester,
 * and answers the remote's requests through a PeerResponder, so one connection carries both
 * directions (on WebRTC, both ends of a pair share one data channel). Every incoming header is
 * validated here, at the edge, with the PeerChannel schemas: a request goes to the responder, a
 * reply to the requester, anything else gets an `error` reply and the link stays.
 */
import { ConnectionError, PROTOCOL_VERSION, PeerChannel, parseMessage, typesOf } from '@meshwork/protocol';
import { silentLogger, type Logger } from '../core/logger.js';
import type { Delivery, FrameLink, PeerDataHandler, PeerLink, RequestOptions } from './link.js';
import { PeerRequester } from './requester.js';
import { PeerResponder } from './responder.js';

const requestTypes = typesOf(PeerChannel.PeerRequest);
const replyTypes = typesOf(PeerChannel.PeerReply);

export interface PeerSessionOptions {
  /** This end's worker id, sent in `hello`. */
  localId: string;
  /** The remote's worker id: its `hello` must say so. */
  peerId: string;
  /** How to answer the remote's requests; read per request. Absent: every key is missing. */
  handler?: () => PeerDataHandler | undefined;
  logger?: Logger;
  /** Called once when the session ends, whatever the cause. */
  onClose?: (reason: Error) => void;
  /** Called on every frame or chunk received, and on every request made (for idle tracking). */
  onActivity?: () => void;
  /** How the link reaches the remote. Default 'webrtc'. */
  path?: 'webrtc' | 'relay';
}

export class PeerSession implements PeerLink {
  readonly peerId: string;
  readonly path: 'webrtc' | 'relay';
  private readonly requester: PeerRequester;
  private readonly responder: PeerResponder;
  private readonly log: Logger;
  private ended = false;

  constructor(
    private readonly link: FrameLink,
    private readonly o: PeerSessionOptions,
  ) {
    this.peerId = o.peerId;
    this.path = o.path ?? 'webrtc';
    this.log = o.logger ?? silentLogger;
    this.requester = new PeerRequester(link, o.peerId, (e) => link.close(e));
    this.responder = new PeerResponder(link, o.peerId, {
      expectFrom: o.peerId,
      handler: o.handler ?? (() => undefined),
      path: this.path,
      logger: this.log,
    });
    link.receive({
      frame: (header, body) => this.onFrame(header, body),
      progress: () => {
        this.requester.progress();
        this.o.onActivity?.();
      },
      closed: (reason) => this.end(reason),
    });
    link.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, from: o.localId }).catch(() => {});
  }

  get closed(): boolean {
    return this.ended || this.link.closed;
  }

  get busy(): boolean {
    return this.requester.busy;
  }

  getData(keys: readonly string[], options: RequestOptions): Promise<Delivery> {
    this.o.onActivity?.();
    return this.requester.getData(keys, options);
  }

  putData(key: string, bytes: Uint8Array, options: RequestOptions): Promise<void> {
    this.o.onActivity?.();
    return this.requester.putData(key, bytes, options);
  }

  close(reason: Error = new ConnectionError(`link to ${this.peerId} closed`)): void {
    this.link.close(reason); // ends the session through `closed`
    this.end(reason);
  }

  private onFrame(header: unknown, body: Uint8Array): void {
    const type = typeof header === 'object' && header !== null ? (header as { type?: unknown }).type : undefined;
    if (typeof type === 'string' && replyTypes.has(type)) {
      const parsed = parseMessage(header, PeerChannel.PeerReply, replyTypes);
      if (parsed.ok) return this.requester.reply(parsed.message, body);
      this.log.warn('refused a peer reply', { peer: this.peerId, message: parsed.error.message });
      return this.link.close(new ConnectionError(`bad reply from ${this.peerId}: ${parsed.error.message}`));
    }
    const parsed = parseMessage(header, PeerChannel.PeerRequest, requestTypes);
    if (parsed.ok) return this.responder.request(parsed.message, body);
    this.log.warn('refused a peer request', { peer: this.peerId, message: parsed.error.message });
    this.link.send(parsed.error).catch(() => {});
  }

  private end(reason: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.responder.stop();
    this.requester.close(reason);
    this.o.onClose?.(reason);
  }
}
