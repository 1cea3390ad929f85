import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTcpAddress } from '@meshwork/datalink';
import { dataLinkWebSocketUrl } from '../src/data-address.js';
import { dialWebSocketLink } from '../src/peer-socket.browser.js';
import { ConnectionError } from '@meshwork/protocol';
import { getEventListeners } from 'node:events';

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

test("a page's data link that cannot even open (no WebSocket here) rejects with a ConnectionError and leaves no abort listener behind", async () => {
  const controller = new AbortController();
  await assert.rejects(dialWebSocketLink('tcp://127.0.0.1:9', controller.signal), ConnectionError);
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
});
