import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dataLinkWebSocketUrl, parseTcpAddress } from '../src/data-address.js';

test('a data address maps to the WebSocket URL a page opens: ws, or wss from an https page to a host that is not loopback', () => {
  assert.equal(dataLinkWebSocketUrl('tcp://127.0.0.1:4100', 'http:'), 'ws://127.0.0.1:4100/');
  assert.equal(dataLinkWebSocketUrl('tcp://127.0.0.1:4100', 'https:'), 'ws://127.0.0.1:4100/');
  assert.equal(dataLinkWebSocketUrl('tcp://localhost:4100', 'https:'), 'ws://localhost:4100/');
  assert.equal(dataLinkWebSocketUrl('tcp://[::1]:4100', 'https:'), 'ws://[::1]:4100/');
  assert.equal(dataLinkWebSocketUrl('tcp://10.0.0.7:4100', 'http:'), 'ws://10.0.0.7:4100/');
  assert.equal(dataLinkWebSocketUrl('tcp://10.0.0.7:4100', 'https:'), 'wss://10.0.0.7:4100/');
  assert.equal(dataLinkWebSocketUrl('tcp://[fe80::1]:4100', 'https:'), 'wss://[fe80::1]:4100/');
  assert.equal(dataLinkWebSocketUrl('tcp://worker.example:4100', undefined), 'ws://worker.example:4100/');
  assert.throws(() => dataLinkWebSocketUrl('webrtc', 'http:'), { code: 'CONNECTION' });
  assert.deepEqual(parseTcpAddress('tcp://[::1]:9'), { host: '::1', port: 9 });
});
