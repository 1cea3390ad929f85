// `npm run bench:dashboard`: what watching the cluster costs. Task throughput (a `map` of 10,000
// tasks, as in bench/run.mjs) with no dashboard and with DASHBOARDS dashboards connected, in the
// same run on the same LocalCluster (2 worker processes × 1 thread), alternating which goes first
// in each pair. Prints one JSON line: the median of the per-pair ratios (with / without), the
// medians of both sides, and (steadier on a busy machine) the scheduler's own time spent on the
// feed: the updates it made and encoded and the task runs it recorded, as a share of the run.
//
//   BENCH_RUNS=N        pairs after a warm-up pair (default 7)
//   DASHBOARDS=N        dashboards connected in the "with" runs (default 2)
//   DASHBOARD_KIND=node Node WebSockets in another process that decode and validate every update (default)
//   DASHBOARD_KIND=browser the real page (/) in headless Chromium (needs /usr/bin/chromium and `npm run build`)
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { encodeFrame } from '@meshwork/protocol';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const DASHBOARDS = Number(process.env.DASHBOARDS ?? 2);
const KIND = process.env.DASHBOARD_KIND ?? 'node';
const TASKS = 10_000;
/** How long dashboards may take to connect and get a first update, in milliseconds. */
const READY_TIMEOUT_MS = 30_000;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x) => Math.round(x * 1000) / 1000;

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Node dashboards: a child process holding the sockets. */
async function nodeDashboards() {
  const child = fork(fileURLToPath(new URL('./lib/dashboard-watchers.mjs', import.meta.url)));
  const next = (type) =>
    new Promise((resolve) =>
      child.on('message', function on(m) {
        if (m.type === type) (child.off('message', on), resolve(m));
      }),
    );
  return {
    async open(url) {
      const ready = next('ready');
      child.send({ type: 'open', url, n: DASHBOARDS });
      await withTimeout(ready, 'dashboards');
    },
    async close() {
      const closed = next('closed');
      child.send({ type: 'close' });
      return await withTimeout(closed, 'dashboards closing');
    },
    async end() {
      child.send({ type: 'exit' });
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** Browser dashboards: the real page in headless Chromium, one tab each. */
async function browserDashboards(httpUrl) {
  const { chromium } = await import('@playwright/test');
  const { CHROMIUM_ARGS, CHROMIUM_PATH } = await import('../scripts/chromium.mjs');
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  let pages = [];
  return {
    async open() {
      pages = await Promise.all(
        Array.from({ length: DASHBOARDS }, () => browser.newPage({ viewport: { width: 1280, height: 900 } })),
      );
      for (const p of pages) {
        await p.goto(`${httpUrl}/`);
        await p.locator('#updated:not([data-at="0"])').waitFor({ timeout: READY_TIMEOUT_MS });
      }
    },
    async close() {
      const streamEntries = await Promise.all(pages.map((p) => p.locator('#stream').getAttribute('data-entries')));
      await Promise.all(pages.map((p) => p.close()));
      return { streamEntries: streamEntries.reduce((n, x) => n + Number(x), 0), updates: NaN, bytes: NaN };
    },
    end: () => browser.close(),
  };
}

async function mapRun(client, seed) {
  const inc = (x) => x + 1;
  const t = performance.now();
  const fs = client.map(
    inc,
    Array.from({ length: TASKS }, (_, i) => i + seed * TASKS),
  );
  await client.gather(fs);
  const dt = (performance.now() - t) / 1000;
  fs.forEach((f) => f.release());
  return TASKS / dt;
}

/**
 * Times the scheduler's feed from inside (the scheduler runs in this process): updates made
 * (`push`), task runs recorded (`taskEnded`), and the encoding of every update sent, redone
 * afterwards on the same messages with the same encoder (the socket encodes them in its batcher).
 */
function timeFeed(feed) {
  const spent = { pushMs: 0, recordMs: 0, sent: [] };
  const timed = (name, key) => {
    const original = feed[name].bind(feed);
    feed[name] = (...args) => {
      const t = performance.now();
      try {
        return original(...args);
      } finally {
        spent[key] += performance.now() - t;
      }
    };
  };
  timed('push', 'pushMs');
  timed('taskEnded', 'recordMs');
  const add = feed.add.bind(feed);
  feed.add = (sink) => {
    const send = sink.send;
    sink.send = (m) => (spent.sent.push(m), send(m));
    // The first update goes out from inside `add`: count it with the pushes.
    const t = performance.now();
    add(sink);
    spent.pushMs += performance.now() - t;
  };
  return {
    /** Milliseconds spent on the feed since the last call. */
    take() {
      const t = performance.now();
      for (const m of spent.sent) encodeFrame([m]);
      const ms = spent.pushMs + spent.recordMs + (performance.now() - t);
      spent.pushMs = spent.recordMs = 0;
      spent.sent = [];
      return ms;
    },
  };
}

const cluster = await LocalCluster.start({ workers: 2, threadsPerWorker: 1 });
const client = await Client.connect(cluster.address, { name: 'bench-dashboard' });
const feedTime = timeFeed(cluster.scheduler.dashboards);
const shares = [];
const dashboards = KIND === 'browser' ? await browserDashboards(cluster.httpUrl) : await nodeDashboards();
const off = [];
const on = [];
const ratios = [];
let seed = 0;
let watched = { updates: 0, streamEntries: 0, bytes: 0 };
try {
  const watchedRun = async () => {
    await dashboards.open(cluster.address);
    feedTime.take();
    const rate = await mapRun(client, seed++);
    // The feed's time during the run, as a share of the run's wall time.
    shares.push(feedTime.take() / ((TASKS / rate) * 1000));
    const seen = await dashboards.close();
    if (seen.streamEntries === 0) throw new Error('the dashboards saw no task run: they were not watching');
    watched = {
      updates: watched.updates + seen.updates,
      streamEntries: watched.streamEntries + seen.streamEntries,
      bytes: watched.bytes + seen.bytes,
    };
    return rate;
  };
  for (let r = 0; r <= RUNS; r++) {
    // ABBA: which side goes first alternates, so drift (memory, JIT, the machine) cancels out.
    let a, b;
    if (r % 2 === 0) {
      a = await mapRun(client, seed++);
      b = await watchedRun();
    } else {
      b = await watchedRun();
      a = await mapRun(client, seed++);
    }
    if (r === 0) continue; // warm-up
    off.push(a);
    on.push(b);
    ratios.push(b / a);
  }
} finally {
  await dashboards.end();
  await client.close();
  await cluster.close();
}
console.log(
  JSON.stringify({
    bench: 'dashboard',
    unit: 'ratio',
    median: round(median(ratios)),
    runs: ratios.map(round),
    n: ratios.length,
    dashboards: DASHBOARDS,
    kind: KIND,
    tasks: TASKS,
    withoutDashboard: { unit: 'tasks/s', median: round(median(off)), runs: off.map(round) },
    withDashboards: { unit: 'tasks/s', median: round(median(on)), runs: on.map(round) },
    ratioOfMedians: round(median(on) / median(off)),
    feedShareOfRun: {
      unit: 'fraction of wall time',
      median: Math.round(median(shares.slice(1)) * 1e5) / 1e5,
      max: Math.round(Math.max(...shares.slice(1)) * 1e5) / 1e5,
    },
    note: 'throughput with dashboards / without, per pair of map runs of 10,000 tasks',
    ...(KIND === 'node' ? { updatesReceived: watched.updates, updateBytes: watched.bytes } : {}),
  }),
);
