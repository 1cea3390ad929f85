/** Data tickets (tickets.ts): the format both ends share, pinned against an independent HMAC. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { TICKET_HEX_CHARS, makeTicket, ticketValid } from '../src/index.js';

test('a ticket is the first TICKET_HEX_CHARS hex characters of HMAC-SHA-256(secret, domain, purpose, key), and checks only for them', () => {
  const expected = createHmac('sha256', 's3cret').update('meshwork-data-ticket-v1\u0000get\u0000model-weights').digest('hex').slice(0, TICKET_HEX_CHARS);
  assert.equal(makeTicket('s3cret', 'get', 'model-weights'), expected);
  assert.equal(ticketValid('s3cret', 'get', 'model-weights', expected), true);
  assert.equal(ticketValid('s3cret', 'put', 'model-weights', expected), false);
  assert.equal(ticketValid('other', 'get', 'model-weights', expected), false);
  assert.equal(ticketValid('s3cret', 'get', 'model-weights', expected.toUpperCase()), false);
  assert.equal(ticketValid('s3cret', 'get', 'model-weights', `${expected}0`), false);
  assert.equal(ticketValid('s3cret', 'get', 'model-weights', undefined), false);
  // Purpose and key are separated: no (purpose, key) pair passes for another.
  assert.notEqual(makeTicket('s', 'get', '\u0000x'), makeTicket('s', 'get', 'x'));
});
