// The six workloads of `npm run bench`, one sample each, shared by bench/run.mjs and
// bench/compare/meshwork.mjs (which runs them beside dask.distributed's equivalents in
// bench/compare/dask_side.py). Each sample returns its figure in the workload's unit.
import { LocalCluster, treeReduction } from '@meshwork/server';
import { Client } from '@meshwork/client';

const now = () => performance.now();

/** Tasks per workload, shared with the Python side through bench/compare/run.mjs. */
export const SIZES = {
  submitLoop: 10_000,
  map: 10_000,
  chain: 2_000,
  treeArrays: 16,
  treeLength: 1_000_000,
  transferBytes: 100e6,
};

export const UNITS = {
  'submit-loop': 'tasks/s',
  map: 'tasks/s',
  chain: 'µs/task',
  'tree-reduction': 's',
  transfer: 'MB/s',
  'cold-start': 's',
};

/** Higher is better for these units; lower for the others. */
export const HIGHER_IS_BETTER = {
  'submit-loop': true,
  map: true,
  chain: false,
  'tree-reduction': false,
  transfer: true,
  'cold-start': false,
};

/** One sample of each workload that runs on an existing client; `r` makes each run's keys fresh. */
export const samples = {
  async 'submit-loop'(client, r) {
    const n = SIZES.submitLoop;
    const inc = (x) => x + 1;
    const t = now();
    const fs = [];
    for (let i = 0; i < n; i++) fs.push(client.submit(inc, i + r * n));
    await client.gather(fs);
    const dt = (now() - t) / 1000;
    fs.forEach((f) => f.release());
    return n / dt;
  },
  async map(client, r) {
    const n = SIZES.map;
    const inc = (x) => x + 1;
    const t = now();
    const fs = client.map(
      inc,
      Array.from({ length: n }, (_, i) => i + r * 1e6),
    );
    await client.gather(fs);
    const dt = (now() - t) / 1000;
    fs.forEach((f) => f.release());
    return n / dt;
  },
  async chain(client) {
    const n = SIZES.chain;
    const inc = (x) => x + 1;
    const t = now();
    const fs = [client.with({ pure: false }).submit(inc, 0)];
    for (let i = 1; i < n; i++) fs.push(client.submit(inc, fs[i - 1]));
    const v = await fs[n - 1].result();
    if (v !== n) throw new Error(`chain gave ${v}`);
    const dt = now() - t;
    fs.forEach((f) => f.release());
    return (dt * 1000) / n;
  },
  async 'tree-reduction'(client) {
    const res = await treeReduction(client, SIZES.treeArrays, SIZES.treeLength);
    if (Math.abs(res.sum - res.inputsSum) > 1e-6 * res.inputsSum) throw new Error('tree reduction gave a wrong sum');
    return res.seconds;
  },
  async transfer(client) {
    const bytes = SIZES.transferBytes;
    const make = (n) => new Float64Array(n).fill(1.5);
    const a = client.with({ workers: ['local-0'], pure: false }).submit(make, bytes / 8);
    await new Promise((resolve) => a.onDone(resolve)); // made on local-0, not moved
    const t = now();
    const b = client.with({ workers: ['local-1'], pure: false }).submit((x) => x.length, a);
    const n = await b.result();
    if (n !== bytes / 8) throw new Error(`transfer gave ${n}`);
    const dt = (now() - t) / 1000;
    a.release();
    b.release();
    return bytes / 1e6 / dt;
  },
};

/** Seconds from nothing to the first result: a fresh 2-worker LocalCluster, a client, one task. */
export async function coldStartSample() {
  const t = now();
  const cluster = await LocalCluster.start({ workers: 2, threadsPerWorker: 1 });
  const client = await Client.connect(cluster.address);
  await client.submit((x) => x + 1, 1).result();
  const dt = (now() - t) / 1000;
  await client.close();
  await cluster.close();
  return dt;
}
