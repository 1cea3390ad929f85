// Shared set-up for integration tests: a real scheduler on port 0 and real worker processes.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, PeerFrameReader, decode, encodeFrame, encodePeerFrame } from '@meshwork/protocol';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const cliPath = fileURLToPath(new URL('../../server/dist/cli.js', import.meta.url));

/** Runs `body(cluster, client)` against a fresh LocalCluster, closing both whatever happens. */
export async function withCluster(options, body) {
  const cluster = await LocalCluster.start({ workers: 2, threadsPerWorker: 1, ...options });
  const client = await Client.connect(cluster.address, { name: 'test' });
  try {
    return await body(cluster, client);
  } finally {
    await client.close();
    await cluster.close();
  }
}

export async function getJson(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return res.json();
}

/** Polls `check` until it returns a truthy value or the time runs out. */
export async function eventually(check, { timeoutMs = 10_000, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Spawns a process and collects its output; `waitFor(re)` resolves with the first match. */
export function run(command, args, options = {}) {
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let out = '';
  const waiters = [];
  const onData = (d) => {
    out += d.toString();
    for (const w of [...waiters]) {
      const m = out.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    exited,
    output: () => out,
    waitFor(re, timeoutMs = 30_000) {
      const m = out.match(re);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output so far:\n${out}`)), timeoutMs);
        waiters.push({ re, resolve: (x) => (clearTimeout(timer), resolve(x)) });
      });
    },
  };
}

/**
 * A worker connection spoken by hand: says hello (`hello` fields override the defaults: a Node
 * worker with one thread and no data link), waits for its welcome, and collects every message the
 * scheduler sends in `inbox`. `id` is the id the scheduler gave it. `localAddress`: the loopback
 * address it connects from (e.g. 127.0.0.2), to be seen at an address of its own.
 */
export async function rawWorker(address, hello = {}, { localAddress } = {}) {
  const ws = new WebSocket(address, localAddress === undefined ? {} : { localAddress });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const inbox = [];
  ws.on('message', (d) => inbox.push(...decode(new Uint8Array(d))));
  const base = { type: 'hello', protocolVersion: PROTOCOL_VERSION, role: 'worker', kind: 'node', threads: 1 };
  ws.send(encodeFrame([{ ...base, memoryLimit: null, resources: {}, dataAddress: null, agent: 'test', ...hello }]));
  const welcome = await eventually(() => inbox.find((m) => m.type === 'welcome'), { what: 'welcome' });
  return { ws, inbox, id: welcome.id };
}

/**
 * Calls `answer(task)` for every compute-task the raw worker gets and sends back what it returns
 * (nothing when `answer` is not given: a worker that never answers); returns the keys it got.
 */
export function onTasks(worker, answer) {
  const got = [];
  worker.ws.on('message', (d) => {
    for (const m of decode(new Uint8Array(d))) {
      if (m.type !== 'compute-task') continue;
      got.push(m.key);
      if (answer) worker.ws.send(encodeFrame([answer(m)]));
    }
  });
  return got;
}

/** The worker named `name` as the cluster's /api/state lists it. */
export const workerNamed = async (cluster, name) =>
  (await getJson(`${cluster.httpUrl}/api/state`)).workers.find((w) => w.name === name);

/** How long a client spoken by hand waits for the scheduler's answer, in milliseconds. */
export const REPLY_TIMEOUT_MS = 10_000;

/**
 * A client that speaks the protocol itself (a rival, in the trust tests): says hello (`hello`
 * fields override), waits for its welcome (`welcome`), and offers `send(...messages)`,
 * `next(predicate)` for the first message that matches (rejects after REPLY_TIMEOUT_MS), `seen`
 * (every message so far) and `close()`.
 */
export async function rawClient(address, hello = {}) {
  const ws = new WebSocket(address);
  const seen = [];
  const waiters = [];
  ws.on('message', (d) => {
    for (const m of decode(new Uint8Array(d))) {
      seen.push(m);
      for (const w of [...waiters]) if (w.match(m)) waiters.splice(waiters.indexOf(w), 1) && w.resolve(m);
    }
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const client = {
    seen,
    send: (...messages) => ws.send(encodeFrame(messages)),
    next: (match) => {
      const found = seen.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no such reply within ${REPLY_TIMEOUT_MS} ms`)), REPLY_TIMEOUT_MS);
        waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      });
    },
    close: () => ws.close(),
  };
  client.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, role: 'client', name: 'rival', ...hello });
  client.welcome = await client.next((m) => m.type === 'welcome');
  return client;
}

/**
 * Opens `n` TCP connections to `port` on loopback at once; each resolves 'dropped' if the server
 * closes it within a second, else 'open'. The sockets go into `sockets` (the caller destroys them).
 */
export function openConnections(port, n, sockets) {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const socket = connect(Number(port), '127.0.0.1');
      sockets.push(socket);
      socket.on('error', () => {});
      await new Promise((resolve) => socket.once('connect', resolve));
      // Dropped sockets close at once; held ones stay open (the headers timeout is 10 s).
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve('open'), 1_000);
        socket.once('close', () => (clearTimeout(timer), resolve('dropped')));
      });
    }),
  );
}

/**
 * Dials a worker's data link, writes `frames` (header, optional body), and collects replies until
 * `expected` came or the link closed: each reply's header and body size, and whether it closed.
 */
export function dataLink(address, frames, expected) {
  const { hostname, port } = new URL(address.replace('tcp://', 'http://'));
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port) });
    const reader = new PeerFrameReader();
    const replies = [];
    const done = (closed) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ replies, closed });
    };
    const timer = setTimeout(
      () => reject(new Error(`${replies.length} of ${expected} replies within ${REPLY_TIMEOUT_MS} ms`)),
      REPLY_TIMEOUT_MS,
    );
    socket.on('connect', () => {
      for (const [header, body] of frames) for (const part of encodePeerFrame(header, body)) socket.write(part);
    });
    socket.on('data', (chunk) => {
      for (const f of reader.push(new Uint8Array(chunk))) replies.push({ ...f.header, bodyBytes: f.body.byteLength });
      if (replies.length >= expected) done(false);
    });
    socket.on('close', () => done(true));
    socket.on('error', () => {});
  });
}
