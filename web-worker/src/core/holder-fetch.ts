/**
 * Fetching from holders, runtime-free. A HolderFetcher asks one holder over one kind of link (TCP,
 * WebRTC); `fetchWithFailover` is the PeerFetcher contract on top of it (holders in order, the
 * next one asked only for what is still missing); RoutingPeerFetcher picks the HolderFetcher per
 * holder (by its address) and counts what each peer delivered.
 */
import { valueMismatch, type Holder } from '@meshwork/protocol';
import type { Digest, FetchOptions, FetchResult, PeerFetcher } from './interfaces.js';
import { silentLogger, type Logger } from './logger.js';
import type { TransferPath, TransferStats } from './transfer-stats.js';

/** What one holder answered. */
export interface HolderDelivery {
  values: Map<string, Uint8Array>;
  /** The path the values came by, when the fetcher chose it (WebRTC, or relayed through the scheduler). */
  path?: TransferPath;
  /** Keys the holder said it does not hold. */
  missing: string[];
}

/** Asks one holder over one kind of link. */
export interface HolderFetcher {
  /**
   * Resolves with what `holder` delivered and what it said it lacks; rejects when it could not be
   * reached, failed or stalled (bounded by PEER_FETCH_TIMEOUT_MS without progress), or `signal` aborted.
   */
  fetchFrom(holder: Holder, keys: readonly string[], options: { signal: AbortSignal }): Promise<HolderDelivery>;
}

/**
 * The PeerFetcher contract over `fetchFrom`: tries `holders` in order, asking each for the keys
 * still missing. A missing key is blamed on the first holder that said data-missing or sent bytes
 * that do not match `expect` (checked with `digest`), else on the first holder. Rejects only when
 * `signal` aborts; `skip` holders (this worker itself, whose store the caller looked in first) are
 * passed over, and lack every key still missing.
 */
export async function fetchWithFailover(
  holders: readonly Holder[],
  keys: readonly string[],
  options: FetchOptions,
  fetchFrom: HolderFetcher['fetchFrom'],
  o: { logger?: Logger; skip?: string; digest?: Digest } = {},
): Promise<FetchResult> {
  const { signal, expect } = options;
  const log = o.logger ?? silentLogger;
  const values = new Map<string, Uint8Array>();
  const saidMissing = new Map<string, string>();
  let remaining = [...new Set(keys)];
  for (const holder of holders) {
    if (remaining.length === 0) break;
    signal.throwIfAborted();
    if (holder.id === o.skip) {
      // Callers look in their own store first: the scheduler listing this worker is wrong about it.
      for (const key of remaining) if (!saidMissing.has(key)) saidMissing.set(key, holder.id);
      continue;
    }
    try {
      const got = await fetchFrom(holder, remaining, { signal });
      for (const [key, bytes] of got.values) {
        const wrong = await valueMismatch(bytes, expect?.get(key), o.digest);
        if (wrong === undefined) {
          values.set(key, bytes);
          continue;
        }
        log.warn('a peer sent bytes that do not match the producer\'s; asking another holder', { holder: holder.id, key, why: wrong });
        if (!saidMissing.has(key)) saidMissing.set(key, holder.id);
      }
      for (const key of got.missing) if (!saidMissing.has(key)) saidMissing.set(key, holder.id);
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      log.warn('fetch from a holder failed; trying the next', { holder: holder.id, address: holder.address, error: e });
    }
    remaining = remaining.filter((k) => !values.has(k));
  }
  const blame = holders[0]?.id ?? '';
  return {
    values,
    missing: remaining.map((key) => {
      const said = saidMissing.get(key);
      return said === undefined ? { key, holder: blame } : { key, holder: said, absent: true as const };
    }),
  };
}

/** Which link reaches `holder`: its fetcher and the path name (for the counters). */
export type HolderRoute = (holder: Holder) => { path: TransferPath; fetcher: HolderFetcher };

export interface RoutingPeerFetcherOptions {
  route: HolderRoute;
  /** This worker's id: a holder with it is skipped. */
  localId: string;
  stats?: TransferStats;
  /** Checks fetched bytes against the producer's hash; without it only sizes are checked. */
  digest?: Digest;
  logger?: Logger;
  /** Closes the links underneath. */
  onClose?: () => void;
}

/** A PeerFetcher that reaches each holder over the link its address calls for, with failover. */
export class RoutingPeerFetcher implements PeerFetcher {
  private readonly log: Logger;

  constructor(private readonly o: RoutingPeerFetcherOptions) {
    this.log = o.logger ?? silentLogger;
  }

  get localId(): string {
    return this.o.localId;
  }

  fetch(holders: readonly Holder[], keys: readonly string[], options: FetchOptions): Promise<FetchResult> {
    const o = { logger: this.log, skip: this.o.localId, ...(this.o.digest ? { digest: this.o.digest } : {}) };
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
