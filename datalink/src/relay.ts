/**
 * PeerTransport through the scheduler, for a pair with no direct path (every ICE candidate pair
 * failed: strict NATs or firewalls with no TURN server). The peer byte stream that would ride a
 * data channel rides `relay` messages on both workers' control connections instead, and the
 * scheduler counts every byte (`meshwork_relayed_bytes_total`): the last resort, never the plan.
 *
 * A RelayChannel looks like an RTCDataChannel to ChannelStream (chunking, reassembly, flow
 * control), so the same PeerSession runs on it: `bufferedAmount` is the bytes sent and not yet
 * acknowledged by the receiver, and `bufferedamountlow` fires as acks bring it down. The
 * receiver acknowledges each chunk as it takes it, so at most CHANNEL_HIGH_WATER_BYTES plus a
 * chunk per link is ever in the scheduler's hands.
 */
import { ConnectionError, MAX_RELAY_CHUNK_BYTES, type WorkerChannel } from '@meshwork/protocol';
import { silentLogger, type Logger } from './logger.js';
import { ChannelStream } from './webrtc/channel-stream.js';
import { MAX_RTC_CONNECTIONS, RTC_IDLE_TIMEOUT_MS } from './constants.js';
import type { PeerAddress, PeerDataHandler, PeerLink, PeerTransport } from './link.js';
import type { RtcDataChannelLike, RtcDataChannelState, RtcEventLike } from './webrtc/rtc-types.js';
import { PeerSession } from './session.js';

type Listener = (e: RtcEventLike & { data: unknown }) => void;

/** One relay link's end, shaped like the data channel ChannelStream drives. */
export class RelayChannel implements RtcDataChannelLike {
  readonly label = 'meshwork-relay';
  readyState: RtcDataChannelState = 'open';
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  binaryType = 'arraybuffer';
  private readonly listeners = new Map<string, Listener[]>();

  constructor(
    readonly remote: string,
    private readonly post: (msg: WorkerChannel.WorkerToServer) => void,
  ) {}

  send(data: Uint8Array): void {
    if (this.readyState !== 'open') throw new ConnectionError(`relay link to ${this.remote} is closed`);
    for (let at = 0; at < data.byteLength; at += MAX_RELAY_CHUNK_BYTES) {
      // A copy: the caller may reuse its buffer once send() returns, and the batch leaves later.
      const chunk = data.slice(at, at + MAX_RELAY_CHUNK_BYTES);
      this.bufferedAmount += chunk.byteLength;
      this.post({ type: 'relay', to: this.remote, data: chunk });
    }
  }

  close(): void {
    if (this.readyState === 'closed') return;
    this.post({ type: 'relay', to: this.remote, close: true });
    this.ended();
  }

  addEventListener(type: string, listener: (e: never) => void): void {
    // Every event this channel emits carries `data` (undefined but for `message`).
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener as Listener]);
  }

  /** A relay message from the remote. */
  deliver(msg: WorkerChannel.RelayFrom): void {
    if (this.readyState === 'closed') return;
    if (msg.ack !== undefined) {
      const before = this.bufferedAmount;
      this.bufferedAmount = Math.max(0, before - msg.ack);
      if (before > this.bufferedAmountLowThreshold && this.bufferedAmount <= this.bufferedAmountLowThreshold)
        this.emit('bufferedamountlow', {});
    }
    if (msg.data) {
      this.emit('message', { data: msg.data });
      this.post({ type: 'relay', to: this.remote, ack: msg.data.byteLength });
    }
    if (msg.close) this.ended();
  }

  /** Ends this side without telling the remote (it closed, or is gone). */
  ended(): void {
    if (this.readyState === 'closed') return;
    this.readyState = 'closed';
    this.emit('close', {});
  }

  private emit(type: string, fields: { data?: unknown }): void {
    for (const l of this.listeners.get(type) ?? []) l({ type, data: fields.data });
  }
}

export interface RelayTransportOptions {
  localId: string;
  /** Queues one message to the scheduler on the control link. */
  post(msg: WorkerChannel.WorkerToServer): void;
  /** Allocates incoming frame bodies (default: plain Uint8Arrays; a Node worker uses shared memory). */
  allocate?: (bytes: number) => Uint8Array;
  /** Default MAX_RTC_CONNECTIONS. */
  maxLinks?: number;
  /** Default RTC_IDLE_TIMEOUT_MS. */
  idleTimeoutMs?: number;
  logger?: Logger;
}

interface Entry {
  channel: RelayChannel;
  stream: ChannelStream;
  session: PeerSession;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  traffic: number;
}

export class RelayTransport implements PeerTransport {
  /** remote id → link, least recently used first. */
  private readonly entries = new Map<string, Entry>();
  private readonly log: Logger;
  private handler: PeerDataHandler | undefined;
  private closed = false;

  constructor(private readonly o: RelayTransportOptions) {
    this.log = o.logger ?? silentLogger;
  }

  get size(): number {
    return this.entries.size;
  }

  serve(handler: PeerDataHandler): void {
    this.handler = handler;
  }

  connect(peer: PeerAddress, { signal }: { signal: AbortSignal }): Promise<PeerLink> {
    if (this.closed) return Promise.reject(new ConnectionError('relay transport closed'));
    if (signal.aborted) return Promise.reject(signal.reason);
    const existing = this.entries.get(peer.id);
    if (existing && !existing.session.closed) {
      this.entries.delete(peer.id); // re-insert: Map order is the LRU order
      this.entries.set(peer.id, existing);
      return Promise.resolve(existing.session);
    }
    if (!this.makeRoom())
      return Promise.reject(new ConnectionError(`${this.o.maxLinks ?? MAX_RTC_CONNECTIONS} relay links are busy`));
    this.log.info('no direct path to a peer: relaying its data through the scheduler', { peer: peer.id });
    return Promise.resolve(this.open(peer.id).session);
  }

  /** A `relay {from}` from the scheduler: to its link, opening the answering end on first data. */
  deliver(msg: WorkerChannel.RelayFrom): void {
    if (this.closed) return;
    let entry = this.entries.get(msg.from);
    if (!entry || entry.channel.readyState === 'closed') {
      if (!msg.data) return; // an ack or close for a link already gone
      if (!this.makeRoom()) {
        this.o.post({ type: 'relay', to: msg.from, close: true });
        return;
      }
      entry = this.open(msg.from);
    }
    entry.channel.deliver(msg);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const e of [...this.entries.values()]) e.session.close(new ConnectionError('relay transport closed'));
    this.entries.clear();
  }

  private open(remote: string): Entry {
    const channel = new RelayChannel(remote, (m) => this.o.post(m));
    const stream = new ChannelStream(channel, {
      maxMessageBytes: MAX_RELAY_CHUNK_BYTES,
      name: `${remote} (relayed)`,
      ...(this.o.allocate ? { allocate: this.o.allocate } : {}),
    });
    const session = new PeerSession(stream, {
      localId: this.o.localId,
      peerId: remote,
      path: 'relay',
      handler: () => this.handler,
      logger: this.log,
      onClose: (reason) => {
        clearTimeout(entry.idleTimer);
        if (this.entries.get(remote) === entry) this.entries.delete(remote);
        stream.close(reason);
        channel.close();
      },
    });
    const entry: Entry = { channel, stream, session, idleTimer: undefined, traffic: 0 };
    this.entries.set(remote, entry);
    this.armIdle(remote, entry);
    return entry;
  }

  private armIdle(remote: string, entry: Entry): void {
    const idleMs = this.o.idleTimeoutMs ?? RTC_IDLE_TIMEOUT_MS;
    entry.idleTimer = setTimeout(() => {
      const traffic = entry.stream.bytesSent + entry.stream.bytesReceived;
      if (entry.session.busy || traffic !== entry.traffic || entry.stream.queuedBytes > 0) {
        entry.traffic = traffic;
        return this.armIdle(remote, entry);
      }
      entry.session.close(new ConnectionError(`relay link to ${remote} idle for ${idleMs} ms`));
    }, idleMs);
    (entry.idleTimer as { unref?: () => void }).unref?.();
  }

  private makeRoom(): boolean {
    if (this.entries.size < (this.o.maxLinks ?? MAX_RTC_CONNECTIONS)) return true;
    for (const [remote, e] of this.entries) {
      if (!e.session.busy && e.stream.queuedBytes === 0) {
        e.session.close(new ConnectionError(`relay link to ${remote} closed to make room`));
        return true;
      }
    }
    return false;
  }
}
