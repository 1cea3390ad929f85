/**
 * Strings kept for long (a key per task, a million of them) are made strings of their own, flat.
 * Two kinds are not: one decoded from a frame may be a slice of the frame's whole text (msgpackr
 * reads a frame's short strings in one go and slices them out), which it keeps alive; one made
 * with `+` (a key `<name>-<hex>`, its hex two digits at a time) is a rope of its parts, ~32 bytes
 * a join, a dozen joins for a key.
 */

/** Characters copied through one `String.fromCharCode` call (far under any engine's argument limit); longer strings are joined from such pieces. */
const CHUNK = 4096;
const codes: number[] = [];

/**
 * `s` as a flat string of its own, made afresh from its characters. (Not interned: V8 puts an
 * internalized string straight into its old generation and its string table, which made a
 * 100,000-task graph's scheduler peak 30 MB higher.)
 */
export function ownString(s: string): string {
  if (s.length <= CHUNK) return copyOf(s, 0, s.length);
  const pieces: string[] = [];
  for (let at = 0; at < s.length; at += CHUNK) pieces.push(copyOf(s, at, Math.min(s.length, at + CHUNK)));
  return pieces.join('');
}

function copyOf(s: string, from: number, to: number): string {
  codes.length = to - from;
  for (let i = from; i < to; i++) codes[i - from] = s.charCodeAt(i);
  return String.fromCharCode.apply(null, codes);
}
