// The commands of API.md, run as a user would: `npx meshwork scheduler` and `npx meshwork worker`
// in separate processes, and `npm start`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from '@meshwork/client';
import { cliPath, getJson, run } from './helpers.mjs';

test('--help of each command names every option', async () => {
  const s = run('npx', ['meshwork', 'scheduler', '--help']);
  await s.exited;
  for (const opt of ['--host', '--port', '--token']) assert.match(s.output(), new RegExp(opt));
  const w = run(process.execPath, [cliPath, 'worker', '--help']);
  await w.exited;
  for (const opt of ['--threads', '--name', '--memory-limit', '--resources', '--token']) assert.match(w.output(), new RegExp(opt));
});

test('a bad option exits with code 2 and says what is wrong', async () => {
  const r = run(process.execPath, [cliPath, 'scheduler', '--port', 'many']);
  const { code } = await r.exited;
  assert.equal(code, 2);
  assert.match(r.output(), /--port/);
});

test('meshwork scheduler + meshwork worker --threads 2 make a cluster a client can use', async () => {
  const scheduler = run('npx', ['meshwork', 'scheduler', '--port', '0']);
  let worker;
  try {
    const [, address] = await scheduler.waitFor(/scheduler at (ws:\/\/\S+)/);
    worker = run('npx', ['meshwork', 'worker', address, '--threads', '2', '--name', 'cli-worker']);
    const httpUrl = address.replace('ws://', 'http://');
    for (let i = 0; i < 200; i++) {
      const s = await getJson(`${httpUrl}/api/state`);
      if (s.workers.length === 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const state = await getJson(`${httpUrl}/api/state`);
    assert.equal(state.workers.length, 1);
    assert.equal(state.workers[0].threads, 2);
    assert.equal(state.workers[0].name, 'cli-worker');
    const client = await Client.connect(address);
    try {
      assert.deepEqual(await client.gather(client.map((x) => x * x, [1, 2, 3, 4])), [1, 4, 9, 16]);
    } finally {
      await client.close();
    }
    // SIGTERM ends the worker cleanly.
    worker.child.kill('SIGTERM');
    assert.equal((await worker.exited).code, 0);
  } finally {
    worker?.child.kill('SIGKILL');
    scheduler.child.kill('SIGTERM');
    assert.equal((await scheduler.exited).code, 0);
  }
});

test('a worker pointed at nothing exits non-zero with a clear message', async () => {
  const w = run(process.execPath, [cliPath, 'worker', 'ws://127.0.0.1:1']);
  const { code } = await w.exited;
  assert.notEqual(code, 0);
  assert.match(w.output(), /127\.0\.0\.1:1/);
});

test('npm start runs the tree reduction, serves, and exits cleanly on SIGINT', async () => {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const start = run('npm', ['start', '--silent'], { env: { ...process.env, MESHWORK_PORT: String(port) }, detached: true });
  try {
    await start.waitFor(/serving; Ctrl-C to stop/, 60_000);
    const out = start.output();
    assert.match(out, new RegExp(`ws://127\\.0\\.0\\.1:${port}`));
    assert.match(out, /dashboard +http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(out, /length 1000000, sum [\d.]+ \(sum of inputs [\d.]+: ok\)/);
    const state = await getJson(`http://127.0.0.1:${port}/api/state`);
    assert.equal(state.workers.length, 2);
    process.kill(-start.child.pid, 'SIGINT');
    const { code } = await start.exited;
    assert.equal(code, 0);
  } finally {
    try {
      process.kill(-start.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
