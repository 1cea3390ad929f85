/**
 * Data tickets: what lets a client read or write one key on a worker's data link. Workers and the
 * scheduler share a data secret (the `dataToken` of a worker's welcome; clients never get it). A
 * ticket is HMAC-SHA-256 under that secret of the purpose and the key, cut to TICKET_HEX_CHARS hex
 * characters. The scheduler hands a client get tickets only with the holders of keys it may
 * gather, and put tickets only in scatter plans for keys it may scatter under; a worker's data
 * link serves a client (a hello without the data token) only the keys whose ticket checks out.
 *
 * A ticket names a key, not a client nor a time: it stays good while the secret does (the
 * scheduler's lifetime). Runtime-free (synchronous SHA-256), so both ends share this one code.
 */
import { hmac } from '@noble/hashes/hmac';
import { sha256 } from '@noble/hashes/sha2';
import { TICKET_HEX_CHARS } from './constants.js';
import { hexOf } from './hex.js';

/** `get`: read the key (`get-data`); `put`: store a value under it (`put-data`). */
export type TicketPurpose = 'get' | 'put';

const utf8 = new TextEncoder();
/** Separates the purpose from the key; neither a purpose nor this prefix contains it. */
const SEPARATOR = '\u0000';
/** Ties a ticket to its use here, so no other MAC under the same secret can pass for one. */
const DOMAIN = 'meshwork-data-ticket-v1';

/** The ticket for `purpose` on `key` under `secret`. */
export function makeTicket(secret: string, purpose: TicketPurpose, key: string): string {
  const mac = hmac(sha256, utf8.encode(secret), utf8.encode(`${DOMAIN}${SEPARATOR}${purpose}${SEPARATOR}${key}`));
  return hexOf(mac, 0, TICKET_HEX_CHARS / 2);
}

/** Whether `given` is the ticket for `purpose` on `key` under `secret`, compared in constant time. */
export function ticketValid(secret: string, purpose: TicketPurpose, key: string, given: string | undefined): boolean {
  if (given === undefined || given.length !== TICKET_HEX_CHARS) return false;
  const expected = makeTicket(secret, purpose, key);
  let diff = 0;
  for (let i = 0; i < TICKET_HEX_CHARS; i++) diff |= expected.charCodeAt(i) ^ given.charCodeAt(i);
  return diff === 0;
}
