/**
 * The data plane's choice per pair: a direct WebRTC connection when one opens, else the
 * scheduler's relay. A pair whose direct connection failed goes straight to the relay for
 * RELAY_RETRY_DIRECT_MS, then tries direct again (networks change; a TURN server may appear).
 */
import { silentLogger, type Logger } from './logger.js';
import { RELAY_RETRY_DIRECT_MS } from './constants.js';
import type { PeerAddress, PeerDataHandler, PeerLink, PeerTransport } from './link.js';

/** Peers whose failed direct connection is remembered; past this the oldest is forgotten. */
const MAX_REMEMBERED_FAILURES = 1_024;

export class FallbackTransport implements PeerTransport {
  /** remote id → when to try a direct connection again (Date.now() ms). */
  private readonly directFailed = new Map<string, number>();
  private readonly log: Logger;

  constructor(
    private readonly direct: PeerTransport,
    private readonly relay: PeerTransport,
    private readonly o: { logger?: Logger; retryDirectMs?: number } = {},
  ) {
    this.log = o.logger ?? silentLogger;
  }

  serve(handler: PeerDataHandler): void {
    this.direct.serve(handler);
    this.relay.serve(handler);
  }

  async connect(peer: PeerAddress, options: { signal: AbortSignal }): Promise<PeerLink> {
    const retryAt = this.directFailed.get(peer.id);
    if (retryAt === undefined || Date.now() >= retryAt) {
      try {
        const link = await this.direct.connect(peer, options);
        this.directFailed.delete(peer.id);
        return link;
      } catch (e) {
        if (options.signal.aborted) throw e;
        this.directFailed.delete(peer.id); // re-insert: oldest first, for the bound below
        this.directFailed.set(peer.id, Date.now() + (this.o.retryDirectMs ?? RELAY_RETRY_DIRECT_MS));
        if (this.directFailed.size > MAX_REMEMBERED_FAILURES)
          this.directFailed.delete(this.directFailed.keys().next().value as string);
        this.log.warn('no direct connection to a peer: relaying through the scheduler', { peer: peer.id, error: e });
      }
    }
    return this.relay.connect(peer, options);
  }

  close(): void {
    this.direct.close();
    this.relay.close();
  }
}
