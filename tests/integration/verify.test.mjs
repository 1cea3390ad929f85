// verify: k against a dishonest worker: a real worker process, preloaded with a patch that makes
// every task it runs return a wrong number. With verify: 2 every final result is right, the bad
// worker is outvoted, suspected and excluded (visible in /api/state); with verify: 1 it would have
// poisoned some results. The cost of verification is reported as a ratio (not asserted).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import { cliPath, eventually, getJson } from './helpers.mjs';

const patch = fileURLToPath(new URL('./fixtures/wrong-results.mjs', import.meta.url));
const TASKS = 60;

let cluster;
let client;
let evil;

before(async () => {
  cluster = await LocalCluster.start({ workers: 2 });
  evil = spawn(
    process.execPath,
    ['--import', patch, cliPath, 'worker', cluster.address, '--threads', '1', '--name', 'evil'],
    { stdio: 'ignore' },
  );
  client = await Client.connect(cluster.address);
  await eventually(async () => (await getJson(`${cluster.httpUrl}/api/state`)).workers.length === 3, {
    what: '3 workers',
    timeoutMs: 30_000,
  });
});
after(async () => {
  await client?.close();
  evil?.kill();
  await cluster?.close();
});

const square = (x) => x * x;
const expected = Array.from({ length: TASKS }, (_, i) => i * i);

test('the patched worker really lies: without verification its results are wrong', async () => {
  const r = await client
    .with({ workers: ['evil'], allowOtherWorkers: false, pure: false })
    .submit(square, 7)
    .result();
  assert.equal(r, 50);
});

test('verify: 2 — every result right, the liar outvoted, suspected and excluded; the cost against verify: 1', async () => {
  const t0 = performance.now();
  const plain = await client.gather(
    client.with({ pure: false }).map(
      square,
      Array.from({ length: TASKS }, (_, i) => i + 1000),
    ),
  );
  const plainMs = performance.now() - t0;
  assert.equal(plain.length, TASKS);

  const t1 = performance.now();
  const verified = await client.gather(
    client.with({ verify: 2, pure: false }).map(
      square,
      Array.from({ length: TASKS }, (_, i) => i),
    ),
  );
  const verifiedMs = performance.now() - t1;
  assert.deepEqual(verified, expected, 'every verified result is right');

  const state = await getJson(`${cluster.httpUrl}/api/state`);
  const bad = state.workers.find((w) => w.name === 'evil');
  assert.ok(bad.suspicions >= 2, `the liar was outvoted ${bad.suspicions} times`);
  assert.equal(bad.excluded, true, 'and is excluded');
  for (const w of state.workers.filter((x) => x.name !== 'evil')) assert.equal(w.excluded, false);
  // Excluded, it runs nothing more, verified or not.
  const doneBefore = bad.tasks.done;
  assert.deepEqual(await client.gather(client.with({ pure: false }).map(square, [2, 3, 4, 5])), [4, 9, 16, 25]);
  assert.equal(
    (await getJson(`${cluster.httpUrl}/api/state`)).workers.find((w) => w.name === 'evil').tasks.done,
    doneBefore,
  );
  console.log(
    JSON.stringify({
      verifyCost: {
        tasks: TASKS,
        verify1Ms: Math.round(plainMs),
        verify2Ms: Math.round(verifiedMs),
        ratio: Math.round((verifiedMs / plainMs) * 100) / 100,
      },
    }),
  );
});
