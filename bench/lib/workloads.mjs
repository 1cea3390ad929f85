// The workloads of `npm run bench`, one sample each, shared by bench/run.mjs and
// bench/compare/meshwork_side.mjs (which runs them beside dask.distributed's equivalents in
// bench/compare/dask_side.py). Each sample returns its figure in the workload's unit.
import { LocalCluster, treeReduction } from '@meshwork/server';
import { Client } from '@meshwork/client';

const now = () => performance.now();
/** A move timed at less than this (noise: the remote task no slower than the local one) counts as this, in ms. */
const MIN_MOVE_MS = 1;

/** Tasks per workload, shared with the Python side through bench/compare/run.mjs. */
export const SIZES = {
  submitLoop: 10_000,
  map: 10_000,
  chain: 2_000,
  roundTrips: 200,
  treeArrays: 16,
  treeLength: 1_000_000,
  transferBytes: 100e6,
};

export const UNITS = {
  'submit-loop': 'tasks/s',
  map: 'tasks/s',
  chain: 'µs/task',
  'round-trip': 'µs',
  'tree-reduction': 's',
  transfer: 'MB/s',
  'local-input': 'ms',
  'cold-start': 's',
};

/** Higher is better for these units; lower for the others. */
export const HIGHER_IS_BETTER = {
  'submit-loop': true,
  map: true,
  chain: false,
  'round-trip': false,
  'tree-reduction': false,
  transfer: true,
  'local-input': false,
  'cold-start': false,
};

const make = (n) => new Float64Array(n).fill(1.5);
const length = (x) => x.length;

/** Milliseconds from submit to result of `length` pinned to `worker`, on the value of `a`. */
async function timeLength(client, worker, a) {
  const t = now();
  const b = client.with({ workers: [worker], pure: false }).submit(length, a);
  const n = await b.result();
  const ms = now() - t;
  b.release();
  if (n !== SIZES.transferBytes / 8) throw new Error(`length gave ${n}`);
  return ms;
}

/** A 100 MB Float64Array made on local-0 and left there. */
async function madeOnFirst(client) {
  const a = client.with({ workers: ['local-0'], pure: false }).submit(make, SIZES.transferBytes / 8);
  await new Promise((resolve) => a.onDone(resolve));
  return a;
}

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
  /** Median µs from one submit to its result, one task at a time (nothing else in flight). */
  async 'round-trip'(client, r) {
    const inc = (x) => x + 1;
    const times = [];
    for (let i = 0; i < SIZES.roundTrips; i++) {
      const t = now();
      const f = client.submit(inc, i + r * 1e6);
      const v = await f.result();
      times.push(now() - t);
      f.release();
      if (v !== i + r * 1e6 + 1) throw new Error(`round trip gave ${v}`);
    }
    times.sort((a, b) => a - b);
    return times[times.length >> 1] * 1000;
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
  /**
   * MB/s of moving 100 MB worker→worker: the time of a task on local-1 whose input sits on local-0,
   * less the time of the same task on local-0 (the input local), both in this sample, so what is
   * left is the move alone.
   */
  async transfer(client) {
    const a = await madeOnFirst(client);
    const local = await timeLength(client, 'local-0', a);
    const remote = await timeLength(client, 'local-1', a);
    a.release();
    return SIZES.transferBytes / 1e6 / (Math.max(remote - local, MIN_MOVE_MS) / 1000);
  },
  /** Milliseconds of a task on local-0 taking the 100 MB Float64Array made there and returning its length. */
  async 'local-input'(client) {
    const a = await madeOnFirst(client);
    const ms = await timeLength(client, 'local-0', a);
    a.release();
    return ms;
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
