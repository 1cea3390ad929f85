/**
 * The fetching contract every host uses: a PeerFetcher asks the holders of values for them, with
 * failover (failover.ts), over whichever link reaches each holder (routing.ts).
 */
import type { ExpectedValue, Holder, WorkerChannel } from '@meshwork/protocol';

/** The value hash of a value's encoded bytes, lower-case hex (protocol `valueHash`; Node hosts use `nodeValueHash`). */
export type Digest = (bytes: Uint8Array) => Promise<string>;

/** What a fetched value must match: its producer's size and hash (see `ValueHash`), when known. */
export type Expected = ExpectedValue;

/** The path a value travelled: the direct TCP link between Node processes, a WebRTC data channel, or the scheduler's relay. */
export type TransferPath = WorkerChannel.TransferPath;

/** Counts value bytes received per peer and path (the worker's TransferStats). */
export interface TransferCounter {
  received(peer: string, path: TransferPath, bytes: number): void;
}

export interface FetchOptions {
  signal: AbortSignal;
  /**
   * Key → what its bytes must match. A holder whose bytes do not match is treated as not having
   * the value (the next holder is asked; if none delivers, that holder is blamed as missing, so
   * the scheduler drops the copy and fetches elsewhere or recomputes).
   */
  expect?: ReadonlyMap<string, Expected> | undefined;
}

export interface FetchResult {
  values: Map<string, Uint8Array>;
  /**
   * Keys no holder delivered, each with the holder to blame: one that said data-missing or sent
   * bytes that do not match (`absent`: it surely has no good copy), else the first, whose link failed.
   */
  missing: { key: string; holder: string; absent?: true }[];
}

export interface PeerFetcher {
  /**
   * Fetches `keys` from the first holder that has them, trying the next holder for keys a holder
   * lacks or when it fails. Resolves with what it got and what no one had; rejects only when
   * `signal` aborts. Bounded in time by the overall fetch deadline (failover.ts).
   */
  fetch(holders: readonly Holder[], keys: readonly string[], options: FetchOptions): Promise<FetchResult>;
  close(): void;
  /**
   * This worker's id, as holder lists name it. A value in this worker's store is used as an input
   * only when the scheduler lists this worker among its holders: a client may have put bytes here
   * under a key the scheduler never gave it.
   */
  readonly localId?: string | undefined;
}

/** The value hash fed piece by piece (in Node: blake3.node.ts). */
export interface IncrementalHash {
  update(bytes: Uint8Array): void;
  /** Lower-case hex; a promise where the hashing happens elsewhere. Called once, after the last update. */
  digest(): string | Promise<string>;
}

/**
 * The hash of each body hashed while it arrived (stream-link.ts: StreamLinkOptions.hasher), by body: the fetcher
 * then checks a value without reading its bytes again (failover.ts). Weak: it goes with the body.
 */
export const arrivedDigests = new WeakMap<Uint8Array, string | Promise<string>>();

/** `digest`, except that a body hashed while it arrived (arrivedDigests) is not read again. */
export function arrivedOr(digest: Digest): Digest {
  return (bytes) => {
    const known = arrivedDigests.get(bytes);
    return known !== undefined ? Promise.resolve(known) : digest(bytes);
  };
}
