/**
 * Strings kept for long (a key per task, a million of them) are made strings of their own, flat.
 * Two kinds are not: one decoded from a frame may be a slice of the frame's whole text (msgpackr
 * reads a frame's short strings in one go and slices them out), which it keeps alive; one made
 * with `+` (a key `<name>-<hex>`, its hex two digits at a time) is a rope of its parts, ~32 bytes
 * a join, a dozen joins for a key.
 */

/**
 * `s` as a flat string of its own: the copy V8 makes of a property name (internalized, and
 * shared with any equal name; a name that is an array index comes back made from its number).
 */
export function ownString(s: string): string {
  for (const name in { [s]: 0 }) return name;
  return s;
}
