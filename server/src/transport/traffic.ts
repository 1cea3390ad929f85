/**
 * Who traded how many bytes with whom, as workers report it on their heartbeats (totals per peer
 * and path: the direct Node link, WebRTC, or relayed through the scheduler), plus the bytes the
 * scheduler relayed itself. Kept beside the state machine, not in it: nothing is scheduled by it.
 * Read by /api/state (each worker's peers), /metrics and the dashboard.
 */
import type { WorkerChannel } from '@meshwork/protocol';

type Path = WorkerChannel.TransferPath;
export type PeerTraffic = WorkerChannel.PeerTraffic;

/** Peer entries kept per worker; past this the oldest reported is dropped (its bytes stay in the totals). */
export const MAX_TRAFFIC_ENTRIES_PER_WORKER = 1_024;

export class TrafficBook {
  private readonly byWorker = new Map<string, Map<string, PeerTraffic>>();
  /** Bytes received per path, over every worker that ever reported (lost ones included). */
  readonly received: Record<Path, number> = { tcp: 0, webrtc: 0, relay: 0 };
  /**
   * Bytes moved between peers per path, each transfer counted once: `received`, plus what workers
   * sent to peers that are not workers (clients: they report nothing). Lost peers' bytes included.
   */
  readonly moved: Record<Path, number> = { tcp: 0, webrtc: 0, relay: 0 };

  /**
   * @param isWorker whether a peer id (as a worker reports it) names a worker of this scheduler,
   *   now or in the past: what a worker sends to one is counted by that worker as received.
   */
  constructor(private readonly isWorker: (peer: string) => boolean) {}
  /** Bytes of task data the scheduler carried because no direct path opened. */
  relayedBytes = 0;

  /** A heartbeat's entries: totals since the worker joined, so only the growth is added up. */
  report(workerId: string, entries: readonly PeerTraffic[]): void {
    let peers = this.byWorker.get(workerId);
    if (!peers) this.byWorker.set(workerId, (peers = new Map<string, PeerTraffic>()));
    for (const e of entries) {
      const id = `${e.path} ${e.peer}`;
      const before = peers.get(id);
      const received = Math.max(0, e.bytesReceived - (before?.bytesReceived ?? 0));
      this.received[e.path] += received;
      this.moved[e.path] += received;
      if (!this.isWorker(e.peer)) this.moved[e.path] += Math.max(0, e.bytesSent - (before?.bytesSent ?? 0));
      peers.delete(id); // re-insert: most recently reported last
      peers.set(id, { peer: e.peer, path: e.path, bytesSent: e.bytesSent, bytesReceived: e.bytesReceived });
      if (peers.size > MAX_TRAFFIC_ENTRIES_PER_WORKER) {
        const oldest = peers.keys().next().value;
        if (oldest !== undefined) peers.delete(oldest);
      }
    }
  }

  relayed(bytes: number): void {
    this.relayedBytes += bytes;
  }

  /** What `workerId` reported, by peer then path. */
  peersOf(workerId: string): PeerTraffic[] {
    return [...(this.byWorker.get(workerId)?.values() ?? [])].sort(
      (a, b) => a.peer.localeCompare(b.peer) || a.path.localeCompare(b.path),
    );
  }

  /** The worker left: its entries go (the totals keep its bytes). */
  forget(workerId: string): void {
    this.byWorker.delete(workerId);
  }
}
