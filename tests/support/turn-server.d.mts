// Types of turn-server.mjs, for the browser spec (tests/e2e/slow-network.spec.ts).

export const MAX_ALLOCATIONS: number;

export interface TurnStats {
  /** Allocations made. */
  allocations: number;
  /** Payload bytes relayed from clients to peers, and from peers back to clients. */
  toPeers: number;
  fromPeers: number;
}

export interface TurnServer {
  /** Its UDP port on 127.0.0.1. */
  port: number;
  stats: TurnStats;
  close(): Promise<void>;
}

export function startTurnServer(o: { username: string; credential: string; realm?: string }): Promise<TurnServer>;
