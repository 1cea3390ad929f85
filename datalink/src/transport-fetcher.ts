/**
 * A HolderFetcher over a PeerTransport: reaches a holder by its worker id (WebRTC ignores the
 * address) and asks for the keys on the shared link. For a PeerFetcher with failover across
 * holders, wrap it with `fetchWithFailover` or a RoutingPeerFetcher (routing.ts).
 */
import { PEER_FETCH_TIMEOUT_MS, type Holder } from '@meshwork/protocol';
import type { HolderDelivery, HolderFetcher } from './failover.js';
import type { PeerLink, PeerTransport } from './link.js';

export interface TransportFetcherOptions {
  transport: PeerTransport;
  /** Gives up on a holder that sends nothing for this long, in milliseconds (default PEER_FETCH_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Wraps each connect (a tab credits the connection it may make to that peer). */
  around?: (peer: string, open: () => Promise<PeerLink>) => Promise<PeerLink>;
}

export class TransportFetcher implements HolderFetcher {
  private readonly timeoutMs: number;

  constructor(private readonly o: TransportFetcherOptions) {
    this.timeoutMs = o.timeoutMs ?? PEER_FETCH_TIMEOUT_MS;
  }

  async fetchFrom(holder: Holder, keys: readonly string[], { signal }: { signal: AbortSignal }): Promise<HolderDelivery> {
    const open = (): Promise<PeerLink> => this.o.transport.connect({ id: holder.id }, { signal });
    const link = await (this.o.around ? this.o.around(holder.id, open) : open());
    return { ...(await link.getData(keys, { signal, timeoutMs: this.timeoutMs })), path: link.path };
  }
}
