// meshwork's side of bench/compare: the driver that bench/compare/run.mjs talks to, the twin of
// dask_side.py. Prints {"ready": true, "versions": {...}} once its LocalCluster (2 worker
// processes × 1 thread) is up, then answers each stdin line "<workload> <run>" with
// {"value": <figure>}, and ends on "quit".
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import { coldStartSample, samples } from '../lib/workloads.mjs';

const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const pkg = JSON.parse(readFileSync(new URL('../../server/package.json', import.meta.url), 'utf8'));

const cluster = await LocalCluster.start({ workers: 2, threadsPerWorker: 1 });
const client = await Client.connect(cluster.address, { name: 'bench-compare' });
say({ ready: true, versions: { node: process.versions.node, meshwork: pkg.version } });
try {
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === 'quit') break;
    const [name, r] = line.split(' ');
    try {
      const value = name === 'cold-start' ? await coldStartSample() : await samples[name](client, Number(r));
      say({ value });
    } catch (e) {
      say({ error: String(e?.stack ?? e) });
    }
  }
} finally {
  await client.close();
  await cluster.close();
}
