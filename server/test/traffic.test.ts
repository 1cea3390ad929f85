import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TRAFFIC_ENTRIES_PER_WORKER, TrafficBook } from '../src/transport/traffic.js';

/** Workers in these tests are named `w…` or `tab`; anything else is a client. */
const isWorker = (peer: string): boolean => peer.startsWith('w') || peer === 'tab';

test('heartbeats report totals: the book keeps the latest per peer and path, and adds up only the growth', () => {
  const book = new TrafficBook(isWorker);
  book.report('w1', [{ peer: 'w2', path: 'tcp', bytesSent: 0, bytesReceived: 100 }]);
  book.report('w1', [
    { peer: 'w2', path: 'tcp', bytesSent: 5, bytesReceived: 250 },
    { peer: 'tab', path: 'webrtc', bytesSent: 0, bytesReceived: 40 },
  ]);
  assert.deepEqual(book.peersOf('w1'), [
    { peer: 'tab', path: 'webrtc', bytesSent: 0, bytesReceived: 40 },
    { peer: 'w2', path: 'tcp', bytesSent: 5, bytesReceived: 250 },
  ]);
  assert.deepEqual(book.received, { tcp: 250, webrtc: 40, relay: 0 });
  book.forget('w1');
  assert.deepEqual(book.peersOf('w1'), []);
  assert.deepEqual(book.received, { tcp: 250, webrtc: 40, relay: 0 }, 'a lost worker keeps its bytes in the totals');
  book.relayed(7);
  assert.equal(book.relayedBytes, 7);
});

test('entries per worker are bounded: the least recently reported go first', () => {
  const book = new TrafficBook(isWorker);
  for (let i = 0; i <= MAX_TRAFFIC_ENTRIES_PER_WORKER; i++)
    book.report('w', [{ peer: `p${i}`, path: 'webrtc', bytesSent: 1, bytesReceived: 1 }]);
  const peers = book.peersOf('w');
  assert.equal(peers.length, MAX_TRAFFIC_ENTRIES_PER_WORKER);
  assert.ok(!peers.some((p) => p.peer === 'p0'));
  assert.equal(book.received.webrtc, MAX_TRAFFIC_ENTRIES_PER_WORKER + 1);
});

test('bytes moved count each transfer once: by a receiving worker, or by the sender when a client received it', () => {
  const book = new TrafficBook(isWorker);
  // w1 sent 100 B to w2 (both report it) and 30 B to a client; a client put 5 B on w2.
  book.report('w1', [
    { peer: 'w2', path: 'tcp', bytesSent: 100, bytesReceived: 0 },
    { peer: 'client-1', path: 'tcp', bytesSent: 30, bytesReceived: 0 },
  ]);
  book.report('w2', [
    { peer: 'w1', path: 'tcp', bytesSent: 0, bytesReceived: 100 },
    { peer: 'client-1', path: 'tcp', bytesSent: 0, bytesReceived: 5 },
  ]);
  assert.deepEqual(book.moved, { tcp: 135, webrtc: 0, relay: 0 });
  assert.deepEqual(book.received, { tcp: 105, webrtc: 0, relay: 0 }, 'received stays what workers received');
  // Totals grow: only the growth is added; a worker that left keeps its bytes in the totals.
  book.report('w1', [{ peer: 'client-1', path: 'tcp', bytesSent: 50, bytesReceived: 0 }]);
  book.forget('w1');
  book.forget('w2');
  assert.deepEqual(book.moved, { tcp: 155, webrtc: 0, relay: 0 });
});
