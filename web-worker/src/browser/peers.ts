/**
 * The tab's data plane. A tab cannot open TCP, so every other worker (Node or browser) is reached
 * over WebRTC (peers/ WebRtcTransport), addressed by worker id: a holder's `address` is ignored.
 * Signals travel through the scheduler's WebSocket (`signal {to, payload}` out, `signal {from,
 * payload}` in). The same transport answers other workers' `get-data` from this tab's store.
 */
import { valueHash, type Holder, type WorkerChannel } from '@meshwork/protocol';
import { HolderFailures, fetchWithFailover, type HolderDelivery } from '@meshwork/datalink';
import type { FetchOptions, FetchResult, PeerFetcher } from '../core/interfaces.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { Store } from '../core/store.js';
import {
  FallbackTransport,
  RelayTransport,
  SchedulerSignaller,
  TransportFetcher,
  WebRtcTransport,
  type RtcIceServer,
  type RtcPeerConnectionConstructor,
} from '@meshwork/datalink';
import type { TransferStats } from '../core/transfer-stats.js';
import type { PeerBook } from './peer-book.js';

export { SchedulerSignaller };

export interface TabPeersOptions {
  localId: string;
  signaller: SchedulerSignaller;
  /** Queues one message to the scheduler (relayed peer data, when no direct path opens). */
  post(msg: WorkerChannel.WorkerToServer): void;
  RTCPeerConnection: RtcPeerConnectionConstructor;
  iceServers: RtcIceServer[];
  /** Where `get-data` from other workers is answered from. */
  store: Store;
  book?: PeerBook;
  /** Counts the value bytes traded with each peer. */
  stats?: TransferStats;
  logger?: Logger;
  /** Gives up on a holder that sends nothing for this long, in milliseconds. */
  timeoutMs?: number;
}

/** The PeerFetcher of a tab, and the server side of its data plane. */
export class TabPeers implements PeerFetcher {
  /** Failed fetches per holder: one that keeps failing is blamed (datalink's failover). */
  private readonly failures = new HolderFailures();
  readonly transport: FallbackTransport;
  private readonly relay: RelayTransport;
  private readonly fetcher: TransportFetcher;
  private readonly log: Logger;

  constructor(private readonly o: TabPeersOptions) {
    this.log = o.logger ?? silentLogger;
    const book = o.book;
    const Ctor = book ? book.instrument(o.RTCPeerConnection) : o.RTCPeerConnection;
    const direct = new WebRtcTransport({
      localId: o.localId,
      signaller: o.signaller,
      RTCPeerConnection: Ctor,
      iceServers: o.iceServers,
      logger: this.log,
    });
    this.relay = new RelayTransport({ localId: o.localId, post: (m) => o.post(m), logger: this.log });
    this.transport = new FallbackTransport(direct, this.relay, { logger: this.log });
    // Values a client puts here (scatter) are not accepted yet: the scheduler plans scatters only
    // onto workers with a data address, and a tab has none.
    this.transport.serve({
      lookup: (key, peer, path) => {
        const bytes = o.store.get(key);
        if (bytes) o.stats?.sent(peer, path, bytes.byteLength);
        return bytes;
      },
    });
    this.fetcher = new TransportFetcher({
      transport: this.transport,
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      ...(book ? { around: (id, open) => book.attributeTo(id, open) } : {}),
    });
  }

  fetch(holders: readonly Holder[], keys: readonly string[], options: FetchOptions): Promise<FetchResult> {
    return fetchWithFailover(holders, keys, options, (h, k, opts) => this.fetchFrom(h, k, opts), {
      logger: this.log,
      skip: this.o.localId,
      digest: valueHash,
      failures: this.failures,
    });
  }

  /** Peer data the scheduler relayed from another worker. */
  deliverRelay(msg: WorkerChannel.RelayFrom): void {
    this.relay.deliver(msg);
  }

  close(): void {
    this.transport.close();
  }

  private async fetchFrom(holder: Holder, keys: readonly string[], options: { signal: AbortSignal }): Promise<HolderDelivery> {
    const got = await this.fetcher.fetchFrom(holder, keys, options);
    for (const value of got.values.values()) this.o.stats?.received(holder.id, got.path ?? 'webrtc', value.byteLength);
    return got;
  }
}
