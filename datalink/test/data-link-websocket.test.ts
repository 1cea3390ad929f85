import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, PeerFrameReader, encodePeerFrame, encodeValue } from '@meshwork/protocol';
import { startDataServer } from '../src/node.js';

/**
 * Says hello over the data link's WebSocket and asks for `key`: the reply frames' headers, and
 * whether it closed. Returns 50 ms after the first reply, or, with `untilClosed`, once the server
 * closed (it lingers after a refusal for the remote to close first).
 */
async function askOverWebSocket(
  address: string,
  token: string | undefined,
  key: string,
  untilClosed = false,
): Promise<{ replies: unknown[]; closed: boolean }> {
  const ws = new WebSocket(`${address.replace('tcp://', 'ws://')}/`);
  const reader = new PeerFrameReader();
  const replies: unknown[] = [];
  let closed = false;
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const done = new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer) => {
      for (const f of reader.push(new Uint8Array(data))) replies.push(f.header);
      if (replies.length >= 1 && !untilClosed) setTimeout(resolve, 50);
    });
    ws.on('close', () => {
      closed = true;
      resolve();
    });
  });
  ws.send(
    Buffer.concat(
      encodePeerFrame({ type: 'hello', protocolVersion: PROTOCOL_VERSION, from: 'page', ...(token ? { token } : {}) }),
    ),
  );
  ws.send(Buffer.concat(encodePeerFrame({ type: 'get-data', id: 1, keys: [key] })));
  await done;
  ws.terminate();
  return { replies, closed };
}

test('data link over WebSocket: a server that needs no token serves no WebSocket; with its token, a peer is served', async () => {
  const bytes = encodeValue(42).bytes;
  const open = await startDataServer({ host: '127.0.0.1', lookup: () => bytes });
  const guarded = await startDataServer({ host: '127.0.0.1', lookup: () => bytes, token: () => 'data-token' });
  try {
    const refused = await askOverWebSocket(open.address, undefined, 'k', true);
    assert.equal((refused.replies[0] as { code?: string }).code, 'AUTH_FAILED');
    assert.equal(refused.replies.length, 1);
    assert.ok(refused.closed);
    const served = await askOverWebSocket(guarded.address, 'data-token', 'k');
    assert.deepEqual(served.replies, [{ type: 'data', id: 1, key: 'k', nbytes: bytes.byteLength }]);
  } finally {
    await open.close();
    await guarded.close();
  }
});
