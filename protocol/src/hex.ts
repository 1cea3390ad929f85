/** Lower-case hex of bytes, through a table: the one conversion every key, hash and ticket uses. */

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** Lower-case hex of `bytes[start..end)`. */
export function hexOf(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let out = '';
  for (let i = start; i < end; i++) out += HEX[bytes[i] as number];
  return out;
}
