// Web pages and the scheduler: a page of another origin cannot open a WebSocket to a token-less
// scheduler (the attack: a page on evil.example connected to ws://127.0.0.1:8786 and ran code on a
// worker), `--allow-origin` lets a named origin in, a scheduler with tokens lets any origin in but
// only with a valid token, and a loopback scheduler refuses requests under a rebound name (Host).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { LocalCluster, SchedulerServer } from '@meshwork/server';
import { PROTOCOL_VERSION, decode, digestString, encode, encodeFrame } from '@meshwork/protocol';
import { cliPath, run } from './helpers.mjs';

const TOKEN = 'origin-test-admin-5e7a';
const APP = 'http://app.example:3000';

let open; // token-less, one worker: what `npm start` and `meshwork scheduler` run
let allowing; // token-less, allows APP
let secured; // with an admin token
before(async () => {
  open = await LocalCluster.start({ workers: 1 });
  allowing = await SchedulerServer.start({ port: 0, allowOrigins: [APP] });
  secured = await SchedulerServer.start({ port: 0, token: TOKEN });
});
after(async () => {
  await open?.close();
  await allowing?.close();
  await secured?.close();
});

/**
 * Opens a WebSocket as a browser would (with `Origin`, and `Host` if given), says `hello` as
 * `role` and, for a client, asks to run a function on every worker: what the upgrade answered,
 * and the scheduler's replies.
 */
function connectAs(address, { origin, host, role = 'client', token, run: runIt = true } = {}) {
  return new Promise((resolve) => {
    const headers = host ? { host } : {};
    const ws = new WebSocket(address, { ...(origin !== undefined ? { origin } : {}), headers });
    const replies = [];
    const done = (r) => {
      ws.terminate();
      resolve({ ...r, replies });
    };
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => done({ status: res.statusCode, body: body ? JSON.parse(body) : undefined }));
    });
    ws.on('error', () => {}); // the unexpected-response or close handler answers
    ws.on('open', () => {
      const hello = { type: 'hello', protocolVersion: PROTOCOL_VERSION, role, ...(token ? { token } : {}) };
      if (role === 'worker') Object.assign(hello, { kind: 'node', threads: 1 });
      const msgs = [hello];
      const source = '() => 7';
      if (runIt && role === 'client') msgs.push({ type: 'run', id: 1, fn: { id: digestString(source), name: 'seven', source }, args: encode([]) });
      ws.send(encodeFrame(msgs));
    });
    ws.on('message', (data) => {
      const msgs = decode(new Uint8Array(data));
      replies.push(...(Array.isArray(msgs) ? msgs : [msgs]));
      if (replies.some((m) => m.type === 'run-reply' || m.type === 'error')) done({ status: 101 });
      else if (replies.some((m) => m.type === 'welcome') && !runIt) done({ status: 101 });
    });
    ws.on('close', () => done({ status: 101 }));
  });
}

const port = (s) => Number(new URL(s.httpUrl).port);

test('a token-less scheduler refuses WebSockets from pages of other origins, sandboxed frames included', async () => {
  const p = port(open);
  for (const origin of ['http://evil.example', 'null', `http://127.0.0.1:${p + 1}`, `https://127.0.0.1:${p}`, `http://evil.example:${p}`]) {
    const r = await connectAs(open.address, { origin });
    assert.equal(r.status, 403, `origin ${origin}`);
    assert.equal(r.body.code, 'ORIGIN_REFUSED');
    assert.match(r.body.message, /--allow-origin/);
    assert.deepEqual(r.replies, []);
  }
  assert.ok(open.scheduler.limits.originsRefused >= 5);
});

test("the scheduler's own pages and Node (no Origin) connect as before", async () => {
  const p = port(open);
  for (const origin of [undefined, `http://127.0.0.1:${p}`, `http://localhost:${p}`]) {
    const r = await connectAs(open.address, { origin });
    assert.equal(r.status, 101, `origin ${origin}`);
    const reply = r.replies.find((m) => m.type === 'run-reply');
    assert.deepEqual(Object.values(reply.results).map((x) => decode(x.value)), [7], `origin ${origin}`);
  }
});

test('--allow-origin lets that origin in, and only that one', async () => {
  assert.equal((await connectAs(allowing.address, { origin: APP, run: false })).status, 101);
  assert.equal((await connectAs(allowing.address, { origin: 'http://app.example:3001', run: false })).status, 403);
  assert.equal((await connectAs(allowing.address, { origin: 'https://app.example:3000', run: false })).status, 403);
});

test('a scheduler with tokens lets any origin connect, but only with a valid token, dashboards included', async () => {
  const evil = 'http://evil.example';
  const noToken = await connectAs(secured.address, { origin: evil, run: false });
  assert.equal(noToken.replies[0]?.code, 'AUTH_FAILED');
  const dashboard = await connectAs(secured.address, { origin: evil, role: 'dashboard', run: false });
  assert.equal(dashboard.replies[0]?.code, 'AUTH_FAILED', 'a foreign page reads no state without the token, even on loopback');
  const local = await connectAs(secured.address, { role: 'dashboard', run: false });
  assert.equal(local.replies[0]?.type, 'welcome', 'the own dashboard on loopback needs no token, as before');
  const withToken = await connectAs(secured.address, { origin: evil, token: TOKEN, run: false });
  assert.equal(withToken.replies[0]?.type, 'welcome');
});

/** An HTTP request with the given Host and Origin: status and body. */
function get(url, { host, origin, method = 'GET' } = {}) {
  return new Promise((resolve, reject) => {
    const headers = { ...(host ? { host } : {}), ...(origin ? { origin } : {}) };
    const req = request(url, { method, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body, corp: res.headers['cross-origin-resource-policy'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a loopback scheduler answers no request under another name (DNS rebinding), HTTP or WebSocket', async () => {
  const p = port(open);
  for (const path of ['/api/state', '/api/dump', '/metrics', '/join', '/']) {
    const r = await get(`${open.httpUrl}${path}`, { host: `rebound.example:${p}` });
    assert.equal(r.status, 403, path);
    assert.equal(JSON.parse(r.body).code, 'ORIGIN_REFUSED');
  }
  const ws = await connectAs(open.address, { host: `rebound.example:${p}`, origin: `http://rebound.example:${p}` });
  assert.equal(ws.status, 403);
  for (const host of [`localhost:${p}`, `127.0.0.1:${p}`]) {
    const r = await get(`${open.httpUrl}/api/state`, { host });
    assert.equal(r.status, 200, host);
    assert.equal(r.corp, 'same-origin');
  }
});

test('a request that could change state is refused from another origin', async () => {
  assert.equal((await get(`${open.httpUrl}/api/state`, { method: 'POST', origin: 'http://evil.example' })).status, 403);
  assert.equal((await get(`${open.httpUrl}/api/state`, { method: 'POST' })).status, 404, 'no such route, but not refused');
});

test('meshwork scheduler takes --allow-origin (repeatable), refuses a value that is no origin, and warns of *', async () => {
  const bad = run(process.execPath, [cliPath, 'scheduler', '--port', '0', '--allow-origin', 'app.example/path']);
  assert.equal((await bad.exited).code, 2);
  assert.match(bad.output(), /--allow-origin app\.example\/path/);
  const any = run(process.execPath, [cliPath, 'scheduler', '--port', '0', '--allow-origin', '*']);
  try {
    await any.waitFor(/every web page/);
  } finally {
    any.child.kill('SIGTERM');
    await any.exited;
  }
  const two = run(process.execPath, [cliPath, 'scheduler', '--port', '0', '--allow-origin', APP, '--allow-origin', 'https://b.example/']);
  try {
    const [, address] = await two.waitFor(/scheduler at (ws:\/\/\S+)/);
    for (const origin of [APP, 'https://b.example']) assert.equal((await connectAs(address, { origin, run: false })).status, 101, origin);
    assert.equal((await connectAs(address, { origin: 'https://c.example', run: false })).status, 403);
  } finally {
    two.child.kill('SIGTERM');
    await two.exited;
  }
});
