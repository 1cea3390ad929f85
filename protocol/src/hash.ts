/**
 * A small, fast, runtime-free hash (two FNV-style 32-bit lanes: 64 bits) for task keys.
 * Not cryptographic: keys need only be stable and spread well.
 */
import { blake3 } from '@noble/hashes/blake3';
import type { IHasher } from 'hash-wasm';
import { hexOf } from './hex.js';

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
 * The value hash: BLAKE3 of a value's encoded bytes (32 bytes), lower-case hex. A producer reports
 * it with its result and a receiver checks fetched bytes against it. BLAKE3 rather than SHA-256
 * because every result and every fetched value is hashed: on this project's reference machine
 * SHA-256 (with the CPU's SHA extensions) ran 1.7 GB/s and BLAKE3 6.7 GB/s, which took a tree
 * reduction from 0.58–0.64 s to 0.40–0.41 s (docs/decisions.md). The security is the same: 128
 * bits against collisions, 256 against second preimages.
 *
 * Here (browsers, and Node clients) through WebAssembly (hash-wasm, ~0.9 GB/s); Node workers use a
 * native build (datalink's `nodeValueHash`, same output). Where WebAssembly cannot be compiled (a
 * page whose Content-Security-Policy forbids it) the hash is computed in JavaScript
 * (@noble/hashes, ~60 MB/s, same output).
 */
export async function valueHash(bytes: Uint8Array): Promise<string> {
  return valueHashOfParts([bytes]);
}

/** The value hash of the bytes of `parts` one after the other (a value that arrived in pieces). */
export async function valueHashOfParts(parts: readonly Uint8Array[]): Promise<string> {
  const wasm = await wasmHasher();
  if (!wasm) {
    const h = blake3.create({});
    for (const p of parts) h.update(p);
    return hexOf(h.digest());
  }
  // One shared instance: nothing awaits between init and digest, so calls cannot interleave.
  wasm.init();
  for (const p of parts) wasm.update(p);
  return wasm.digest('hex');
}

let wasm: Promise<IHasher | undefined> | undefined;

/**
 * Loaded on first use: hash-wasm is ~270 KB of script, and Node workers, their threads and the
 * scheduler never need it. Where WebAssembly cannot compile (no WebAssembly, or a CSP forbidding
 * it) the JavaScript hash is used for good; if the module itself did not load (a bundle chunk
 * lost to the network), only for this call, and the next one tries again.
 */
function wasmHasher(): Promise<IHasher | undefined> {
  wasm ??= import('hash-wasm').then(
    (m) => m.createBLAKE3().catch(() => undefined),
    () => {
      wasm = undefined;
      return undefined;
    },
  );
  return wasm;
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
  return hash === expected.hash ? undefined : `hash ${hash} where the producer reported ${expected.hash}`;
}
