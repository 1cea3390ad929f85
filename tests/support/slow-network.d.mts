// Types of slow-network.mjs, for the browser spec (tests/e2e/slow-network.spec.ts) that shares it.

export const RETRANSMIT_TIMEOUT_MS: number;
export const MAX_HELD_BYTES: number;
export const MAX_UDP_CLIENTS: number;

/** What one proxy carried, over all its paths and both directions. */
export interface SlowNetworkStats {
  /** TCP connections, or UDP clients (source addresses). */
  connections: number;
  /** Chunks (TCP reads, or datagrams) delivered, and their bytes. */
  chunks: number;
  bytes: number;
  /** Chunks lost: held back a retransmission timeout (TCP), or dropped (UDP). */
  lost: number;
  /** The shortest and longest time a delivered chunk was held, in milliseconds (Infinity before any). */
  minDelayMs: number;
  maxDelayMs: number;
}

export interface DelayOptions {
  /** One-way delay in each direction, in milliseconds. */
  delayMs: number;
  /** Chance per chunk that it is lost, in [0, 1); default 0. */
  lossRate?: number;
  /** How long TCP waits to resend a lost chunk; default RETRANSMIT_TIMEOUT_MS. */
  retransmitMs?: number;
  /** Seeds the losses; default 1. */
  seed?: number;
}

export interface Target {
  host: string;
  port: number;
}

export interface SlowProxy {
  /** Where it listens on 127.0.0.1. */
  port: number;
  stats: SlowNetworkStats;
  close(): Promise<void>;
}

export function delayingTcpProxy(o: DelayOptions & { target: () => Target | Promise<Target> }): Promise<SlowProxy>;
export function delayingUdpForwarder(o: DelayOptions & { target: Target }): Promise<SlowProxy>;
