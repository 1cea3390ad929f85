// Tokens stay where they belong, on a secured cluster whose admin, client and worker tokens all
// differ: LocalCluster's worker processes get their token in the environment, not on the command
// line; task code finds no token anywhere it can look (workerData, process.env, globalThis, the
// requests of a module import); tasks from tasks still work, through the capability of the client
// the task runs for, which acts only while that client is connected and is no admin.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import { eventually, getJson, rawWorker } from './helpers.mjs';

const ADMIN = 'admin-token-5d0e71c2';
const CLIENT = 'client-token-a83f6b19';
const WORKER = 'worker-token-27c4d9e0';
const SECRETS = [ADMIN, CLIENT, WORKER];
const WORKERS = 2;

let cluster;
let admin;
let client;

before(async () => {
  // As a shell that starts the scheduler might have it: no worker may inherit the admin token.
  process.env.MESHWORK_TOKEN = ADMIN;
  cluster = await LocalCluster.start({
    workers: WORKERS,
    threadsPerWorker: 1,
    token: ADMIN,
    clientToken: CLIENT,
    workerToken: WORKER,
  });
  delete process.env.MESHWORK_TOKEN;
  admin = await Client.connect(cluster.address, { token: ADMIN, name: 'admin' });
  client = await Client.connect(cluster.address, { token: CLIENT, name: 'tenant' });
});
after(async () => {
  await client?.close();
  await admin?.close();
  await cluster?.close();
});

const authFails = (p) => assert.rejects(p, (e) => e.code === 'AUTH' && e.name === 'AuthError');

function assertNoSecret(text, where) {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where} shows a token (${secret.split('-')[0]})`);
}

test("LocalCluster's worker processes carry no token on their command line, yet join", async () => {
  const pids = [...cluster.processes].map((p) => p.pid);
  assert.equal(pids.length, WORKERS);
  for (const pid of pids) {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.ok(
      argv.some((a) => a.endsWith('cli.js')),
      `pid ${pid} is a worker: ${argv.join(' ')}`,
    );
    assertNoSecret(argv.join(' '), `/proc/${pid}/cmdline`);
    // The environment, which only this user can read, holds the worker token and no other.
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    assert.ok(env.includes(`MESHWORK_WORKER_TOKEN=${WORKER}`));
    assert.ok(!env.join('\n').includes(ADMIN), 'a worker inherits the admin token');
  }
  const state = await getJson(`${cluster.httpUrl}/api/state`);
  assert.equal(state.workers.length, WORKERS, 'every worker joined with the token from its environment');
});

test('a task finds no token: not in workerData, process.env, globalThis, its client, nor in what a module import sends', async () => {
  const mod = await admin.upload('probe', 'export const answer = () => 42;');
  // Everything on one worker's one thread: the patched fetch must be the one the import would use.
  const there = client.with({ pure: false, workers: ['local-0'], allowOtherWorkers: false });
  const look = there.submit(async () => {
    const { workerData } = await import('node:worker_threads');
    const strings = [];
    const seen = new WeakSet();
    const walk = (value, depth) => {
      if (typeof value === 'string') return void strings.push(value);
      if ((typeof value !== 'object' && typeof value !== 'function') || value === null || depth > 4 || seen.has(value))
        return;
      seen.add(value);
      for (const name of Reflect.ownKeys(value)) {
        let v;
        try {
          v = value[name];
        } catch {
          continue;
        }
        strings.push(String(name));
        // A getter called on a prototype may answer a rejected promise: handled, not walked.
        if (v instanceof Promise) v.catch(() => undefined);
        else if (name !== 'prototype') walk(v, depth + 1);
      }
    };
    walk(globalThis, 0);
    // The task's own client (tasks from tasks) and what it holds: its connection's options too.
    walk(await globalThis.meshwork.client(), 0);
    const fetches = (globalThis.probeFetches = []);
    const realFetch = globalThis.fetch;
    globalThis.fetch = (url, init) => {
      fetches.push(JSON.stringify([String(url), init ?? null]));
      return realFetch(url, init);
    };
    return JSON.stringify({ workerData, env: process.env, argv: process.argv, strings });
  });
  const looked = await look.result({ timeoutMs: 30_000 });
  assert.match(looked, /"workerData":\{"scheduler":"ws:/, 'the task did read workerData');
  assert.match(looked, /"capability"/, "the task did walk into its client's connection options");
  assertNoSecret(looked, 'what the task read from workerData, process.env, globalThis and its client');
  // The module is imported by the thread that has fetch patched: the task's patch sees what it sends.
  assert.equal(await there.submit(mod.fn('answer')).result({ timeoutMs: 30_000 }), 42);
  const fetches = await there.submit(() => globalThis.probeFetches).result({ timeoutMs: 30_000 });
  assert.ok(Array.isArray(fetches), 'the three tasks ran on one thread');
  assertNoSecret(JSON.stringify(fetches), 'the requests of the module import');
});

test('on this secured cluster a task submits sub-tasks through meshwork.client(), as a non-admin client', async () => {
  const outer = client.submit(async (x) => {
    const c = await globalThis.meshwork.client();
    const inner = await c.gather(c.map((y) => y * y, [x, x + 1, x + 2]));
    let run;
    try {
      await c.run(() => 1);
      run = 'ran';
    } catch (e) {
      run = e.code;
    }
    return { inner, run };
  }, 2);
  assert.deepEqual(await outer.result({ timeoutMs: 30_000 }), { inner: [4, 9, 16], run: 'AUTH' });
  // A task of the admin's gets no admin powers either.
  const byAdmin = admin.submit(async () => {
    try {
      await (await globalThis.meshwork.client()).upload('m', 'export const f = () => 1;');
      return 'uploaded';
    } catch (e) {
      return e.code;
    }
  });
  assert.equal(await byAdmin.result({ timeoutMs: 30_000 }), 'AUTH');
});

test("a capability admits a task's client only while its client is connected; a made-up one gets AuthError", async () => {
  await authFails(Client.connect(cluster.address, { capability: 'made-up-capability' }));
  await authFails(Client.connect(cluster.address, { capability: WORKER })); // a token is no capability
  const raw = await rawWorker(cluster.address, { name: 'raw', token: WORKER });
  const owner = await Client.connect(cluster.address, { token: CLIENT, name: 'owner' });
  try {
    owner.with({ pure: false, workers: ['raw'], allowOtherWorkers: false }).submit(() => 1);
    const task = await eventually(() => raw.inbox.find((m) => m.type === 'compute-task'), { what: 'compute-task' });
    assert.equal(typeof task.capability, 'string', 'the task comes with its client capability');
    assertNoSecret(JSON.stringify(raw.inbox), 'what the worker got');
    const sub = await Client.connect(cluster.address, { capability: task.capability, name: 'sub' });
    assert.equal(await sub.submit((x) => x + 1, 1).result({ timeoutMs: 30_000 }), 2);
    await sub.close();
    await owner.close();
    await eventually(
      async () => {
        try {
          await (await Client.connect(cluster.address, { capability: task.capability })).close();
          return false;
        } catch (e) {
          return e.code === 'AUTH';
        }
      },
      { what: 'the capability to expire with its client' },
    );
  } finally {
    await owner.close();
    raw.ws.close();
  }
});
