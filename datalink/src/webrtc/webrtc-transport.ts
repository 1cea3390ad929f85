/**
 * PeerTransport over WebRTC: one PeerConnection per remote worker, opened on demand, shared by
 * both directions, reused while open, closed after RTC_IDLE_TIMEOUT_MS without traffic, at most
 * MAX_RTC_CONNECTIONS at once (the least recently used idle one is closed to make room).
 *
 * Signalling: the lower id offers. `connect()` to a higher id makes the offer; to a lower id it
 * sends `request-offer` and waits for the offer. An offer for a pair that already had one means
 * the remote dropped the old connection: ours is replaced. The remote's requests are answered
 * from the handler given to `serve()`.
 */
import { ConnectionError, ProtocolError } from '@meshwork/protocol';
import { silentLogger, type Logger } from '../logger.js';
import { ChannelStream } from './channel-stream.js';
import { MAX_RTC_CONNECTIONS, RTC_IDLE_TIMEOUT_MS } from '../constants.js';
import type { PeerAddress, PeerDataHandler, PeerLink, PeerTransport } from '../link.js';
import { PeerConnection } from './peer-connection.js';
import type { RtcIceServer, RtcPeerConnectionConstructor } from './rtc-types.js';
import { PeerSession } from '../session.js';
import { isOfferer, type SignalPayload, type Signaller } from './signals.js';

export interface WebRtcTransportOptions {
  /** This worker's id (its `hello.from`, and what decides who offers). */
  localId: string;
  signaller: Signaller;
  RTCPeerConnection: RtcPeerConnectionConstructor;
  /** From the scheduler; a function is read for each new connection. */
  iceServers?: RtcIceServer[] | (() => RtcIceServer[]);
  /** Default MAX_RTC_CONNECTIONS. */
  maxConnections?: number;
  /** Default RTC_IDLE_TIMEOUT_MS. */
  idleTimeoutMs?: number;
  /** Default PEER_CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
  /** Allocates incoming frame bodies (default: plain Uint8Arrays; a Node worker uses shared memory). */
  allocate?: (bytes: number) => Uint8Array;
  logger?: Logger;
}

interface Entry {
  pc: PeerConnection;
  session: PeerSession | undefined;
  stream: ChannelStream | undefined;
  opening: Promise<PeerSession>;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** stream.bytesSent + bytesReceived at the last idle check. */
  traffic: number;
}

export class WebRtcTransport implements PeerTransport {
  /** remote id → entry, least recently used first. */
  private readonly entries = new Map<string, Entry>();
  private readonly log: Logger;
  private readonly maxConnections: number;
  private readonly idleMs: number;
  private readonly unsubscribe: () => void;
  private handler: PeerDataHandler | undefined;
  private closed = false;

  constructor(private readonly o: WebRtcTransportOptions) {
    this.log = o.logger ?? silentLogger;
    this.maxConnections = o.maxConnections ?? MAX_RTC_CONNECTIONS;
    this.idleMs = o.idleTimeoutMs ?? RTC_IDLE_TIMEOUT_MS;
    this.unsubscribe = o.signaller.subscribe((from, payload) => this.onSignal(from, payload));
  }

  /** Open (or opening) connections. */
  get size(): number {
    return this.entries.size;
  }

  serve(handler: PeerDataHandler): void {
    this.handler = handler;
  }

  connect(peer: PeerAddress, { signal }: { signal: AbortSignal }): Promise<PeerLink> {
    if (this.closed) return Promise.reject(new ConnectionError('WebRTC transport closed'));
    if (signal.aborted) return Promise.reject(signal.reason);
    if (peer.id === this.o.localId) return Promise.reject(new ConnectionError('a worker cannot connect to itself'));
    let entry = this.entries.get(peer.id);
    if (entry && entry.pc.state !== 'closed') {
      this.entries.delete(peer.id); // re-insert: Map order is the LRU order
      this.entries.set(peer.id, entry);
    } else {
      if (!this.makeRoom())
        return Promise.reject(new ConnectionError(`${this.maxConnections} WebRTC connections are busy`));
      entry = this.open(peer.id);
      if (!entry.pc.offerer) this.o.signaller.send(peer.id, { kind: 'request-offer' });
    }
    const opening = entry.opening;
    return new Promise<PeerLink>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      opening.then(
        (s) => {
          signal.removeEventListener('abort', onAbort);
          resolve(s);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    for (const e of [...this.entries.values()]) e.pc.close(new ConnectionError('WebRTC transport closed'));
    this.entries.clear();
  }

  private onSignal(from: string, payload: SignalPayload): void {
    if (this.closed || from === this.o.localId) return;
    const existing = this.entries.get(from);
    switch (payload.kind) {
      case 'request-offer':
        if (!isOfferer(this.o.localId, from)) return this.log.warn('request-offer from a lower id ignored', { from });
        // An open connection here means the remote lost its end: start afresh.
        if (existing?.pc.state === 'open') existing.pc.close(new ConnectionError(`${from} asked for a new connection`));
        else if (existing) return; // our offer is on its way
        if (this.makeRoom()) this.open(from);
        return;
      case 'offer':
        if (!isOfferer(from, this.o.localId)) return this.log.warn('offer from a higher id ignored', { from });
        if (existing?.pc.hasRemoteDescription)
          existing.pc.close(new ConnectionError(`${from} replaced the connection`));
        if (existing && !existing.pc.hasRemoteDescription && existing.pc.state !== 'closed')
          return existing.pc.receive(payload);
        if (this.makeRoom()) this.open(from).pc.receive(payload);
        return;
      case 'bye':
        existing?.pc.close(new ConnectionError(`${from} left the cluster`));
        return;
      case 'answer':
      case 'candidate':
      case 'end-of-candidates':
        existing?.pc.receive(payload);
        return;
      default:
        payload satisfies never;
    }
  }

  /** Starts a connection to `remote` (offering when our id is the lower one). */
  private open(remote: string): Entry {
    const iceServers = typeof this.o.iceServers === 'function' ? this.o.iceServers() : (this.o.iceServers ?? []);
    const pc = new PeerConnection({
      localId: this.o.localId,
      remoteId: remote,
      signal: (payload) => this.o.signaller.send(remote, payload),
      RTCPeerConnection: this.o.RTCPeerConnection,
      iceServers,
      ...(this.o.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.o.connectTimeoutMs } : {}),
      logger: this.log,
    });
    let resolveOpen!: (s: PeerSession) => void;
    let rejectOpen!: (e: Error) => void;
    const opening = new Promise<PeerSession>((resolve, reject) => {
      resolveOpen = resolve;
      rejectOpen = reject;
    });
    opening.catch(() => {}); // nobody may be waiting (a connection the remote asked for)
    const entry: Entry = { pc, session: undefined, stream: undefined, opening, idleTimer: undefined, traffic: 0 };
    this.entries.set(remote, entry);
    pc.on('open', () => {
      const channel = pc.channel;
      if (!channel) return pc.close(new ProtocolError(`no data channel to ${remote}`));
      entry.stream = new ChannelStream(channel, {
        maxMessageBytes: pc.maxMessageBytes,
        name: remote,
        ...(this.o.allocate ? { allocate: this.o.allocate } : {}),
      });
      entry.session = new PeerSession(entry.stream, {
        localId: this.o.localId,
        peerId: remote,
        handler: () => this.handler,
        logger: this.log,
        onClose: (reason) => pc.close(reason),
      });
      this.armIdle(remote, entry);
      resolveOpen(entry.session);
    });
    pc.on('close', (reason) => {
      const why = reason ?? new ConnectionError(`WebRTC connection to ${remote} closed`);
      clearTimeout(entry.idleTimer);
      if (this.entries.get(remote) === entry) this.entries.delete(remote);
      entry.stream?.close(why);
      entry.session?.close(why);
      rejectOpen(why);
    });
    pc.on('error', (e) => this.log.debug('WebRTC connection error', { peer: remote, error: e }));
    return entry;
  }

  /** Closes the idle connection once nothing moved on it for `idleMs`. */
  private armIdle(remote: string, entry: Entry): void {
    entry.idleTimer = setTimeout(() => {
      const s = entry.stream;
      const traffic = s ? s.bytesSent + s.bytesReceived : 0;
      if (entry.session?.busy || traffic !== entry.traffic || (s?.queuedBytes ?? 0) > 0) {
        entry.traffic = traffic;
        return this.armIdle(remote, entry);
      }
      this.log.debug('closing an idle WebRTC connection', { peer: remote });
      entry.pc.close(new ConnectionError(`WebRTC connection to ${remote} idle for ${this.idleMs} ms`));
    }, this.idleMs);
  }

  /** True when a new connection fits, closing the least recently used idle one if needed. */
  private makeRoom(): boolean {
    if (this.entries.size < this.maxConnections) return true;
    for (const [remote, e] of this.entries) {
      if (e.pc.state === 'open' && !e.session?.busy && (e.stream?.queuedBytes ?? 0) === 0) {
        e.pc.close(new ConnectionError(`WebRTC connection to ${remote} closed to make room`));
        return true;
      }
    }
    return false;
  }
}
