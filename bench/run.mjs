// `npm run bench [-- name…]`: the benchmarks, one JSON line each, medians of several runs.
// Each run uses a real LocalCluster (2 worker processes × 1 thread) on loopback; the workloads
// themselves are in bench/lib/workloads.mjs (shared with bench/compare). Last, `peers`: the peer
// transfers Node↔Node, Node↔tab, tab↔tab beside the raw channel, and the tree reduction on 2 tabs
// + 1 Node worker (bench/peer-transfer.mjs, in Debian's Chromium; skipped with a line saying so
// when /usr/bin/chromium is missing).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '@meshwork/server';
import { CHROMIUM_PATH } from '../scripts/chromium.mjs';
import { Client } from '@meshwork/client';
import { SIZES, UNITS, coldStartSample, samples } from './lib/workloads.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
/** Debian's Chromium, which the peer benchmarks drive. */
const CHROMIUM = CHROMIUM_PATH;
const only = process.argv.slice(2);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x) => Math.round(x * 1000) / 1000;

function report(bench, values, extra = {}) {
  console.log(
    JSON.stringify({
      bench,
      unit: UNITS[bench],
      median: round(median(values)),
      runs: values.map(round),
      n: values.length,
      ...extra,
    }),
  );
}

const extras = {
  'submit-loop': { tasks: SIZES.submitLoop },
  map: { tasks: SIZES.map },
  'round-trip': { tasks: SIZES.roundTrips, note: 'median of single tasks, one at a time, submit to result' },
  chain: { tasks: SIZES.chain },
  'tree-reduction': { arrays: SIZES.treeArrays, length: SIZES.treeLength },
  transfer: {
    bytes: SIZES.transferBytes,
    note: 'the time of a task on local-1 whose 100 MB input sits on local-0, less the same task on local-0',
  },
  'local-input': {
    bytes: SIZES.transferBytes,
    note: 'submit to result of a task on local-0 whose 100 MB Float64Array input was made there',
  },
  'cold-start': { workers: 2 },
};

/** Run 0 warms up and is not counted. */
async function repeat(sample) {
  const values = [];
  for (let r = 0; r <= RUNS; r++) {
    const v = await sample(r);
    if (r > 0) values.push(v);
  }
  return values;
}

const selected = (name) => only.length === 0 || only.includes(name);
const cluster = await LocalCluster.start({ workers: 2, threadsPerWorker: 1 });
const client = await Client.connect(cluster.address, { name: 'bench' });
try {
  for (const [name, sample] of Object.entries(samples))
    if (selected(name)) report(name, await repeat((r) => sample(client, r)), extras[name]);
} finally {
  await client.close();
  await cluster.close();
}
if (selected('cold-start')) report('cold-start', await repeat(coldStartSample), extras['cold-start']);
if (selected('peers')) {
  if (!existsSync(CHROMIUM)) console.log(JSON.stringify({ bench: 'peers', skipped: `no Chromium at ${CHROMIUM}` }));
  else {
    const script = fileURLToPath(new URL('./peer-transfer.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [script], { stdio: 'inherit' });
    if (r.status !== 0) process.exitCode = r.status ?? 1;
  }
}
