// Hostile or mismatched frames at the scheduler's edge: an error reply with a stable code,
// the scheduler stays up, and other clients are unaffected.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { LocalCluster } from '@meshwork/server';
import { Client, ProtocolError } from '@meshwork/client';
import { PROTOCOL_VERSION, decode, encode } from '@meshwork/protocol';

let cluster;
before(async () => {
  cluster = await LocalCluster.start({ workers: 1 });
});
after(async () => {
  await cluster?.close();
});

/** Opens a raw socket; `next()` resolves with the next message (frames are batches) or the close. */
async function raw() {
  const ws = new WebSocket(cluster.address);
  const inbox = [];
  const waiting = [];
  const deliver = (item) => (waiting.length ? waiting.shift()(item) : inbox.push(item));
  ws.on('message', (d) => {
    for (const message of decode(d)) deliver({ message });
  });
  ws.on('close', (code) => deliver({ closed: code }));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the socket did not open within 10 s')), 10_000);
    ws.once('open', () => (clearTimeout(timer), resolve()));
    ws.once('error', (e) => (clearTimeout(timer), reject(e)));
  });
  return {
    ws,
    send: (messages) => ws.send(encode(messages)),
    next: () =>
      inbox.length
        ? Promise.resolve(inbox.shift())
        : new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('no message within 10 s')), 10_000);
            waiting.push((item) => (clearTimeout(timer), resolve(item)));
          }),
  };
}

const hello = { type: 'hello', protocolVersion: PROTOCOL_VERSION, role: 'client', name: 'raw' };

async function worksStill() {
  const c = await Client.connect(cluster.address);
  try {
    const f = c.submit((x) => x + 1, 1);
    const value = await f.result({ timeoutMs: 15_000 }).catch(async (e) => {
      const dump = await (await fetch(`${cluster.httpUrl}/api/dump`)).json();
      throw new Error(`${e.message}; cluster: ${JSON.stringify({ counts: dump.counts, clients: dump.clients, workers: dump.workers })}`);
    });
    assert.equal(value, 2);
  } finally {
    await c.close();
  }
}

test('a malformed frame gets PROTOCOL_ERROR and the connection stays', async () => {
  const r = await raw();
  r.send([hello]);
  assert.equal((await r.next()).message.type, 'welcome');
  r.ws.send(Buffer.from([0xc1, 0xff, 0x00, 0x13]));
  const reply = (await r.next()).message;
  assert.equal(reply.type, 'error');
  assert.equal(reply.code, 'PROTOCOL_ERROR');
  r.send([{ type: 'gather', id: 'not-a-number', keys: [] }]);
  const bad = (await r.next()).message;
  assert.equal(bad.code, 'PROTOCOL_ERROR');
  assert.match(bad.message, /gather/);
  r.send([{ type: 'gather', id: 3, keys: [] }]);
  const ok = (await r.next()).message;
  assert.equal(ok.type, 'gather-reply', 'the connection still works');
  r.ws.close();
  await worksStill();
});

test('an unknown message type gets UNKNOWN_TYPE', async () => {
  const r = await raw();
  r.send([hello, { type: 'launch-missiles', id: 9 }]);
  assert.equal((await r.next()).message.type, 'welcome');
  const reply = (await r.next()).message;
  assert.equal(reply.code, 'UNKNOWN_TYPE');
  assert.equal(reply.replyTo, 9);
  r.ws.close();
});

test('a hello from another protocol version is refused with VERSION_MISMATCH and closed', async () => {
  for (const version of [PROTOCOL_VERSION + 1, PROTOCOL_VERSION - 1]) {
    const r = await raw();
    r.send([{ ...hello, protocolVersion: version }]);
    const reply = (await r.next()).message;
    assert.equal(reply.code, 'VERSION_MISMATCH');
    assert.match(reply.message, new RegExp(`version ${PROTOCOL_VERSION}`));
    assert.ok('closed' in (await r.next()));
  }
  await worksStill();
});

test('a first message that is not hello is refused', async () => {
  const r = await raw();
  r.send([{ type: 'gather', id: 1, keys: [] }]);
  assert.equal((await r.next()).message.code, 'PROTOCOL_ERROR');
  assert.ok('closed' in (await r.next()));
});

test('Client.connect to something that is not a meshwork scheduler fails with a clear error', async () => {
  await assert.rejects(Client.connect('ws://127.0.0.1:1', { timeoutMs: 2000 }), (e) => e.code === 'CONNECTION');
  assert.ok(ProtocolError);
});
