// A worker that holds a value but will not hand it over: it serves bytes that fail the value's
// hash, or trickles them. The dependent task must still finish, its input made again on another
// worker, and the bad holder must not be given the value to make again: before, the value went
// back to the same worker round after round (hundreds of compute/fetch rounds), or the dependent
// waited forever on a holder that kept its link alive one byte at a time.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createServer } from 'node:net';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import { encodeFrame, encodePeerFrame, valueHash } from '@meshwork/protocol';
import { startDataServer } from '@meshwork/datalink/node';
import { eventually, rawWorker } from './helpers.mjs';

/** Bytes of the value the bad holder claims: over the inline limit, so peers fetch it from the holder. */
const VALUE_BYTES = 200_000;

let cluster;
let client;
before(async () => {
  cluster = await LocalCluster.start({ workers: 1 });
  client = await Client.connect(cluster.address, { name: 'victim' });
});
after(async () => {
  await client?.close();
  await cluster?.close();
});

/** A raw worker whose data link is `dataAddress`: it claims each task it is given, reporting `hash` for VALUE_BYTES bytes. */
async function claimingWorker(dataAddress, hash) {
  const w = await rawWorker(cluster.address, { dataAddress });
  const computed = [];
  let beat = 0;
  const timer = setInterval(() => {
    // Alive in the scheduler's eyes: it keeps its heartbeat (a holder that went silent would be removed).
    if (++beat % 25 === 0) w.ws.send(encodeFrame([{ type: 'heartbeat', memoryUsed: 0, traffic: [] }]));
    for (const m of w.inbox.splice(0)) {
      if (m.type !== 'compute-task') continue;
      computed.push(m.key);
      const now = Date.now();
      w.ws.send(encodeFrame([{ type: 'task-finished', key: m.key, nbytes: VALUE_BYTES, hash, startedAt: now, stoppedAt: now, thread: 0 }]));
    }
  }, 20);
  return { ...w, computed, close: () => (clearInterval(timer), w.ws.close()) };
}

/** The one real worker of the cluster. */
async function realWorker() {
  const state = await (await fetch(`${cluster.httpUrl}/api/state`)).json();
  return state.workers.find((x) => x.kind === 'node' && x.agent !== 'test').id;
}

async function dependentFinishes(bad) {
  const honest = await realWorker();
  const make = (n) => new Uint8Array(n);
  const x = client.with({ workers: [bad.id], allowOtherWorkers: true, pure: false }).submit(make, VALUE_BYTES);
  await eventually(() => bad.computed.length > 0, { what: 'the bad holder claimed x' });
  const y = client.with({ workers: [honest], allowOtherWorkers: false, pure: false }).submit((v) => v.length, x);
  assert.equal(await y.result({ timeoutMs: 150_000 }), VALUE_BYTES, 'the dependent finished');
  const state0 = await (await fetch(`${cluster.httpUrl}/api/state`)).json();
  assert.ok(state0.workers.some((s) => s.id === bad.id), 'the bad holder is still a member: its copy was dropped, not lost with it');
  assert.deepEqual(bad.computed, [x.key], 'the value was made again elsewhere, not on the bad holder');
  const state = await (await fetch(`${cluster.httpUrl}/api/state`)).json();
  const w = state.workers.find((s) => s.id === bad.id);
  assert.ok(w === undefined || w.suspicions >= 1, 'the bad holder is suspected');
  x.release();
  y.release();
}

test('a holder that serves bytes failing the hash loses its copy and is not asked to make the value again', async () => {
  const good = new Uint8Array(VALUE_BYTES);
  const bad = new Uint8Array(VALUE_BYTES).fill(255);
  const server = await startDataServer({ host: '127.0.0.1', lookup: () => bad });
  const w = await claimingWorker(server.address, await valueHash(good));
  try {
    await dependentFinishes(w);
  } finally {
    w.close();
    await server.close();
  }
});

test('a holder that trickles one byte every 2 s is cut off by the fetch deadline; after a few, its copy is dropped', async () => {
  const good = new Uint8Array(VALUE_BYTES);
  const sockets = new Set();
  // Answers every get-data with the right header, then the body one byte per 2 s.
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      const text = buffered.toString('latin1');
      const asked = text.includes('get-data');
      if (!asked || socket.trickling) return;
      socket.trickling = true;
      // The request id is 1 (the first request on a fresh link); the key follows from the scheduler's plan.
      const key = /make-[0-9a-f]+|[A-Za-z]+-[0-9a-f]{8,}/.exec(text)?.[0] ?? '';
      const [head] = encodePeerFrame({ type: 'data', id: 1, key, nbytes: VALUE_BYTES }, good);
      socket.write(head);
      const timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.write(Buffer.from([0]))), 2_000);
      socket.on('close', () => clearInterval(timer));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const w = await claimingWorker(`tcp://127.0.0.1:${server.address().port}`, await valueHash(good));
  try {
    await dependentFinishes(w);
  } finally {
    w.close();
    for (const s of sockets) s.destroy();
    server.close();
  }
});
