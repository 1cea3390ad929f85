// Access: three tokens (admin, client, worker), each admitting its role and no other; what only
// the admin may do; workers' data links closed to strangers; nothing leaks a token; a scheduler
// beyond loopback refuses to start open; TLS with a certificate made here.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import selfsigned from 'selfsigned';
import { LocalCluster, SchedulerServer } from '@meshwork/server';
import { Client } from '@meshwork/client';
import { startWorker } from '@meshwork/web-worker/node';
import { PROTOCOL_VERSION, encodeFrame, encodePeerFrame, PeerFrameReader } from '@meshwork/protocol';
import { cliPath, getJson, rawWorker, run } from './helpers.mjs';

const ADMIN = 'admin-secret-4f1c9a';
const CLIENT = 'client-secret-77d2e0';
const WORKER = 'worker-secret-0b93aa';
/** A worker spoken by hand, with the worker token. */
const WORKER_HELLO = { kind: 'browser', token: WORKER };
const logs = [];
const logger = {
  debug: (l) => logs.push(l),
  info: (l) => logs.push(l),
  warn: (l) => logs.push(l),
  error: (l) => logs.push(l),
};

let cluster;

before(async () => {
  cluster = await LocalCluster.start({ workers: 1, token: ADMIN, clientToken: CLIENT, workerToken: WORKER, logger });
});
after(async () => {
  await cluster?.close();
});

const authFails = (p) => assert.rejects(p, (e) => e.code === 'AUTH' && e.name === 'AuthError');

test("each token admits its own role: a missing, wrong or other role's token gets AuthError and nothing else", async () => {
  await authFails(Client.connect(cluster.address));
  await authFails(Client.connect(cluster.address, { token: 'nope' }));
  await authFails(Client.connect(cluster.address, { token: WORKER }), 'a worker token does not make a client');
  await authFails(
    startWorker({ scheduler: cluster.address, threads: 1, token: CLIENT }),
    'a client cannot join as a worker',
  );
  await authFails(startWorker({ scheduler: cluster.address, threads: 1 }));
  const w = await startWorker({ scheduler: cluster.address, threads: 1, token: WORKER, name: 'extra' });
  const c = await Client.connect(cluster.address, { token: CLIENT });
  try {
    const make = (n) => new Float64Array(n).fill(2);
    const big = c.submit(make, 100_000); // 800 kB: gathered from the worker's data link, which needs the data token
    const total = c.submit((xs) => xs.reduce((s, x) => s + x, 0), big);
    assert.equal(await total.result(), 200_000);
    assert.equal((await big.result()).length, 100_000);
  } finally {
    await c.close();
    await w.close();
  }
});

test('only the admin runs functions on workers, uploads modules and dumps state', async () => {
  const c = await Client.connect(cluster.address, { token: CLIENT });
  const admin = await Client.connect(cluster.address, { token: ADMIN });
  try {
    await authFails(c.run(() => 1));
    await authFails(c.upload('mod', 'export const f = () => 1;'));
    assert.deepEqual(Object.values(await admin.run(() => 42)), [42]);
    const mod = await admin.upload('mod', 'export const f = (x) => x * 3;');
    assert.equal(await admin.submit(mod.fn('f'), 5).result(), 15);
    assert.equal((await fetch(`${cluster.httpUrl}/api/dump`)).status, 401);
    assert.equal(
      (await fetch(`${cluster.httpUrl}/api/dump`, { headers: { authorization: `Bearer ${CLIENT}` } })).status,
      401,
    );
    assert.equal(
      (await fetch(`${cluster.httpUrl}/api/dump`, { headers: { authorization: `Bearer ${ADMIN}` } })).status,
      200,
    );
    assert.equal((await fetch(`${cluster.httpUrl}/modules/mod.mjs`)).status, 401, 'modules are not for strangers');
    // On loopback, state and metrics are readable without a token.
    assert.equal((await fetch(`${cluster.httpUrl}/api/state`)).status, 200);
  } finally {
    await c.close();
    await admin.close();
  }
});

/** Says hello to a worker's data link and returns the first reply (or 'closed'). */
function dataHello(address, hello) {
  const { hostname, port } = new URL(address.replace('tcp://', 'http://'));
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const reader = new PeerFrameReader();
    socket.on('connect', () => {
      for (const part of encodePeerFrame(hello)) socket.write(part);
      for (const part of encodePeerFrame({ type: 'get-data', id: 1, keys: ['anything'] })) socket.write(part);
    });
    socket.on('data', (chunk) => {
      const frames = reader.push(new Uint8Array(chunk));
      if (frames.length > 0) resolve(frames[0].header);
    });
    socket.on('close', () => resolve('closed'));
    socket.on('error', () => resolve('closed'));
  });
}

test("a worker's data link serves no one without the scheduler's data token", async () => {
  const state = await getJson(`${cluster.httpUrl}/api/state`);
  const dump = await (
    await fetch(`${cluster.httpUrl}/api/dump?limit=0`, { headers: { authorization: `Bearer ${ADMIN}` } })
  ).json();
  const address = dump.workers.find((w) => w.id === state.workers[0].id)?.dataAddress ?? dump.workers[0].dataAddress;
  assert.match(address, /^tcp:\/\//);
  const base = { type: 'hello', protocolVersion: PROTOCOL_VERSION, from: 'stranger' };
  for (const hello of [base, { ...base, token: 'guess' }, { ...base, token: CLIENT }, { ...base, token: ADMIN }]) {
    const reply = await dataHello(address, hello);
    assert.equal(reply.code, 'AUTH_FAILED', `refused: ${JSON.stringify(hello.token)}`);
  }
});

/** Waits (20 ms steps, 2 s at most) for `done()`. */
async function until(done) {
  for (let i = 0; i < 100 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
}

test('a worker cannot ask the scheduler for keys or submit work: its channel has no such messages', async () => {
  const w = await rawWorker(cluster.address, WORKER_HELLO);
  w.ws.send(
    encodeFrame([
      { type: 'gather', id: 1, keys: ['x'] },
      { type: 'update-graph', tasks: [], fns: [], wants: [] },
    ]),
  );
  await until(() => w.inbox.filter((m) => m.type === 'error').length >= 2);
  const errors = w.inbox.filter((m) => m.type === 'error');
  assert.equal(errors.length, 2, JSON.stringify(w.inbox.map((m) => m.type)));
  assert.ok(
    errors.every((e) => e.code === 'UNKNOWN_TYPE'),
    JSON.stringify(errors),
  );
  w.ws.close();
});

test('no token appears in logs, /api/state, /metrics or /api/dump', async () => {
  const texts = [
    logs.join('\n'),
    await (await fetch(`${cluster.httpUrl}/api/state`)).text(),
    await (await fetch(`${cluster.httpUrl}/metrics`)).text(),
    await (await fetch(`${cluster.httpUrl}/api/dump`, { headers: { authorization: `Bearer ${ADMIN}` } })).text(),
  ];
  assert.ok(logs.length > 0, 'the scheduler logged');
  for (const t of texts) for (const secret of [ADMIN, CLIENT, WORKER]) assert.ok(!t.includes(secret), 'a token leaked');
});

test('a scheduler bound beyond loopback refuses to start without a token, and says why', async () => {
  await assert.rejects(
    SchedulerServer.start({ host: '0.0.0.0', port: 0 }),
    (e) => e.code === 'AUTH' && /--insecure/.test(e.message),
  );
  const cli = run(process.execPath, [cliPath, 'scheduler', '--host', '0.0.0.0', '--port', '0']);
  assert.equal((await cli.exited).code, 1);
  assert.match(cli.output(), /refusing to listen on 0\.0\.0\.0 without a token/);
});

test('TLS: https and wss with a certificate made here; workers and clients connect through it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshwork-tls-'));
  const pems = await selfsigned.generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    days: 1,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  const certFile = join(dir, 'cert.pem');
  writeFileSync(certFile, pems.cert);
  const server = await SchedulerServer.start({ port: 0, token: ADMIN, tls: { cert: pems.cert, key: pems.private } });
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: certFile };
  // The token in the environment, not argv, which every local user can read.
  const worker = spawn(process.execPath, [cliPath, 'worker', server.address, '--threads', '1'], {
    env: { ...env, MESHWORK_TOKEN: ADMIN },
    stdio: 'ignore',
  });
  try {
    assert.match(server.address, /^wss:\/\//);
    const status = await new Promise((resolve, reject) =>
      request(`${server.httpUrl}/api/state`, { ca: pems.cert }, (res) => resolve(res.statusCode))
        .on('error', reject)
        .end(),
    );
    assert.equal(status, 200);
    const script = `
      import { Client } from '@meshwork/client';
      const c = await Client.connect(${JSON.stringify(server.address)}, { token: ${JSON.stringify(ADMIN)} });
      const big = c.submit((n) => new Float64Array(n).fill(1), 50_000);
      console.log(await c.submit((xs) => xs.length, big).result(), (await big.result()).length);
      await c.close();`;
    const client = run(process.execPath, ['--input-type=module', '-e', script], { env });
    await client.exited;
    assert.match(client.output(), /^50000 50000$/m, client.output());
  } finally {
    worker.kill();
    await server.close();
  }
});

test('a worker that leaves: the workers it had a relay link or WebRTC signalling with are told at once, no one else', async () => {
  const raw = [];
  for (let i = 0; i < 4; i++) raw.push(await rawWorker(cluster.address, WORKER_HELLO));
  const [a, b, c, gone] = raw;
  try {
    a.ws.send(encodeFrame([{ type: 'relay', to: gone.id, data: new Uint8Array([1]) }]));
    gone.ws.send(encodeFrame([{ type: 'signal', to: b.id, payload: { kind: 'request-offer' } }]));
    await until(() => gone.inbox.some((m) => m.type === 'relay') && b.inbox.some((m) => m.type === 'signal'));
    gone.ws.terminate();
    const told = (w) => w.inbox.filter((m) => m.from === gone.id && (m.close || m.payload?.kind === 'bye'));
    await until(() => told(a).length > 0 && told(b).length > 0);
    assert.deepEqual(told(a), [{ type: 'relay', from: gone.id, close: true }], 'the relay link is closed');
    assert.deepEqual(
      told(b),
      [{ type: 'signal', from: gone.id, payload: { kind: 'bye' } }],
      'the WebRTC peer says bye',
    );
    assert.deepEqual(
      c.inbox.filter((m) => m.type === 'relay' || m.type === 'signal'),
      [],
    );
  } finally {
    for (const w of [a, b, c]) w.ws.close();
  }
});

test('a worker cannot speak as another: what the scheduler relays carries the sender it knows', async () => {
  const a = await rawWorker(cluster.address, WORKER_HELLO);
  const b = await rawWorker(cluster.address, WORKER_HELLO);
  try {
    a.ws.send(
      encodeFrame([
        { type: 'signal', to: b.id, from: 'someone-else', payload: { kind: 'request-offer' } },
        { type: 'relay', to: b.id, from: 'someone-else', data: new Uint8Array([1, 2, 3]) },
      ]),
    );
    await until(() => b.inbox.filter((m) => m.type === 'signal' || m.type === 'relay').length >= 2);
    const got = b.inbox.filter((m) => m.type === 'signal' || m.type === 'relay');
    assert.equal(got.length, 2);
    for (const m of got) assert.equal(m.from, a.id, `${m.type} names its real sender`);
  } finally {
    a.ws.close();
    b.ws.close();
  }
});

test("cancel with force is the admin's: a client token gets AuthError, the admin cancels a shared key for every client", async () => {
  const c = await Client.connect(cluster.address, { token: CLIENT });
  const admin = await Client.connect(cluster.address, { token: ADMIN });
  try {
    const sleepy = async (ms) => new Promise((r) => setTimeout(() => r(ms), ms));
    const theirs = c.submit(sleepy, 5_000);
    const mine = admin.submit(sleepy, 5_000);
    assert.equal(mine.key, theirs.key);
    await authFails(c.cancel(theirs, { force: true }));
    assert.equal(theirs.status, 'pending', 'a refused force cancels nothing, not even for the caller');
    await admin.cancel(mine, { force: true });
    await assert.rejects(theirs.result({ timeoutMs: 10_000 }), (e) => e.code === 'CANCELLED');
  } finally {
    await c.close();
    await admin.close();
  }
});
