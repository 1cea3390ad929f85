/**
 * A small, fast, runtime-free hash (two FNV-style 32-bit lanes: 64 bits) for task keys.
 * Not cryptographic: keys need only be stable and spread well.
 */
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
