// The commands of API.md, run as a user would: `npx meshwork scheduler` and `npx meshwork worker`
// in separate processes, and `npm start`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client } from '@meshwork/client';
import { cliPath, eventually, getJson, openConnections, root, run } from './helpers.mjs';

/** The committed `meshwork` command, as npm links it. */
const binPath = join(root, 'server/bin/meshwork.js');

test('--help of each command names every option', async () => {
  const s = run('npx', ['meshwork', 'scheduler', '--help']);
  await s.exited;
  for (const opt of ['--host', '--port', '--token']) assert.match(s.output(), new RegExp(opt));
  const w = run(process.execPath, [cliPath, 'worker', '--help']);
  await w.exited;
  for (const opt of ['--threads', '--name', '--memory-limit', '--resources', '--token']) assert.match(w.output(), new RegExp(opt));
});

/**
 * An `--import` that lists, as each process exits, its pid and every CommonJS module it loaded
 * (express and its kin are CommonJS): `LOADED <pid> [paths]`.
 */
const LIST_CJS_ON_EXIT =
  "data:text/javascript,import{createRequire}from'node:module';const r=createRequire(process.cwd()+'/');" +
  "process.on('exit',()=>process.stderr.write('LOADED '+process.pid+' '+JSON.stringify(Object.keys(r.cache))+'\\n'))";

/** What each process of a run listed with LIST_CJS_ON_EXIT: pid → paths. */
const loadedBy = (output) => new Map([...output.matchAll(/LOADED (\d+) (.*)/g)].map(([, pid, list]) => [Number(pid), JSON.parse(list)]));
const express = (paths) => paths.filter((path) => /[\\/]node_modules[\\/]express[\\/]/.test(path));

test('a worker process loads none of the scheduler: no HTTP stack to load on every `meshwork worker` start', async () => {
  const r = run(process.execPath, ['--import', LIST_CJS_ON_EXIT, cliPath, 'worker', '--help']);
  assert.equal((await r.exited).code, 0);
  const worker = loadedBy(r.output()).get(r.child.pid);
  assert.ok(worker.some((path) => /[\\/]node_modules[\\/]ws[\\/]/.test(path)), 'the listing works: a worker loads ws');
  assert.deepEqual(express(worker), []);
});

test('a bad option exits with code 2 and says what is wrong', async () => {
  const r = run(process.execPath, [cliPath, 'scheduler', '--port', 'many']);
  const { code } = await r.exited;
  assert.equal(code, 2);
  assert.match(r.output(), /--port/);
});

test('meshwork --version and -v print the version of the package', async () => {
  const { version } = JSON.parse(readFileSync(join(root, 'server/package.json'), 'utf8'));
  for (const flag of ['--version', '-v']) {
    const r = run(process.execPath, [binPath, flag]);
    assert.equal((await r.exited).code, 0);
    assert.equal(r.output().trim(), version);
  }
});

test('a port in use: meshwork scheduler and npm start say which port and how to choose another, in one line', async () => {
  const holder = createServer();
  await new Promise((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const { port } = holder.address();
  try {
    const s = run(process.execPath, [binPath, 'scheduler', '--port', String(port)]);
    assert.equal((await s.exited).code, 1);
    assert.equal(s.output(), `meshwork: port ${port} on 127.0.0.1 is already in use; choose another with --port P (0 picks a free port)\n`);
    const main = run(process.execPath, ['server/dist/main.js'], { env: { ...process.env, MESHWORK_PORT: String(port) } });
    assert.equal((await main.exited).code, 1);
    assert.equal(main.output(), `meshwork: port ${port} on 127.0.0.1 is already in use; choose another with MESHWORK_PORT=P npm start (0 picks a free port)\n`);
  } finally {
    holder.close();
  }
});

/** Ends a process started with `detached: true` the way Ctrl-C does: a signal to its whole group. */
function signalGroup(proc, signal) {
  try {
    process.kill(-proc.child.pid, signal);
  } catch {
    // already gone
  }
}

/** npm and npx die by the signal they forward; what they ran must have exited 0. */
const cleanExit = ({ code, signal }) => code === 0 || signal === 'SIGINT' || signal === 'SIGTERM';

test('meshwork scheduler + meshwork worker --threads 2 make a cluster a client can use', async () => {
  const scheduler = run('npx', ['meshwork', 'scheduler', '--port', '0'], { detached: true });
  let worker;
  try {
    const [, address] = await scheduler.waitFor(/scheduler at (ws:\/\/\S+)/);
    worker = run('npx', ['meshwork', 'worker', address, '--threads', '2', '--name', 'cli-worker'], { detached: true });
    const httpUrl = address.replace('ws://', 'http://');
    await eventually(async () => (await getJson(`${httpUrl}/api/state`)).workers.length === 1, { what: 'worker joined' });
    const state = await getJson(`${httpUrl}/api/state`);
    assert.equal(state.workers[0].threads, 2);
    assert.equal(state.workers[0].name, 'cli-worker');
    const client = await Client.connect(address);
    try {
      assert.deepEqual(await client.gather(client.map((x) => x * x, [1, 2, 3, 4])), [1, 4, 9, 16]);
    } finally {
      await client.close();
    }
    signalGroup(worker, 'SIGTERM');
    assert.ok(cleanExit(await worker.exited));
    await eventually(async () => (await getJson(`${httpUrl}/api/state`)).workers.length === 0, { what: 'worker left' });
  } finally {
    if (worker) signalGroup(worker, 'SIGKILL');
    signalGroup(scheduler, 'SIGINT');
    assert.ok(cleanExit(await scheduler.exited));
  }
});

test('SIGTERM and SIGINT end the scheduler and a worker with exit code 0', async () => {
  const scheduler = run(process.execPath, [cliPath, 'scheduler', '--port', '0']);
  const [, address] = await scheduler.waitFor(/scheduler at (ws:\/\/\S+)/);
  const worker = run(process.execPath, [cliPath, 'worker', address]);
  await worker.waitFor(/worker-\S+/);
  worker.child.kill('SIGINT');
  assert.deepEqual(await worker.exited, { code: 0, signal: null });
  scheduler.child.kill('SIGTERM');
  assert.deepEqual(await scheduler.exited, { code: 0, signal: null });
});

test('a worker pointed at nothing exits non-zero with a clear message', async () => {
  const w = run(process.execPath, [cliPath, 'worker', 'ws://127.0.0.1:1']);
  const { code } = await w.exited;
  assert.notEqual(code, 0);
  assert.match(w.output(), /127\.0\.0\.1:1/);
});

test('npm start runs the tree reduction, serves, and stops cleanly on Ctrl-C', async () => {
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
    signalGroup(start, 'SIGINT');
    assert.ok(cleanExit(await start.exited));
    await assert.rejects(fetch(`http://127.0.0.1:${port}/api/state`), 'the port is closed');
    assert.doesNotMatch(start.output(), /warn|error/i, 'a clean stop logs no warnings');
  } finally {
    signalGroup(start, 'SIGKILL');
  }
});

test('the embedded default exits with code 0 on SIGTERM; the process that starts it again with huge pages loads no cluster', async () => {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const env = { ...process.env, MESHWORK_PORT: String(port) };
  for (const name of ['GLIBC_TUNABLES', 'MESHWORK_HUGE_PAGES', 'MESHWORK_RELAUNCHED']) delete env[name];
  const main = run(process.execPath, ['--import', LIST_CJS_ON_EXIT, 'server/dist/main.js'], { env });
  await main.waitFor(/serving; Ctrl-C to stop/, 60_000);
  main.child.kill('SIGTERM');
  assert.deepEqual(await main.exited, { code: 0, signal: null });
  const loaded = loadedBy(main.output());
  const cluster = [...loaded].find(([pid]) => pid !== main.child.pid)?.[1];
  if (cluster) {
    // Started again (Linux with glibc): the cluster ran in the second process.
    assert.notDeepEqual(express(cluster), [], 'the listing works: the cluster loads express');
    assert.deepEqual(express(loaded.get(main.child.pid)), [], 'the first process only waited');
  }
});

test('meshwork scheduler --max-connections N holds at most N connections; a bad N exits with code 2', async () => {
  const bad = run(process.execPath, [cliPath, 'scheduler', '--port', '0', '--max-connections', '0']);
  assert.equal((await bad.exited).code, 2);
  assert.match(bad.output(), /--max-connections/);
  const scheduler = run(process.execPath, [cliPath, 'scheduler', '--port', '0', '--max-connections', '4'], { detached: true });
  const sockets = [];
  try {
    const [, address] = await scheduler.waitFor(/scheduler at (ws:\/\/\S+)/);
    const { port } = new URL(address);
    const states = await openConnections(port, 10, sockets);
    assert.equal(states.filter((s) => s === 'open').length, 4, 'the rest were dropped at once');
  } finally {
    for (const s of sockets) s.destroy();
    signalGroup(scheduler, 'SIGKILL');
    await scheduler.exited;
  }
});
