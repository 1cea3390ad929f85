// verify: k against one attacker who holds only the worker token: raw worker connections (the
// attacker) beside real worker processes (honest volunteers), a real scheduler. A result passes
// only through k distinct workers that agree, whatever the attacker sends or declares of itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import { encodeFrame, encodeValue, valueHash } from '@meshwork/protocol';
import { cliPath, eventually, getJson, onTasks, rawWorker, workerNamed } from './helpers.mjs';

const fromAddress = fileURLToPath(new URL('./fixtures/local-address.mjs', import.meta.url));
const square = (x) => x * x;
const WRONG = encodeValue(-1).bytes;
const WRONG_HASH = await valueHash(WRONG);

/** The attacker's "result" for `key`: -1, with the right hash of those bytes. */
const lie = (key) => ({
  type: 'task-finished',
  key,
  nbytes: WRONG.byteLength,
  hash: WRONG_HASH,
  value: WRONG,
  startedAt: 0,
  stoppedAt: 1,
  thread: 0,
});

test('pause, dep-missing and task-finished in one frame do not pass a lie off as a verified result', async () => {
  const cluster = await LocalCluster.start({ workers: 0 });
  const client = await Client.connect(cluster.address);
  const liar = await rawWorker(cluster.address, { name: 'liar', memoryLimit: 1000 });
  try {
    const f = client.with({ verify: 2, pure: false }).submit(square, 12);
    const task = await eventually(() => liar.inbox.find((m) => m.type === 'compute-task'), {
      what: 'the verified task on the liar',
    });
    // Paused (over its memory limit), it cannot be sent the task again; it gives the task back and "finishes" it.
    liar.ws.send(
      encodeFrame([
        { type: 'heartbeat', memoryUsed: 2000 },
        { type: 'dep-missing', key: task.key, dep: task.key },
        lie(task.key),
      ]),
    );
    await eventually(async () => (await workerNamed(cluster, 'liar')).paused, { what: 'the frame handled' });
    assert.equal((await workerNamed(cluster, 'liar')).suspicions, 1, 'a result for a task it gave back is forged');
    await cluster.addWorker();
    await cluster.addWorker();
    assert.equal(await f.result(), 144, 'two honest workers decide it');
  } finally {
    liar.ws.close();
    await client.close();
    await cluster.close();
  }
});

test("one worker's task-erred does not fail a verified task: it runs elsewhere", async () => {
  const cluster = await LocalCluster.start({ workers: 2 });
  const client = await Client.connect(cluster.address);
  const failer = await rawWorker(cluster.address, { name: 'failer' });
  const error = { code: 'REMOTE_ERROR', name: 'Error', message: 'made up' };
  const got = onTasks(failer, (m) => ({
    type: 'task-erred',
    key: m.key,
    error,
    startedAt: 0,
    stoppedAt: 1,
    thread: 0,
  }));
  try {
    const xs = Array.from({ length: 10 }, (_, i) => i);
    assert.deepEqual(await client.gather(client.with({ verify: 2, pure: false }).map(square, xs)), xs.map(square));
    assert.ok(got.length >= 1, `the failing worker took ${got.length} replicas`);
  } finally {
    failer.ws.close();
    await client.close();
    await cluster.close();
  }
});

test("two attacker connections declaring kind 'browser' and 8 threads take no verified result; honest workers are not excluded", async () => {
  const cluster = await LocalCluster.start({ workers: 0 });
  // Honest volunteers, each seen at an address of its own; the attacker's two connections share one.
  const honest = ['127.0.0.3', '127.0.0.4'].map((addr, i) =>
    spawn(
      process.execPath,
      ['--import', fromAddress, cliPath, 'worker', cluster.address, '--threads', '1', '--name', `honest-${i}`],
      {
        env: { ...process.env, MESHWORK_TEST_LOCAL_ADDRESS: addr },
        stdio: 'ignore',
      },
    ),
  );
  const sybils = [];
  const client = await Client.connect(cluster.address);
  try {
    for (const name of ['sybil-a', 'sybil-b'])
      sybils.push(
        await rawWorker(cluster.address, { name, kind: 'browser', threads: 8 }, { localAddress: '127.0.0.2' }),
      );
    const got = sybils.map((s) => onTasks(s, (m) => lie(m.key)));
    await eventually(async () => (await getJson(`${cluster.httpUrl}/api/state`)).workers.length === 4, {
      what: '4 workers',
      timeoutMs: 30_000,
    });
    const seenAt = Object.fromEntries([...cluster.scheduler.state.workers.values()].map((w) => [w.name, w.address]));
    assert.deepEqual(seenAt, {
      'honest-0': '127.0.0.3',
      'honest-1': '127.0.0.4',
      'sybil-a': '127.0.0.2',
      'sybil-b': '127.0.0.2',
    });
    const xs = Array.from({ length: 20 }, (_, i) => i + 2);
    assert.deepEqual(
      await client.gather(client.with({ verify: 2, pure: false }).map(square, xs)),
      xs.map(square),
      'no wrong result accepted',
    );
    assert.ok(got[0].length + got[1].length > 0, 'the attacker took part');
    for (const name of ['honest-0', 'honest-1']) {
      const w = await workerNamed(cluster, name);
      assert.equal(w.excluded, false, `${name} is not excluded`);
      assert.equal(w.suspicions, 0, `${name} was never outvoted`);
    }
  } finally {
    for (const s of sybils) s.ws.close();
    for (const p of honest) p.kill();
    await client.close();
    await cluster.close();
  }
});
