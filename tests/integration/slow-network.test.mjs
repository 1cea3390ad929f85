// Volunteers far away: Node workers and a client behind 80 ms of round trip with some loss
// (tests/support/slow-network.mjs emulates it on loopback). Every connection to the scheduler
// goes through one delaying proxy, and each worker's TCP data link through one of its own (the
// worker announces it with --advertise). A map and a tree reduction whose values move between
// workers give the right answer, and the proxies show the traffic went through them, slowed.
// The same work on a quiet cluster (no proxy) first gives the figure to compare with: logged,
// never asserted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import { delayingTcpProxy } from '../support/slow-network.mjs';
import { startVolunteer } from '../support/volunteer.mjs';
import { eventually, getJson } from './helpers.mjs';

/** One-way delay of every path, in milliseconds: 80 ms of round trip. */
const DELAY_MS = 40;
/** Chance that a chunk is lost (and resent RETRANSMIT_TIMEOUT_MS later, as TCP does). */
const LOSS_RATE = 0.01;
const WORKERS = 3;
/** Leaves of the reduction, and float64 elements of each (800 kB: many chunks per transfer). */
const LEAVES = 12;
const LEAF_LENGTH = 100_000;

const make = (n, seed) => {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * seed) % 101;
  return out;
};
const add = (a, b) => {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
};
const total = (xs) => {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s;
};

const seeds = Array.from({ length: LEAVES }, (_, i) => i + 2);
const leafTotals = seeds.map((s) => total(make(LEAF_LENGTH, s)));

/** The map (leaf totals gathered) and the tree reduction (pairwise sums, then the total); ms taken. */
async function work(client) {
  const t0 = performance.now();
  const leaves = client.map(
    make,
    seeds.map(() => LEAF_LENGTH),
    seeds,
  );
  const totals = client.gather(client.map(total, leaves));
  let layer = leaves;
  while (layer.length > 1) {
    const next = [];
    for (let i = 0; i < layer.length; i += 2)
      next.push(i + 1 < layer.length ? client.submit(add, layer[i], layer[i + 1]) : layer[i]);
    layer = next;
  }
  const [mapped, reduced] = await Promise.all([totals, client.submit(total, layer[0]).result()]);
  const ms = performance.now() - t0;
  assert.deepEqual(mapped, leafTotals);
  assert.equal(
    reduced,
    leafTotals.reduce((a, b) => a + b, 0),
  );
  return ms;
}

const TCP_BYTES = 'meshwork_peer_bytes_total\\{path="tcp"\\}';
const sample = (metrics, name) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1] ?? NaN);

/** A scheduler, WORKERS volunteers and a client; with `delay`, every path through a delaying proxy. */
async function runOn(delay) {
  const cluster = await LocalCluster.start({ workers: 0 });
  const target = () => ({ host: '127.0.0.1', port: cluster.scheduler.port });
  const front = delay === undefined ? undefined : await delayingTcpProxy({ ...delay, target });
  const address = front === undefined ? cluster.address : `ws://127.0.0.1:${front.port}`;
  const volunteers = [];
  let client;
  try {
    const started = await Promise.allSettled(
      Array.from({ length: WORKERS }, (_, i) => {
        const d = delay === undefined ? undefined : { ...delay, seed: delay.seed + 100 * (i + 1) };
        return startVolunteer({ scheduler: address, name: `volunteer-${i}`, delay: d });
      }),
    );
    for (const s of started) if (s.status === 'fulfilled') volunteers.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    await cluster.waitForWorkers(WORKERS);
    client = await Client.connect(address, { name: 'slow-network' });
    const ms = await work(client);
    // Workers report what they received from peers on their heartbeats.
    const metrics = await eventually(
      async () => {
        const text = await (await fetch(`${cluster.httpUrl}/metrics`)).text();
        return sample(text, TCP_BYTES) >= 2 * LEAF_LENGTH * 8 && text;
      },
      { what: 'bytes received over TCP in /metrics' },
    );
    const state = await getJson(`${cluster.httpUrl}/api/state`);
    return { ms, metrics, state, front: front?.stats, data: volunteers.map((v) => v.dataProxy?.stats) };
  } finally {
    await client?.close();
    await Promise.all(volunteers.map((v) => v.close()));
    await cluster.close();
    await front?.close();
  }
}

test('a map and a tree reduction on Node workers behind 80 ms of round trip and loss', async () => {
  const quiet = await runOn(undefined);
  const slow = await runOn({ delayMs: DELAY_MS, lossRate: LOSS_RATE, seed: 7 });
  const lost = [slow.front, ...slow.data].reduce((n, s) => n + s.lost, 0);
  console.log(
    `# slow network: ${LEAVES} leaves of ${LEAF_LENGTH * 8} B, map + tree reduction on ${WORKERS} Node workers: ` +
      `${quiet.ms.toFixed(0)} ms quiet, ${slow.ms.toFixed(0)} ms at ${2 * DELAY_MS} ms round trip and ${LOSS_RATE * 100}% loss ` +
      `(${lost} chunks held back a retransmission timeout)`,
  );

  // The control links (workers and client to the scheduler) went through the delay.
  assert.ok(
    slow.front.connections >= WORKERS + 1,
    `every worker and the client came through the proxy: ${slow.front.connections}`,
  );
  assert.ok(
    slow.front.minDelayMs >= DELAY_MS,
    `no chunk to or from the scheduler was quicker than the delay: ${slow.front.minDelayMs}`,
  );
  // Values moved between workers (and to the client) over the delayed data links.
  const carried = slow.data.reduce((n, s) => n + s.bytes, 0);
  assert.ok(carried >= 2 * LEAF_LENGTH * 8, `values crossed the data proxies: ${carried} B`);
  for (const s of slow.data.filter((d) => d.chunks > 0))
    assert.ok(s.minDelayMs >= DELAY_MS, `data link delay: ${s.minDelayMs}`);
  // Directly worker to worker, as on a quiet network: nothing went through the scheduler.
  assert.equal(sample(slow.metrics, 'meshwork_relayed_bytes_total'), 0);
  assert.equal(slow.state.tasks.erred, 0);
});
