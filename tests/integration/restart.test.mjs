// The scheduler restarted under a running cluster: workers and the client reconnect by
// themselves; futures the new scheduler cannot know fail at once with a LostError saying why
// (nothing hangs); work submitted after the reconnect runs. Once with the scheduler closed in
// this process, once with its process killed (SIGKILL) and started again on the same port.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { Client, LostError } from '@meshwork/client';
import { LocalCluster, SchedulerServer } from '@meshwork/server';
import { cliPath, eventually, getJson, run } from './helpers.mjs';

/** A port nothing listens on now (the scheduler must come back on a port known in advance). */
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const sleepy = async (ms) => {
  await new Promise((r) => setTimeout(r, ms));
  return ms;
};
const bigArray = (n) => new Float64Array(n).fill(1.5); // 160 KB: not cached by the client
const inc = (x) => x + 1;

/** Futures in every state the restart must settle: finished small (cached), finished large, pending. */
async function holdFutures(client) {
  const small = client.submit(inc, 1);
  const large = client.submit(bigArray, 20_000);
  assert.equal(await small.result(), 2);
  assert.equal((await large.result()).length, 20_000);
  const pending = client.submit(sleepy, 60_000);
  await eventually(async () => pending.status === 'pending', { what: 'the long task submitted' });
  return { small, large, pending };
}

/** After the restart: what the user sees of the old futures, and new work running on the rejoined workers. */
async function checkAfterRestart(client, { small, large, pending }, oldClientId) {
  // The pending future does not hang: it fails as soon as the connection drops, saying why.
  const error = await pending.result({ timeoutMs: 20_000 }).then(
    () => assert.fail('a task of the old scheduler cannot finish'),
    (e) => e,
  );
  assert.ok(error instanceof LostError, `LostError, not ${error}`);
  assert.equal(error.code, 'LOST');
  assert.match(error.message, /lost with the connection to the scheduler.*restarted/);
  assert.equal(pending.status, 'lost');
  await assert.rejects(large.result({ timeoutMs: 20_000 }), LostError, 'a large value held by an old worker is gone');
  assert.equal(await small.result(), 2, 'a small value the client cached stays');
  await eventually(async () => client.id !== oldClientId && client.id !== '', {
    timeoutMs: 30_000,
    what: 'client reconnected',
  });
  assert.equal(client.connected, true);
  // New work runs, with dependencies across workers.
  const xs = client.map(inc, [1, 2, 3, 4, 5, 6]);
  const total = client.submit((...v) => v.reduce((a, b) => a + b, 0), ...xs);
  assert.equal(await total.result({ timeoutMs: 30_000 }), 27);
  const big = client.submit(bigArray, 20_000); // travels worker to worker, not inline
  assert.equal(await client.submit((a, k) => a.length + k, big, 1).result({ timeoutMs: 30_000 }), 20_001);
}

test('the scheduler closed and started again on its port: workers rejoin, the client reconnects, held futures fail clearly', async () => {
  const port = await freePort();
  const cluster = await LocalCluster.start({ workers: 2, threadsPerWorker: 1, port });
  const client = await Client.connect(cluster.address, { name: 'restart' });
  let second;
  try {
    const oldWorkers = [...cluster.scheduler.state.workers.keys()];
    const held = await holdFutures(client);
    const oldClientId = client.id;
    await cluster.scheduler.close();
    second = await SchedulerServer.start({ host: '127.0.0.1', port });
    await eventually(() => second.state.workers.size === 2, { timeoutMs: 30_000, what: 'both workers rejoined' });
    const rejoined = [...second.state.workers.values()];
    assert.deepEqual(rejoined.map((w) => w.name).sort(), ['local-0', 'local-1'], 'the same processes, no duplicates');
    for (const w of rejoined) assert.ok(!oldWorkers.includes(w.id), `rejoined under a new id (${w.id})`);
    assert.ok(
      rejoined.every((w) => w.hasWhat.size === 0),
      'no worker claims data of the old scheduler',
    );
    await checkAfterRestart(client, held, oldClientId);
    assert.equal(second.state.workers.size, 2, 'still exactly two workers');
  } finally {
    await client.close();
    await cluster.close(); // the worker processes, then the (already closed) first scheduler
    await second?.close();
  }
});

test('the scheduler process killed (SIGKILL) and started again: workers rejoin, logging it, and the client reconnects', async () => {
  const port = await freePort();
  const address = `ws://127.0.0.1:${port}`;
  const startScheduler = async () => {
    const s = run(process.execPath, [cliPath, 'scheduler', '--port', String(port)]);
    await s.waitFor(/scheduler at ws:\/\//);
    return s;
  };
  let scheduler = await startScheduler();
  const workers = ['w-a', 'w-b'].map((name) =>
    run(process.execPath, [cliPath, 'worker', address, '--threads', '1', '--name', name]),
  );
  let client;
  try {
    await eventually(async () => (await getJson(`http://127.0.0.1:${port}/api/state`)).workers.length === 2, {
      what: 'workers joined',
    });
    client = await Client.connect(address, { name: 'restart-kill' });
    const held = await holdFutures(client);
    const oldClientId = client.id;
    scheduler.child.kill('SIGKILL');
    await scheduler.exited;
    for (const w of workers) await w.waitFor(/lost the scheduler connection/, 10_000);
    // Down for a while: the workers keep trying (backoff), the client too.
    await new Promise((r) => setTimeout(r, 1_500));
    scheduler = await startScheduler();
    for (const w of workers) await w.waitFor(/rejoined the scheduler/, 30_000);
    const state = await getJson(`http://127.0.0.1:${port}/api/state`);
    assert.deepEqual(state.workers.map((w) => w.name).sort(), ['w-a', 'w-b']);
    await checkAfterRestart(client, held, oldClientId);
    for (const w of workers) assert.equal(w.child.exitCode, null, 'the workers never exited');
  } finally {
    await client?.close();
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    scheduler.child.kill('SIGTERM');
    await scheduler.exited;
  }
});
