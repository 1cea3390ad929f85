/**
 * One WebRTC connection to one peer with exactly one ordered, reliable data channel
 * (`negotiated: true, id: 0`: both ends create it, nothing travels in-band). Runtime-free: the
 * `RTCPeerConnection` constructor is injected (a page's own, or node-rtc.ts's in Node).
 *
 * Roles come from the ids: the lower id offers (isOfferer). The offerer creates the channel
 * before its offer; the answerer creates it once the offer is its remote description (creating
 * it earlier makes node-datachannel offer on its own). Never renegotiated: a connection that
 * fails is closed and a new one is made. Remote candidates are held until the remote description
 * is set. Our own are held too: the answerer's until its answer has been signalled; the
 * offerer's until the answer has been applied. That last hold closes a race in libdatachannel:
 * a browser that can reach a Node offerer before the offerer has applied the answer connects
 * ICE, and its DTLS ClientHello meets an offerer that does not know the answer's fingerprint yet
 * ("certificate verify failed", the connection fails): 2 of 20 Node-offers-to-Chromium connects
 * failed so before the hold. The answerer still reaches the offerer through the offerer's own
 * checks (a peer-reflexive candidate), so the hold costs no round trip.
 *
 * The offer keeps the standard `a=setup:actpass`. Offering `active` instead (the offerer as DTLS
 * client) cut Node↔Node connects stalled ~1 s in DTLS from 19 of 40 to 5 of 40, but made 2 of 12
 * Node-offers-to-Chromium connects fail: libdatachannel started the handshake before the answer's
 * fingerprint was applied ("certificate verify failed"). `node bench/webrtc-raw.mjs connect`
 * re-measures both.
 *
 * Events: `open` once the channel is open; `error` for every failure (a fatal one is followed by
 * `close`); `close` exactly once, with the reason (undefined for a local `close()` without one).
 */
import { ConnectionError, ProtocolError, TimeoutError } from '@meshwork/protocol';
import { silentLogger, type Logger } from '../logger.js';
import {
  DATA_CHANNEL_ID,
  DATA_CHANNEL_LABEL,
  MAX_PENDING_CANDIDATES,
  PEER_CHUNK_BYTES,
  PEER_CONNECT_TIMEOUT_MS,
  PEER_DISCONNECTED_GRACE_MS,
} from '../constants.js';
import type {
  RtcDataChannelLike,
  RtcIceCandidateInit,
  RtcIceServer,
  RtcPeerConnectionConstructor,
  RtcPeerConnectionLike,
} from './rtc-types.js';
import { isOfferer, type SignalPayload } from './signals.js';

export interface PeerConnectionOptions {
  localId: string;
  remoteId: string;
  /** Sends a payload to the remote through the relay. */
  signal: (payload: SignalPayload) => void;
  RTCPeerConnection: RtcPeerConnectionConstructor;
  /** From the scheduler; never list a server that cannot answer (each costs ~1 s per connect). */
  iceServers?: RtcIceServer[];
  /** Default PEER_CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
  logger?: Logger;
}

export type PeerConnectionState = 'connecting' | 'open' | 'closed';

type Listeners = {
  open: (() => void)[];
  close: ((reason: Error | undefined) => void)[];
  error: ((e: Error) => void)[];
};

export class PeerConnection {
  readonly localId: string;
  readonly remoteId: string;
  readonly offerer: boolean;
  private readonly pc: RtcPeerConnectionLike;
  private dc: RtcDataChannelLike | undefined;
  private readonly log: Logger;
  private readonly send: (payload: SignalPayload) => void;
  private readonly listeners: Listeners = { open: [], close: [], error: [] };
  private readonly remoteCandidates: RtcIceCandidateInit[] = [];
  private readonly localCandidates: SignalPayload[] = [];
  private remoteSet = false;
  private gotDescription = false;
  /** Our candidates go out once true: for the answerer after its answer, for the offerer after the answer is applied. */
  private candidatesFree = false;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private graceTimer: ReturnType<typeof setTimeout> | undefined;
  private stateNow: PeerConnectionState = 'connecting';
  /** How far negotiation got, for the message of a connect that timed out. */
  private readonly counts = { gathered: 0, sent: 0, received: 0, descriptionSent: false };
  private closeReason: Error | undefined;

  constructor(o: PeerConnectionOptions) {
    this.localId = o.localId;
    this.remoteId = o.remoteId;
    this.offerer = isOfferer(o.localId, o.remoteId);
    this.log = o.logger ?? silentLogger;
    this.send = o.signal;
    this.pc = new o.RTCPeerConnection({ iceServers: o.iceServers ?? [] });
    const timeoutMs = o.connectTimeoutMs ?? PEER_CONNECT_TIMEOUT_MS;
    this.connectTimer = setTimeout(
      () =>
        this.fail(
          new TimeoutError(
            `WebRTC connection to ${this.remoteId} not open within ${timeoutMs} ms (${this.progress()})`,
          ),
        ),
      timeoutMs,
    );
    this.pc.addEventListener('icecandidate', (e) => {
      const c = e.candidate;
      const payload: SignalPayload =
        c && c.candidate
          ? { kind: 'candidate', candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }
          : { kind: 'end-of-candidates' };
      if (payload.kind === 'candidate') this.counts.gathered++;
      if (this.candidatesFree) this.signal(payload);
      else this.localCandidates.push(payload);
    });
    this.pc.addEventListener('connectionstatechange', () => {
      const s = this.pc.connectionState;
      if (s === 'failed' || s === 'closed')
        this.fail(new ConnectionError(`WebRTC connection to ${this.remoteId} ${s}`));
    });
    this.pc.addEventListener('iceconnectionstatechange', () => {
      const s = this.pc.iceConnectionState;
      clearTimeout(this.graceTimer);
      if (s === 'disconnected') {
        this.graceTimer = setTimeout(
          () =>
            this.fail(
              new ConnectionError(
                `WebRTC connection to ${this.remoteId} disconnected for ${PEER_DISCONNECTED_GRACE_MS} ms`,
              ),
            ),
          PEER_DISCONNECTED_GRACE_MS,
        );
      } else if (s === 'failed') {
        this.fail(new ConnectionError(`ICE to ${this.remoteId} failed`));
      }
    });
    if (this.offerer) void this.guard(this.makeOffer());
  }

  get state(): PeerConnectionState {
    return this.stateNow;
  }

  /** True once the remote's description has arrived (an answerer has had its one offer). */
  get hasRemoteDescription(): boolean {
    return this.gotDescription;
  }

  /** The open data channel (undefined until `open`). */
  get channel(): RtcDataChannelLike | undefined {
    return this.stateNow === 'open' ? this.dc : undefined;
  }

  /** Largest message to send: PEER_CHUNK_BYTES, or less when the remote's SCTP says so. */
  get maxMessageBytes(): number {
    const remote = this.pc.sctp?.maxMessageSize;
    return typeof remote === 'number' && remote > 0 ? Math.min(remote, PEER_CHUNK_BYTES) : PEER_CHUNK_BYTES;
  }

  on<E extends keyof Listeners>(event: E, listener: Listeners[E][number]): void {
    (this.listeners[event] as Listeners[E][number][]).push(listener);
  }

  /** Resolves once open; rejects with the close reason, or when `signal` aborts. */
  whenOpen(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.stateNow === 'open') return Promise.resolve();
    if (this.stateNow === 'closed')
      return Promise.reject(this.closeReason ?? new ConnectionError(`connection to ${this.remoteId} closed`));
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.on('open', () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      this.on('close', (reason) => {
        signal?.removeEventListener('abort', onAbort);
        reject(reason ?? new ConnectionError(`connection to ${this.remoteId} closed`));
      });
    });
  }

  /** Feeds one payload from the remote, in the order the relay delivered them. */
  receive(payload: SignalPayload): void {
    if (this.stateNow === 'closed') return;
    switch (payload.kind) {
      case 'offer':
        if (this.offerer || this.gotDescription)
          return this.emitError(new ProtocolError(`unexpected offer from ${this.remoteId}`));
        this.gotDescription = true;
        void this.guard(this.answer(payload.sdp));
        return;
      case 'answer':
        if (!this.offerer || this.gotDescription)
          return this.emitError(new ProtocolError(`unexpected answer from ${this.remoteId}`));
        this.gotDescription = true;
        void this.guard(this.acceptAnswer(payload.sdp));
        return;
      case 'candidate': {
        this.counts.received++;
        const init: RtcIceCandidateInit = {
          candidate: payload.candidate,
          sdpMid: payload.sdpMid,
          sdpMLineIndex: payload.sdpMLineIndex,
        };
        if (this.remoteSet) return this.addCandidate(init);
        if (this.remoteCandidates.length >= MAX_PENDING_CANDIDATES)
          return this.emitError(new ProtocolError(`over ${MAX_PENDING_CANDIDATES} candidates from ${this.remoteId}`));
        this.remoteCandidates.push(init);
        return;
      }
      case 'end-of-candidates':
      case 'request-offer':
      case 'bye':
        return; // trickle ends by itself; request-offer and bye are for the transport
      default:
        payload satisfies never;
    }
  }

  close(reason?: Error): void {
    if (this.stateNow === 'closed') return;
    this.stateNow = 'closed';
    this.closeReason = reason;
    clearTimeout(this.connectTimer);
    clearTimeout(this.graceTimer);
    try {
      this.dc?.close();
      this.pc.close();
    } catch (e) {
      this.log.debug('closing a peer connection threw', { peer: this.remoteId, error: e });
    }
    for (const l of this.listeners.close.splice(0)) l(reason);
    this.listeners.open.length = 0;
    this.listeners.error.length = 0;
  }

  private async makeOffer(): Promise<void> {
    this.createChannel();
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this.sendDescription('offer', offer.sdp);
  }

  private async answer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    this.createChannel();
    this.remoteDescriptionSet();
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    this.sendDescription('answer', answer.sdp);
  }

  private async acceptAnswer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    this.remoteDescriptionSet();
  }

  private createChannel(): void {
    const dc = this.pc.createDataChannel(DATA_CHANNEL_LABEL, { ordered: true, negotiated: true, id: DATA_CHANNEL_ID });
    dc.binaryType = 'arraybuffer';
    this.dc = dc;
    dc.addEventListener('open', () => {
      if (this.stateNow !== 'connecting') return;
      this.stateNow = 'open';
      clearTimeout(this.connectTimer);
      for (const l of this.listeners.open.splice(0)) l();
    });
    dc.addEventListener('close', () => this.fail(new ConnectionError(`data channel to ${this.remoteId} closed`)));
    dc.addEventListener('error', (e) => {
      const detail = e.error instanceof Error ? e.error.message : 'unknown error';
      this.fail(new ConnectionError(`data channel to ${this.remoteId} failed: ${detail}`));
    });
  }

  private sendDescription(kind: 'offer' | 'answer', sdp: string | undefined): void {
    if (this.stateNow === 'closed') return;
    if (!sdp) throw new ConnectionError(`the local ${kind} has no SDP`);
    this.signal({ kind, sdp });
    this.counts.descriptionSent = true;
    if (kind === 'answer') this.releaseCandidates();
  }

  private releaseCandidates(): void {
    this.candidatesFree = true;
    for (const c of this.localCandidates.splice(0)) this.signal(c);
  }

  /** Where a connect stands: which description went which way, candidates, ICE, channel. */
  private progress(): string {
    const c = this.counts;
    const [mine, theirs] = this.offerer ? ['offer', 'answer'] : ['answer', 'offer'];
    return [
      `${mine} ${c.descriptionSent ? 'sent' : 'not sent'}`,
      `${theirs} ${this.remoteSet ? 'applied' : this.gotDescription ? 'received' : 'not received'}`,
      `candidates gathered ${c.gathered}, sent ${c.sent}, received ${c.received}`,
      `ICE ${this.pc.iceConnectionState}`,
      `connection ${this.pc.connectionState}`,
      `channel ${this.dc?.readyState ?? 'none'}`,
    ].join('; ');
  }

  private remoteDescriptionSet(): void {
    this.remoteSet = true;
    for (const c of this.remoteCandidates.splice(0)) this.addCandidate(c);
    if (this.offerer) this.releaseCandidates();
  }

  private addCandidate(init: RtcIceCandidateInit): void {
    // A bad or stale candidate costs that candidate only, not the connection.
    this.pc
      .addIceCandidate(init)
      .catch((e: unknown) => this.emitError(new ConnectionError(`remote candidate refused: ${(e as Error).message}`)));
  }

  private signal(payload: SignalPayload): void {
    if (this.stateNow === 'closed') return;
    if (payload.kind === 'candidate') this.counts.sent++;
    try {
      this.send(payload);
    } catch (e) {
      this.fail(new ConnectionError(`signalling to ${this.remoteId} failed: ${(e as Error).message}`));
    }
  }

  private async guard(step: Promise<void>): Promise<void> {
    try {
      await step;
    } catch (e) {
      this.fail(
        e instanceof Error && 'code' in e
          ? e
          : new ConnectionError(`WebRTC negotiation with ${this.remoteId} failed: ${(e as Error).message}`),
      );
    }
  }

  private emitError(e: Error): void {
    this.log.debug('peer connection error', { peer: this.remoteId, error: e });
    for (const l of this.listeners.error) l(e);
  }

  private fail(reason: Error): void {
    if (this.stateNow === 'closed') return;
    this.emitError(reason);
    this.close(reason);
  }
}
