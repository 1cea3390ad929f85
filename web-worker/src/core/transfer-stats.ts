/**
 * Bytes of values this worker traded with each peer, per path (the direct TCP link between Node
 * workers, or a WebRTC data channel). Counted where values change hands: received when a fetch
 * delivers them, sent when the data server or a WebRTC link hands a stored value to a peer.
 * Value bytes, not wire bytes (framing is not counted). The entries that changed since the last
 * heartbeat ride on it (`takeChanged`), so the scheduler and its dashboard see who traded what.
 */
import type { WorkerChannel } from '@meshwork/protocol';
import type { TransferPath } from '@meshwork/datalink';

export type { TransferPath };

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
  /** Entries changed since the last `takeChanged`, in the order they first changed. */
  private readonly changed = new Set<PeerTraffic>();
  readonly totals: Record<TransferPath, { bytesSent: number; bytesReceived: number }> = {
    tcp: { bytesSent: 0, bytesReceived: 0 },
    webrtc: { bytesSent: 0, bytesReceived: 0 },
    relay: { bytesSent: 0, bytesReceived: 0 },
  };

  sent(peer: string, path: TransferPath, bytes: number): void {
    const e = this.entry(peer, path);
    e.bytesSent += bytes;
    e.valuesSent++;
    this.totals[path].bytesSent += bytes;
    this.changed.add(e);
  }

  received(peer: string, path: TransferPath, bytes: number): void {
    const e = this.entry(peer, path);
    e.bytesReceived += bytes;
    e.valuesReceived++;
    this.totals[path].bytesReceived += bytes;
    this.changed.add(e);
  }

  /** The totals of up to `limit` entries that changed since the last call (the rest stay for the next). */
  takeChanged(limit: number): WorkerChannel.PeerTraffic[] {
    const out: WorkerChannel.PeerTraffic[] = [];
    for (const e of this.changed) {
      if (out.length >= limit) break;
      this.changed.delete(e);
      out.push({ peer: e.peer, path: e.path, bytesSent: e.bytesSent, bytesReceived: e.bytesReceived });
    }
    return out;
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
        if (oldest !== undefined) {
          const dropped = this.entries.get(oldest);
          if (dropped) this.changed.delete(dropped);
          this.entries.delete(oldest);
        }
      }
      e = { peer, path, bytesSent: 0, bytesReceived: 0, valuesSent: 0, valuesReceived: 0 };
      this.entries.set(id, e);
    }
    return e;
  }
}
