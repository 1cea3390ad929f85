/**
 * The direct TCP fetcher of Node workers: one pooled ask-only PeerSession per address (at most
 * MAX_PEER_CONNECTIONS, least recently used idle ones closed first), over a dialled socket that
 * reads values straight into their memory. A Node worker uses it through a RoutingPeerFetcher
 * (TCP for `tcp://` holders, WebRTC for the others); alone it reaches `tcp://` holders only.
 */
import { ConnectionError, PEER_FETCH_TIMEOUT_MS, type Holder } from '@meshwork/protocol';
import { MAX_PEER_CONNECTIONS } from '../constants.js';
import { abortable } from '../abortable.js';
import { fetchWithFailover, type HolderDelivery, type HolderFetcher } from '../failover.js';
import type { FetchOptions, FetchResult, PeerFetcher } from '../fetch.js';
import type { Digest } from '../fetch.js';
import { silentLogger, type Logger } from '../logger.js';
import { PeerSession } from '../session.js';
import { dialLink } from './socket-link.node.js';
import { blake3Hasher } from '../blake3.node.js';

export interface TcpPeerFetcherOptions {
  /** This end's id, sent in `hello`. */
  from: string;
  /** The scheduler's data token, sent in `hello`: it makes this worker a peer, served every key (a hello without it is a client's). */
  token?: string | undefined;
  logger?: Logger;
  /** Gives up on a holder that sends nothing for this long, in milliseconds. */
  timeoutMs?: number;
  /** Where a received value is assembled (shared memory in a Node worker). Default: fresh memory. */
  allocate?: (bytes: number) => Uint8Array;
  /** Checks fetched bytes against the producer's hash. */
  digest?: Digest;
}

/** A holder's data link could not be opened at all (refused, unroutable, timed out connecting). */
export class Unreachable extends ConnectionError {}

export class TcpPeerFetcher implements PeerFetcher, HolderFetcher {
  /** address → connection (or its opening), least recently used first. */
  private readonly pool = new Map<string, Promise<PeerSession>>();
  private readonly live = new Map<string, PeerSession>();
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private closed = false;

  constructor(private readonly o: TcpPeerFetcherOptions) {
    this.log = o.logger ?? silentLogger;
    this.timeoutMs = o.timeoutMs ?? PEER_FETCH_TIMEOUT_MS;
  }

  fetch(holders: readonly Holder[], keys: readonly string[], options: FetchOptions): Promise<FetchResult> {
    return fetchWithFailover(holders, keys, options, (h, k, o) => this.fetchFrom(h, k, o), {
      logger: this.log,
      ...(this.o.digest ? { digest: this.o.digest } : {}),
    });
  }

  /** Asks one holder, over the pooled connection to its address; an address that cannot be reached rejects with Unreachable. */
  async fetchFrom(holder: Holder, keys: readonly string[], { signal }: { signal: AbortSignal }): Promise<HolderDelivery> {
    let conn: PeerSession;
    try {
      conn = await abortable(this.connection(holder.address), signal);
    } catch (e) {
      if (signal.aborted || this.closed) throw e;
      throw new Unreachable(`no data link to ${holder.id} at ${holder.address}: ${(e as Error).message}`, { cause: e });
    }
    return conn.getData(keys, { signal, timeoutMs: this.timeoutMs });
  }

  close(): void {
    this.closed = true;
    for (const conn of this.live.values()) conn.close();
    this.pool.clear();
    this.live.clear();
  }

  private connection(address: string): Promise<PeerSession> {
    if (this.closed) return Promise.reject(new Error('peer fetcher closed'));
    const existing = this.pool.get(address);
    if (existing) {
      // Re-insert: the Map's order is the least-recently-used order.
      this.pool.delete(address);
      this.pool.set(address, existing);
      return existing;
    }
    this.evictIdle();
    const opening = this.dial(address).then(
      (conn) => {
        if (this.closed || this.pool.get(address) !== opening || conn.closed) {
          if (this.pool.get(address) === opening) this.pool.delete(address);
          conn.close();
          throw new Error(this.closed ? 'peer fetcher closed' : `data link to ${address} closed while opening`);
        }
        this.live.set(address, conn);
        return conn;
      },
      (e: unknown) => {
        if (this.pool.get(address) === opening) this.pool.delete(address);
        throw e;
      },
    );
    this.pool.set(address, opening);
    return opening;
  }

  /** A new ask-only session to `address`; when it ends it leaves the pool. */
  private async dial(address: string): Promise<PeerSession> {
    // With a digest to check against, each value is hashed as it arrives (stream-link.ts).
    const hasher = this.o.digest ? blake3Hasher : undefined;
    const link = await dialLink(address, { ...(this.o.allocate ? { allocate: this.o.allocate } : {}), ...(hasher ? { hasher } : {}) });
    const conn: PeerSession = new PeerSession(link, {
      localId: this.o.from,
      peerId: address,
      role: 'ask',
      path: 'tcp',
      token: this.o.token,
      logger: this.log,
      onClose: () => {
        const pooled = this.pool.get(address);
        if (this.live.get(address) === conn) {
          this.live.delete(address);
          if (pooled) this.pool.delete(address);
        }
      },
    });
    return conn;
  }

  private evictIdle(): void {
    if (this.pool.size < MAX_PEER_CONNECTIONS) return;
    for (const address of this.pool.keys()) {
      const conn = this.live.get(address);
      if (conn && !conn.busy) {
        conn.close();
        return;
      }
    }
  }
}
