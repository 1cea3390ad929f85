// `npm run bench [-- name…]`: the benchmarks, one JSON line each, medians of several runs.
// Each run uses a real LocalCluster (2 worker processes × 1 thread) on loopback.
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import { treeReduction } from '@meshwork/server';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const only = process.argv.slice(2);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x) => Math.round(x * 1000) / 1000;
const now = () => performance.now();

function report(bench, unit, values, extra = {}) {
  console.log(JSON.stringify({ bench, unit, median: round(median(values)), runs: values.map(round), n: values.length, ...extra }));
}

const benches = {
  async 'submit-loop'(client) {
    const inc = (x) => x + 1;
    const values = [];
    for (let r = 0; r <= RUNS; r++) {
      const t = now();
      const fs = [];
      for (let i = 0; i < 10_000; i++) fs.push(client.submit(inc, i + r * 10_000));
      await client.gather(fs);
      const dt = (now() - t) / 1000;
      fs.forEach((f) => f.release());
      if (r > 0) values.push(10_000 / dt); // run 0 warms up
    }
    report('submit-loop', 'tasks/s', values, { tasks: 10_000 });
  },
  async map(client) {
    const inc = (x) => x + 1;
    const values = [];
    for (let r = 0; r <= RUNS; r++) {
      const t = now();
      const fs = client.map(inc, Array.from({ length: 10_000 }, (_, i) => i + r * 1e6));
      await client.gather(fs);
      const dt = (now() - t) / 1000;
      fs.forEach((f) => f.release());
      if (r > 0) values.push(10_000 / dt);
    }
    report('map', 'tasks/s', values, { tasks: 10_000 });
  },
  async chain(client) {
    const inc = (x) => x + 1;
    const values = [];
    for (let r = 0; r <= RUNS; r++) {
      const t = now();
      const fs = [client.with({ pure: false }).submit(inc, 0)];
      for (let i = 1; i < 2000; i++) fs.push(client.submit(inc, fs[i - 1]));
      const v = await fs[1999].result();
      if (v !== 2000) throw new Error(`chain gave ${v}`);
      const dt = now() - t;
      fs.forEach((f) => f.release());
      if (r > 0) values.push((dt * 1000) / 2000);
    }
    report('chain', 'µs/task', values, { tasks: 2000 });
  },
  async 'tree-reduction'(client) {
    const values = [];
    for (let r = 0; r <= RUNS; r++) {
      const res = await treeReduction(client);
      if (Math.abs(res.sum - res.inputsSum) > 1e-6 * res.inputsSum) throw new Error('tree reduction gave a wrong sum');
      if (r > 0) values.push(res.seconds);
    }
    report('tree-reduction', 's', values, { arrays: 16, length: 1_000_000 });
  },
  async transfer(client) {
    const make = (n) => new Float64Array(n).fill(1.5);
    const values = [];
    const bytes = 100e6;
    for (let r = 0; r <= RUNS; r++) {
      const a = client.with({ workers: ['local-0'], pure: false }).submit(make, bytes / 8);
      await new Promise((resolve) => a.onDone(resolve)); // made on local-0, not moved
      const t = now();
      const b = client.with({ workers: ['local-1'], pure: false }).submit((x) => x.length, a);
      const n = await b.result();
      if (n !== bytes / 8) throw new Error(`transfer gave ${n}`);
      const dt = (now() - t) / 1000;
      a.release();
      b.release();
      if (r > 0) values.push(bytes / 1e6 / dt);
    }
    report('transfer', 'MB/s', values, { bytes, note: 'submit to result of a task on local-1 whose 100 MB input sits on local-0' });
  },
};

async function coldStart() {
  const values = [];
  for (let r = 0; r <= RUNS; r++) {
    const t = now();
    const cluster = await LocalCluster.start({ workers: 2, threadsPerWorker: 1 });
    const client = await Client.connect(cluster.address);
    await client.submit((x) => x + 1, 1).result();
    const dt = (now() - t) / 1000;
    await client.close();
    await cluster.close();
    if (r > 0) values.push(dt);
  }
  report('cold-start', 's', values, { workers: 2 });
}

const selected = (name) => only.length === 0 || only.includes(name);
const cluster = await LocalCluster.start({ workers: 2, threadsPerWorker: 1 });
const client = await Client.connect(cluster.address, { name: 'bench' });
try {
  for (const [name, bench] of Object.entries(benches)) if (selected(name)) await bench(client);
} finally {
  await client.close();
  await cluster.close();
}
if (selected('cold-start')) await coldStart();
