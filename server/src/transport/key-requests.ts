/**
 * Requests that list keys (`gather`, `who-has`): bounded at the edge. A request lists at most
 * MAX_KEYS_PER_REQUEST keys (more is refused before anything is looked up or built), each key is
 * looked up once however often it is listed, and the request counts against the connection's
 * message rate in proportion to its keys (KEYS_PER_COUNTED_MESSAGE).
 */
import { KEYS_PER_COUNTED_MESSAGE, MAX_KEYS_PER_REQUEST, type ClientChannel } from '@meshwork/protocol';

/** The keys of a request, each once, in the order first listed; null when it lists more than `max`. */
export function requestKeys(keys: readonly string[], max = MAX_KEYS_PER_REQUEST): readonly string[] | null {
  if (keys.length > max) return null;
  return keys.length > 1 ? [...new Set(keys)] : keys;
}

/** Why a request listing `count` keys was refused. */
export function tooManyKeys(type: string, count: number, max = MAX_KEYS_PER_REQUEST): string {
  return `'${type}' of ${count} keys refused: a request may list at most ${max} keys (MAX_KEYS_PER_REQUEST); ask in several requests`;
}

/** What the messages of a frame cost against the message rate (see Connection.admit): one each, more for many keys. */
export function frameCost(messages: readonly ClientChannel.ClientToServer[]): number {
  let cost = 0;
  for (const m of messages) {
    cost +=
      m.type === 'gather' || m.type === 'who-has'
        ? Math.max(1, Math.ceil(m.keys.length / KEYS_PER_COUNTED_MESSAGE))
        : 1;
  }
  return cost;
}
