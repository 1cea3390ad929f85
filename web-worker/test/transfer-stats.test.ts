import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TransferStats } from '../src/core/transfer-stats.js';

test('the traffic that changed since the last heartbeat is taken once, bounded, as totals', () => {
  const stats = new TransferStats();
  stats.received('a', 'tcp', 10);
  stats.sent('b', 'webrtc', 3);
  stats.received('a', 'tcp', 5);
  assert.deepEqual(stats.takeChanged(1), [{ peer: 'a', path: 'tcp', bytesSent: 0, bytesReceived: 15 }]);
  assert.deepEqual(stats.takeChanged(10), [{ peer: 'b', path: 'webrtc', bytesSent: 3, bytesReceived: 0 }]);
  assert.deepEqual(stats.takeChanged(10), [], 'nothing changed since');
  stats.sent('a', 'relay', 2);
  assert.deepEqual(stats.takeChanged(10), [{ peer: 'a', path: 'relay', bytesSent: 2, bytesReceived: 0 }]);
});
