/**
 * What the join page shows about peers: which workers this tab has a WebRTC connection with, and
 * the bytes that went each way. Measured at the W3C API seam the transport already takes (its
 * injected RTCPeerConnection constructor), so peers/ needs no hooks: each RTCPeerConnection is
 * tagged with the remote id that the host was handling when the transport made it (the transport
 * makes one synchronously inside `connect()` or while handling a signal, see `attributeTo`), and
 * its data channel's sends and messages are counted, in bytes on the channel.
 */
import type {
  RtcConfiguration,
  RtcDataChannelInit,
  RtcDataChannelLike,
  RtcPeerConnectionConstructor,
  RtcPeerConnectionLike,
} from '@meshwork/datalink';

export type PeerState = 'connecting' | 'open' | 'closed';

export interface PeerInfo {
  id: string;
  state: PeerState;
  /** Bytes sent to and received from this peer over all connections, on the data channel. */
  bytesSent: number;
  bytesReceived: number;
}

/** Most closed peers remembered for the page (open ones are all kept). */
export const MAX_REMEMBERED_PEERS = 64;

/** Used when a connection is made outside `attributeTo` (should not happen). */
const UNKNOWN_PEER = '(unknown)';

function byteLength(data: unknown): number {
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  if (typeof data === 'string') return data.length;
  return 0;
}

export class PeerBook {
  private readonly peers = new Map<string, PeerInfo>();
  private readonly live = new Map<string, number>();
  private current: string | undefined;
  bytesSent = 0;
  bytesReceived = 0;

  constructor(private readonly onChange: () => void = () => {}) {}

  /** Every peer seen, open ones first. */
  list(): PeerInfo[] {
    const order: Record<PeerState, number> = { open: 0, connecting: 1, closed: 2 };
    return [...this.peers.values()]
      .map((p) => ({ ...p }))
      .sort((a, b) => order[a.state] - order[b.state] || a.id.localeCompare(b.id));
  }

  /** Runs `fn`, crediting any connection the transport makes meanwhile to peer `id`. */
  attributeTo<T>(id: string, fn: () => T): T {
    const outer = this.current;
    this.current = id;
    try {
      return fn();
    } finally {
      this.current = outer;
    }
  }

  /** The constructor to give the transport: `Base`, with every connection counted here. */
  instrument(Base: RtcPeerConnectionConstructor): RtcPeerConnectionConstructor {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the class below is built per book
    const book = this;
    return class CountedPeerConnection extends Base {
      constructor(configuration?: RtcConfiguration) {
        super(configuration);
        book.track(book.current ?? UNKNOWN_PEER, this);
      }
      override createDataChannel(label: string, init?: RtcDataChannelInit): RtcDataChannelLike {
        const dc = super.createDataChannel(label, init);
        book.count(book.idOf(this), dc);
        return dc;
      }
    };
  }

  private readonly ids = new WeakMap<object, string>();

  private idOf(pc: object): string {
    return this.ids.get(pc) ?? UNKNOWN_PEER;
  }

  private track(id: string, pc: RtcPeerConnectionLike): void {
    this.ids.set(pc, id);
    const info = this.peers.get(id) ?? { id, state: 'connecting', bytesSent: 0, bytesReceived: 0 };
    if (info.state === 'closed') info.state = 'connecting';
    this.peers.delete(id); // re-insert: newest last
    this.peers.set(id, info);
    let ended = false;
    pc.addEventListener('connectionstatechange', () => {
      const s = pc.connectionState;
      if (ended || (s !== 'failed' && s !== 'closed')) return;
      ended = true;
      this.ended(id);
    });
    this.forgetOld();
    this.onChange();
  }

  private count(id: string, dc: RtcDataChannelLike): void {
    const info = this.peers.get(id);
    if (!info) return;
    let opened = false;
    const send = dc.send.bind(dc);
    dc.send = (data: Uint8Array) => {
      send(data);
      info.bytesSent += data.byteLength;
      this.bytesSent += data.byteLength;
      this.onChange();
    };
    dc.addEventListener('message', (e) => {
      const n = byteLength(e.data);
      info.bytesReceived += n;
      this.bytesReceived += n;
      this.onChange();
    });
    dc.addEventListener('open', () => {
      opened = true;
      this.live.set(id, (this.live.get(id) ?? 0) + 1);
      info.state = 'open';
      this.onChange();
    });
    dc.addEventListener('close', () => {
      if (!opened) return this.ended(id);
      opened = false;
      const n = (this.live.get(id) ?? 1) - 1;
      if (n > 0) this.live.set(id, n);
      else this.live.delete(id);
      this.ended(id);
    });
  }

  private ended(id: string): void {
    const info = this.peers.get(id);
    if (info && !this.live.has(id)) info.state = 'closed';
    this.onChange();
  }

  private forgetOld(): void {
    let closed = [...this.peers.values()].filter((p) => p.state === 'closed').length;
    for (const [id, p] of this.peers) {
      if (closed <= MAX_REMEMBERED_PEERS) return;
      if (p.state === 'closed') {
        this.peers.delete(id);
        closed--;
      }
    }
  }
}
