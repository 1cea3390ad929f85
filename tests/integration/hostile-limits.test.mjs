// The per-connection limits, each attacked: the message rate (a token bucket: a frame over the
// budget is dropped with RATE_LIMITED, a connection that keeps on is closed), and the pending
// tasks per token (a graph past it is refused: its futures fail with GraphError, nothing hangs).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import { MAX_MESSAGES_PER_SECOND, MESSAGE_BURST, PROTOCOL_VERSION, decode, encode } from '@meshwork/protocol';

/** A raw client connection: `replies` collects every message, `closed` resolves with the close code. */
async function rawClient(address) {
  const ws = new WebSocket(address, { perMessageDeflate: false });
  const replies = [];
  ws.on('message', (d) => {
    for (const m of decode(d)) replies.push(m);
  });
  const closed = new Promise((resolve) => ws.on('close', resolve));
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  ws.send(encode([{ type: 'hello', protocolVersion: PROTOCOL_VERSION, role: 'client', name: 'flood' }]));
  return { ws, replies, closed };
}

test('the default message rate: a flood is refused with RATE_LIMITED, then closed; others are unaffected', async () => {
  const cluster = await LocalCluster.start({ workers: 1 });
  const client = await Client.connect(cluster.address);
  try {
    const raw = await rawClient(cluster.address);
    // One burst is fine; a second at once is over; the connection keeps on and is closed.
    const frame = encode(Array.from({ length: MESSAGE_BURST }, (_, i) => ({ type: 'who-has', id: i, keys: [] })));
    for (let i = 0; i < 4 && raw.ws.readyState === WebSocket.OPEN; i++) raw.ws.send(frame);
    const code = await raw.closed;
    assert.equal(code, 1008);
    const answered = raw.replies.filter((m) => m.type === 'who-has-reply').length;
    const limited = raw.replies.filter((m) => m.type === 'error' && m.code === 'RATE_LIMITED');
    assert.ok(answered >= MESSAGE_BURST, `${answered} answered`);
    assert.ok(answered < 4 * MESSAGE_BURST, `${answered} answered: some frames were dropped`);
    assert.ok(limited.length >= 1, 'RATE_LIMITED replies');
    assert.match(limited[0].message, new RegExp(`${MAX_MESSAGES_PER_SECOND}`));
    assert.ok(cluster.scheduler.limits.closedForRate >= 1);
    assert.equal(await client.submit((x) => x + 1, 1).result(), 2);
  } finally {
    await client.close();
    await cluster.close();
  }
});

test('a lower rate, set on the scheduler: a connection that slows down after RATE_LIMITED goes on', async () => {
  const cluster = await LocalCluster.start({ workers: 1, rateLimit: { messagesPerSecond: 100, burst: 50 } });
  try {
    const raw = await rawClient(cluster.address);
    const frame = (n, id0) => encode(Array.from({ length: n }, (_, i) => ({ type: 'who-has', id: id0 + i, keys: [] })));
    raw.ws.send(frame(40, 0));
    raw.ws.send(frame(40, 100)); // over: dropped whole
    await new Promise((r) => setTimeout(r, 1_000)); // the bucket refills
    raw.ws.send(frame(40, 200));
    await new Promise((r) => setTimeout(r, 300));
    const ids = raw.replies.filter((m) => m.type === 'who-has-reply').map((m) => m.id);
    assert.equal(ids.filter((id) => id < 100).length, 40);
    assert.equal(ids.filter((id) => id >= 100 && id < 200).length, 0, 'the frame over the budget was dropped');
    assert.equal(ids.filter((id) => id >= 200).length, 40, 'after slowing down the connection works');
    assert.equal(raw.replies.filter((m) => m.code === 'RATE_LIMITED').length, 1);
    assert.equal(raw.ws.readyState, WebSocket.OPEN);
    raw.ws.close();
  } finally {
    await cluster.close();
  }
});

// The budget is per token (see hostile-resources.test.mjs); `maxPendingTasksPerClient` is its old name.
test('pending tasks per token: a graph past the limit fails its futures with GraphError; finished tasks free room', async () => {
  const cluster = await LocalCluster.start({ workers: 1, token: 'admin-secret', clientToken: 'client-secret', maxPendingTasksPerClient: 20 });
  const client = await Client.connect(cluster.address, { token: 'client-secret' });
  const other = await Client.connect(cluster.address, { token: 'admin-secret' });
  try {
    const gate = async (ms) => {
      await new Promise((r) => setTimeout(r, ms));
      return ms;
    };
    const slow = client.map(
      gate,
      Array.from({ length: 15 }, (_, i) => 300 + i),
    );
    await new Promise((r) => setTimeout(r, 50)); // its own update-graph, not one with the next map
    const over = client.map(
      gate,
      Array.from({ length: 10 }, (_, i) => 400 + i),
    );
    for (const f of over)
      await assert.rejects(
        f.result({ timeoutMs: 10_000 }),
        (e) => e.code === 'GRAPH' && /MAX_PENDING_TASKS_PER_TOKEN/.test(e.message),
      );
    assert.equal(cluster.scheduler.limits.graphsRefused, 1);
    // Another token has its own budget.
    assert.deepEqual(
      await other.gather(
        other.map(
          (x) => x * 2,
          Array.from({ length: 20 }, (_, i) => i),
        ),
      ),
      Array.from({ length: 20 }, (_, i) => 2 * i),
    );
    await client.gather(slow);
    const again = client.map(
      gate,
      Array.from({ length: 10 }, (_, i) => 500 + i),
    );
    assert.equal((await client.gather(again)).length, 10, 'once the first tasks finished there is room again');
  } finally {
    await client.close();
    await other.close();
    await cluster.close();
  }
});
