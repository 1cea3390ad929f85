/**
 * `npm run example -- <tree|montecarlo|mandelbrot> [ws://scheduler]`: runs one example of
 * @meshwork/examples from Node, with a progress bar on stderr (when it is a terminal), and prints
 * its result with a check. Without an address it starts a LocalCluster of 2 Node workers for the run.
 */
import { Client, type ProgressState } from '@meshwork/client';
import { DEFAULT_VIEW, monteCarloPi, renderHere, submitTiles, paintTile, treeReduction } from '@meshwork/examples';
import { LocalCluster } from './local-cluster.js';
import { progressBar } from './progress-bar.js';

type Example = (client: Client, onProgress: (p: ProgressState) => void) => Promise<{ line: string; ok: boolean }>;

const examples: Record<string, Example> = {
  async tree(client, onProgress) {
    const r = await treeReduction(client, undefined, undefined, { onProgress });
    const ok = Math.abs(r.sum - r.inputsSum) < 1e-6 * r.inputsSum;
    return {
      ok,
      line: `tree reduction: sum ${r.sum.toFixed(3)}, inputs ${r.inputsSum.toFixed(3)} in ${r.seconds.toFixed(2)} s`,
    };
  },
  async montecarlo(client, onProgress) {
    const r = await monteCarloPi(client, { onProgress });
    const ok = Math.abs(r.pi - Math.PI) < 0.01;
    return {
      ok,
      line: `Monte Carlo π ≈ ${r.pi.toFixed(6)} from ${r.samples.toLocaleString('en')} points in ${r.seconds.toFixed(2)} s`,
    };
  },
  async mandelbrot(client, onProgress) {
    const view = DEFAULT_VIEW;
    const started = Date.now();
    const tiles = submitTiles(client, view);
    const futures = tiles.map((t) => t.future);
    const progress = client.progress(futures).forEach(onProgress);
    const rgba = new Uint8ClampedArray(view.width * view.height * 4);
    for (const [i, counts] of (await client.gather(futures)).entries())
      paintTile(rgba, view.width, (tiles[i] as (typeof tiles)[number]).tile, counts, view.maxIterations);
    await progress;
    const seconds = (Date.now() - started) / 1000;
    const reference = renderHere(view);
    const ok = rgba.every((v, i) => v === reference[i]);
    return {
      ok,
      line: `Mandelbrot ${view.width}×${view.height} in ${tiles.length} tiles in ${seconds.toFixed(2)} s (same pixels as a render in this process: ${ok ? 'yes' : 'NO'})`,
    };
  },
};

const [name = '', address] = process.argv.slice(2);
const example = examples[name];
if (!example) {
  process.stderr.write(`usage: npm run example -- <${Object.keys(examples).join('|')}> [ws://scheduler:port]\n`);
  process.exit(2);
}
const cluster = address === undefined ? await LocalCluster.start({ workers: 2, threadsPerWorker: 1 }) : undefined;
const client = await Client.connect(address ?? (cluster as LocalCluster).address, { name: `example-${name}` });
const bar = progressBar(name);
try {
  const { line, ok } = await example(client, bar.update).finally(bar.stop);
  process.stdout.write(`${line}${ok ? '' : ' — CHECK FAILED'}\n`);
  if (!ok) process.exitCode = 1;
} finally {
  await client.close();
  await cluster?.close();
}
