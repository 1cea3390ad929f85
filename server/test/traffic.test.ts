import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TRAFFIC_ENTRIES_PER_WORKER, TrafficBook } from '../src/transport/traffic.js';

test('heartbeats report totals: the book keeps the latest per peer and path, and adds up only the growth', () => {
  const book = new TrafficBook();
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
  const book = new TrafficBook();
  for (let i = 0; i <= MAX_TRAFFIC_ENTRIES_PER_WORKER; i++)
    book.report('w', [{ peer: `p${i}`, path: 'webrtc', bytesSent: 1, bytesReceived: 1 }]);
  const peers = book.peersOf('w');
  assert.equal(peers.length, MAX_TRAFFIC_ENTRIES_PER_WORKER);
  assert.ok(!peers.some((p) => p.peer === 'p0'));
  assert.equal(book.received.webrtc, MAX_TRAFFIC_ENTRIES_PER_WORKER + 1);
});
