/**
 * Bytes of values this worker traded with each peer, per path (the direct TCP link between Node
 * workers, or a WebRTC data channel). Counted where values change hands: received when a fetch
 * delivers them, sent when the data server or a WebRTC link hands a stored value to a peer.
 * Value bytes, not wire bytes (framing is not counted). Kept in memory and logged at debug; not
 * reported to the scheduler (yet).
 */

export type TransferPath = 'tcp' | 'webrtc';

export interface PeerTraffic {
  /** The peer's worker id (or, for a data-link client that sent none, its socket address). */
  peer: string;
  path: TransferPath;
  bytesSent: number;
  bytesReceived: number;
  valuesSent: number;
  valuesReceived: number;
}

/** Peers remembered; past this the oldest entry is dropped (its bytes stay in the totals). */
export const MAX_TRAFFIC_ENTRIES = 1_024;

export class TransferStats {
  private readonly entries = new Map<string, PeerTraffic>();
  readonly totals: Record<TransferPath, { bytesSent: number; bytesReceived: number }> = {
    tcp: { bytesSent: 0, bytesReceived: 0 },
    webrtc: { bytesSent: 0, bytesReceived: 0 },
  };

  sent(peer: string, path: TransferPath, bytes: number): void {
    const e = this.entry(peer, path);
    e.bytesSent += bytes;
    e.valuesSent++;
    this.totals[path].bytesSent += bytes;
  }

  received(peer: string, path: TransferPath, bytes: number): void {
    const e = this.entry(peer, path);
    e.bytesReceived += bytes;
    e.valuesReceived++;
    this.totals[path].bytesReceived += bytes;
  }

  /** A copy of every entry, by peer then path. */
  list(): PeerTraffic[] {
    return [...this.entries.values()]
      .map((e) => ({ ...e }))
      .sort((a, b) => a.peer.localeCompare(b.peer) || a.path.localeCompare(b.path));
  }

  private entry(peer: string, path: TransferPath): PeerTraffic {
    const id = `${path} ${peer}`;
    let e = this.entries.get(id);
    if (!e) {
      if (this.entries.size >= MAX_TRAFFIC_ENTRIES) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
      e = { peer, path, bytesSent: 0, bytesReceived: 0, valuesSent: 0, valuesReceived: 0 };
      this.entries.set(id, e);
    }
    return e;
  }
}
