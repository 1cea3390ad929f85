// The examples on a real cluster (a scheduler and two worker processes): their task functions
// travel as source, so this is where a function that is not self-contained would fail.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import { DEFAULT_VIEW, monteCarloPi, paintTile, renderHere, submitTiles, treeReduction } from '@meshwork/examples';
import { run } from './helpers.mjs';

let cluster;
let client;
before(async () => {
  cluster = await LocalCluster.start({ workers: 2, threadsPerWorker: 1 });
  client = await Client.connect(cluster.address, { name: 'examples-test' });
});
after(async () => {
  await client?.close();
  await cluster?.close();
});

test('Mandelbrot tiles computed on workers make the same pixels as a render in this process', async () => {
  const view = { ...DEFAULT_VIEW, width: 320, height: 200, pixelSize: 3 / 320, tileSize: 64 };
  const tiles = submitTiles(client, view);
  assert.equal(tiles.length, 5 * 4);
  const rgba = new Uint8ClampedArray(view.width * view.height * 4);
  const counts = await client.gather(tiles.map((t) => t.future));
  counts.forEach((c, i) => paintTile(rgba, view.width, tiles[i].tile, c, view.maxIterations));
  assert.deepEqual(rgba, renderHere(view));
  const holders = await client.whoHas(tiles.map((t) => t.future));
  assert.equal(Object.keys(holders).length, tiles.length);
});

test('Monte Carlo π: map, then a task whose argument is the list of futures; progress reaches the total', async () => {
  const steps = [];
  const r = await monteCarloPi(client, { tasks: 8, samplesPerTask: 200_000, onProgress: (p) => steps.push(p) });
  assert.equal(r.samples, 1_600_000);
  assert.ok(Math.abs(r.pi - Math.PI) < 0.01, `π ≈ ${r.pi}`);
  assert.deepEqual(steps.at(-1), { done: 9, total: 9, erred: 0 });
  const again = await monteCarloPi(client, { tasks: 8, samplesPerTask: 200_000 });
  assert.equal(again.inside, r.inside, 'seeded: the same points, the same count');
});

test('tree reduction: the sum of the reduced array equals the sum of the inputs', async () => {
  const steps = [];
  const r = await treeReduction(client, 8, 10_000, { onProgress: (p) => steps.push(p) });
  assert.equal(r.length, 10_000);
  assert.ok(Math.abs(r.sum - r.inputsSum) < 1e-9 * r.inputsSum);
  assert.deepEqual(steps.at(-1), { done: 8 + 8 + 7, total: 8 + 8 + 7, erred: 0 });
  const onCluster = await treeReduction(client, 8, 10_000, { sumOnCluster: true });
  assert.equal(onCluster.length, 10_000);
  assert.ok(Math.abs(onCluster.sum - onCluster.inputsSum) < 1e-9 * onCluster.inputsSum);
});

test('npm run example -- mandelbrot checks its image against a render in the process', async () => {
  const r = run('npm', ['run', '-s', 'example', '--', 'mandelbrot']);
  const { code } = await r.exited;
  assert.equal(code, 0, r.output());
  assert.match(r.output(), /same pixels as a render in this process: yes/);
  assert.ok(!r.output().includes('\u001b['), 'no progress bar (no escape codes) when stderr is not a terminal');
});
