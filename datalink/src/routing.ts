/**
 * Routing: which link reaches each holder (TCP between Node processes, WebRTC with tabs, the
 * relay when neither connects; see the hosts' routes), with failover over the holders and the
 * bytes each peer delivered counted.
 */
import type { Holder } from '@meshwork/protocol';
import { HolderFailures, fetchWithFailover, type HolderDelivery, type HolderFetcher } from './failover.js';
import type { Digest, FetchOptions, FetchResult, PeerFetcher, TransferCounter, TransferPath } from './fetch.js';
import { silentLogger, type Logger } from './logger.js';

/** Which link reaches `holder`: its fetcher and the path name (for the counters). */
export type HolderRoute = (holder: Holder) => { path: TransferPath; fetcher: HolderFetcher };

export interface RoutingPeerFetcherOptions {
  route: HolderRoute;
  /** This worker's id: a holder with it is skipped. */
  localId: string;
  stats?: TransferCounter;
  /** Checks fetched bytes against the producer's hash; without it only sizes are checked. */
  digest?: Digest;
  logger?: Logger;
  /** Closes the links underneath. */
  onClose?: () => void;
}

/** A PeerFetcher that reaches each holder over the link its address calls for, with failover. */
export class RoutingPeerFetcher implements PeerFetcher {
  private readonly log: Logger;
  private readonly failures = new HolderFailures();

  constructor(private readonly o: RoutingPeerFetcherOptions) {
    this.log = o.logger ?? silentLogger;
  }

  get localId(): string {
    return this.o.localId;
  }

  fetch(holders: readonly Holder[], keys: readonly string[], options: FetchOptions): Promise<FetchResult> {
    const o = { logger: this.log, skip: this.o.localId, failures: this.failures, ...(this.o.digest ? { digest: this.o.digest } : {}) };
    return fetchWithFailover(holders, keys, options, (h, k, opts) => this.fetchFrom(h, k, opts), o);
  }

  close(): void {
    this.o.onClose?.();
  }

  private async fetchFrom(holder: Holder, keys: readonly string[], options: { signal: AbortSignal }): Promise<HolderDelivery> {
    const { path, fetcher } = this.o.route(holder);
    const started = Date.now();
    const got = await fetcher.fetchFrom(holder, keys, options);
    let bytes = 0;
    for (const value of got.values.values()) {
      bytes += value.byteLength;
      this.o.stats?.received(holder.id, got.path ?? path, value.byteLength);
    }
    this.log.debug('fetched from a peer', { peer: holder.id, path, values: got.values.size, missing: got.missing.length, bytes, ms: Date.now() - started });
    return got;
  }
}
