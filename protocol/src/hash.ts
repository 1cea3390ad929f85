/**
 * A small, fast, runtime-free hash (two FNV-style 32-bit lanes: 64 bits) for task keys.
 * Not cryptographic: keys need only be stable and spread well.
 */
import { sha256 } from '@noble/hashes/sha2';

const utf8 = new TextEncoder();

export function hashBytes(bytes: Uint8Array, seed = 0): string {
  let h1 = 0x811c9dc5 ^ seed;
  let h2 = 0x01000193 ^ seed;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] as number;
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

export function hashString(text: string, seed = 0): string {
  return hashBytes(utf8.encode(text), seed);
}

/**
 * SHA-256 of a value's encoded bytes, lower-case hex: what a producer reports with its result and
 * a receiver checks fetched bytes against (see ValueHash). Web Crypto, so the same code runs in
 * browsers and Node; views of shared memory are copied first, which Web Crypto refuses. Node hosts
 * may use `node:crypto` instead (same output, no copy). A page that is not a secure context (plain
 * http from a host other than localhost) has no `crypto.subtle`: the hash is then computed in
 * JavaScript (@noble/hashes, several times slower, same output).
 */
export async function valueHash(bytes: Uint8Array): Promise<string> {
  const subtle = (globalThis as { crypto?: { subtle?: typeof crypto.subtle } }).crypto?.subtle;
  const own = bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : bytes.slice();
  const digest = subtle ? new Uint8Array(await subtle.digest('SHA-256', own)) : sha256(bytes);
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/** What a fetched value must match: its producer's size and hash, when known. */
export interface ExpectedValue {
  nbytes?: number | undefined;
  hash?: string | undefined;
}

/** Why `bytes` do not match `expected` (size first, then hash through `digest`), or undefined when they do. */
export async function valueMismatch(
  bytes: Uint8Array,
  expected: ExpectedValue | undefined,
  digest: (bytes: Uint8Array) => Promise<string> = valueHash,
): Promise<string | undefined> {
  if (expected?.nbytes !== undefined && bytes.byteLength !== expected.nbytes)
    return `${bytes.byteLength} bytes where the producer reported ${expected.nbytes}`;
  if (expected?.hash === undefined) return undefined;
  const hash = await digest(bytes);
  return hash === expected.hash ? undefined : `SHA-256 ${hash} where the producer reported ${expected.hash}`;
}
