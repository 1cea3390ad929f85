/**
 * Which workers talk to each other through the scheduler: relay links (peer data forwarded here)
 * and WebRTC signalling. When a worker leaves, its peers are told at once (see `leave`), so that
 * their fetches from it fail over now rather than at PEER_FETCH_TIMEOUT_MS.
 */
export type PeerLinkKind = 'relay' | 'signal';

export class PeerLinks {
  private readonly links: Record<PeerLinkKind, Map<string, Set<string>>> = { relay: new Map(), signal: new Map() };

  /** `a` and `b` now have a link of `kind`. */
  add(kind: PeerLinkKind, a: string, b: string): void {
    this.peersOf(kind, a).add(b);
    this.peersOf(kind, b).add(a);
  }

  /** The link of `kind` between `a` and `b` ended. */
  remove(kind: PeerLinkKind, a: string, b: string): void {
    this.links[kind].get(a)?.delete(b);
    this.links[kind].get(b)?.delete(a);
  }

  /** Forgets `id`; returns the workers that had a link of each kind with it. */
  leave(id: string): Record<PeerLinkKind, string[]> {
    const out = { relay: [] as string[], signal: [] as string[] };
    for (const kind of ['relay', 'signal'] as const) {
      const peers = this.links[kind].get(id);
      if (!peers) continue;
      this.links[kind].delete(id);
      for (const p of peers) {
        this.links[kind].get(p)?.delete(id);
        out[kind].push(p);
      }
    }
    return out;
  }

  private peersOf(kind: PeerLinkKind, id: string): Set<string> {
    let peers = this.links[kind].get(id);
    if (!peers) this.links[kind].set(id, (peers = new Set()));
    return peers;
  }
}
