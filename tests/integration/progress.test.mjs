// client.progress against a real cluster: a scheduler and two worker processes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';

/** How long the whole progress of a test may take, in milliseconds (2 loaded cores). */
const PROGRESS_TIMEOUT_MS = 60_000;

let cluster;
let client;
before(async () => {
  cluster = await LocalCluster.start({ workers: 2, threadsPerWorker: 1 });
  client = await Client.connect(cluster.address, { name: 'progress-test' });
});
after(async () => {
  await client?.close();
  await cluster?.close();
});

test('progress of a map counts up to the total, each step a change, the last with every future settled', async () => {
  const square = async (x) => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return x * x;
  };
  const items = Array.from({ length: 40 }, (_, i) => i);
  const fs = client.map(square, items);
  const steps = [];
  for await (const step of client.progress(fs, { timeoutMs: PROGRESS_TIMEOUT_MS })) steps.push(step);
  assert.ok(steps.length >= 2, `a first step and at least one more, got ${JSON.stringify(steps)}`);
  assert.deepEqual(steps.at(-1), { done: 40, total: 40, erred: 0 });
  for (let i = 1; i < steps.length; i++) assert.ok(steps[i].done > steps[i - 1].done, `step ${i} is a change`);
  assert.ok(fs.every((f) => f.status === 'finished'));
  assert.deepEqual(
    await client.gather(fs),
    items.map((x) => x * x),
  );
});

test('progress counts tasks that failed and tasks whose input failed as erred', async () => {
  const parse = (s) => {
    const n = Number(s);
    if (Number.isNaN(n)) throw new TypeError(`not a number: ${s}`);
    return n;
  };
  const double = (n) => 2 * n;
  const parsed = client.map(parse, ['1', 'two', '3']);
  const doubled = client.map(double, parsed);
  const last = await client.progress([...parsed, ...doubled], { timeoutMs: PROGRESS_TIMEOUT_MS }).forEach(() => {});
  assert.deepEqual(last, { done: 6, total: 6, erred: 2 });
  assert.deepEqual(
    doubled.map((f) => f.status),
    ['finished', 'error', 'finished'],
  );
});
