// How fast meshwork moves a value between workers, beside the raw ceiling of the same path:
//
//   node bench/peer-transfer.mjs [node-node] [node-tab] [tab-node] [tab-tab] [tree-reduction]   (default: all)
//
// A transfer: a 64 MiB Float64Array is made on the sender (a task restricted to it) and left
// there; then a task on the receiver whose input it is (`(x) => x.length`) is timed from submit to
// result; minus the median of the same with a 1-element input (scheduling, the round trips), that
// is the time the 64 MiB took: fetched by the receiver straight from the sender, decoded on the
// receiver's thread. MB/s = 1e6 bytes per second; median of RUNS runs after one warm-up run (which
// opens the connection). Node↔Node goes over the direct TCP link (a LocalCluster of 2 Node
// workers); Node↔tab and tab↔tab over WebRTC (a LocalCluster of 1 Node worker and 2 Chromium tabs
// on /join, Debian's /usr/bin/chromium through Playwright). Beside each, in the same run without
// meshwork: a loopback TCP socket for Node↔Node, and a raw data channel (bench/lib/webrtc-raw.mjs)
// between the same kinds of ends for the others. Last, the tree reduction of API.md (16 × 8 MB)
// on the 2 tabs + 1 Node worker, median of TREE_RUNS (TREE_RUNS in the environment, default 3),
// beside the same on 2 Node workers; with it, the tabs' warnings during those runs (`tabNotices`).
// Needs `npm run build` first (the packages and the join page). One JSON line per figure.
/* global window, document, MutationObserver -- inside page callbacks, which run in the page */
import { createServer, connect } from 'node:net';
import { chromium } from '@playwright/test';
import nodeDataChannel from 'node-datachannel';
import { Client } from '@meshwork/client';
import { LocalCluster, startStunServer, treeReduction } from '@meshwork/server';
import { CHROMIUM_PATH } from '../scripts/chromium.mjs';
import { CHROMIUM_ARGS, TOTAL_BYTES, measureRaw, median, nodeEnd, pageEnd, round } from './lib/webrtc-raw.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TREE_RUNS = Number(process.env.TREE_RUNS ?? 3);
/** The value moved: 64 MiB of float64. */
const VALUE_LENGTH = TOTAL_BYTES / 8;
const TINY_LENGTH = 1;
/** How long a tab may take to join, in milliseconds. */
const JOIN_TIMEOUT_MS = 30_000;
/** One timed task may take this long, in milliseconds. */
const RESULT_TIMEOUT_MS = 120_000;

const only = process.argv.slice(2);
const wanted = (n) => only.length === 0 || only.includes(n);
const mbps = (bytes, ms) => bytes / 1e6 / (ms / 1000);

/** Warnings and errors the tabs showed (the join page's notices), kept for the mixed tree line. */
const notices = [];

/**
 * Opens `/join` in a new page of `browser`; resolves with the page and the tab's worker id. The
 * page's notices (a stalled channel, a failed fetch) are kept, so a slow run names its cause.
 */
async function joinTab(browser, cluster, name) {
  const page = await browser.newPage();
  await page.exposeFunction('benchNotice', (text) => notices.push(`${name}: ${text}`));
  await page.goto(`${cluster.httpUrl}/join?threads=1&name=${name}`);
  await page.waitForFunction(() => window.meshworkTab !== undefined, undefined, { timeout: JOIN_TIMEOUT_MS });
  await page.evaluate(() => {
    const list = document.getElementById('notice-list');
    for (const item of list.children) window.benchNotice(item.textContent);
    new MutationObserver((changes) => {
      for (const c of changes) for (const item of c.addedNodes) window.benchNotice(item.textContent);
    }).observe(list, { childList: true });
  });
  return { page, id: await page.evaluate(() => window.meshworkTab.id) };
}

/** Submit→result of a task on `receiver` whose input (`length` float64) sits on `sender`, in ms. */
async function timedMove(client, sender, receiver, length) {
  const on = (id) => client.with({ workers: [id], allowOtherWorkers: false, pure: false });
  const value = on(sender).submit((n) => new Float64Array(n).fill(1.5), length);
  await new Promise((resolve) => value.onDone(resolve));
  if (value.status !== 'finished') throw new Error(`making the value on ${sender}: ${value.status}`);
  const t = performance.now();
  // Held until it settles: a future nothing references may be collected, and released, meanwhile.
  const consumer = on(receiver).submit((x) => x.length, value);
  const n = await consumer.result({ timeoutMs: RESULT_TIMEOUT_MS });
  const ms = performance.now() - t;
  consumer.release();
  value.release();
  if (n !== length) throw new Error(`${receiver} saw ${n} elements, not ${length}`);
  return ms;
}

/** RUNS timed moves of 64 MiB (after a warm-up), minus the median of tiny moves. */
async function meshworkMove(client, sender, receiver) {
  await timedMove(client, sender, receiver, TINY_LENGTH);
  await timedMove(client, sender, receiver, VALUE_LENGTH);
  const tiny = [];
  const big = [];
  for (let r = 0; r < RUNS; r++) {
    tiny.push(await timedMove(client, sender, receiver, TINY_LENGTH));
    big.push(await timedMove(client, sender, receiver, VALUE_LENGTH));
  }
  const baseline = median(tiny);
  return { baselineMs: baseline, rates: big.map((ms) => mbps(TOTAL_BYTES, Math.max(ms - baseline, 1))), ms: big };
}

/** Loopback TCP without meshwork: 64 MiB written at once, timed until all arrived. */
async function rawTcp() {
  const rates = [];
  const buf = Buffer.alloc(TOTAL_BYTES, 7);
  for (let r = 0; r < RUNS; r++) {
    let done;
    const arrived = new Promise((resolve) => (done = resolve));
    const server = createServer((socket) => {
      let n = 0;
      socket.on('data', (chunk) => {
        n += chunk.length;
        if (n === TOTAL_BYTES) done(performance.now());
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = connect(server.address().port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const t = performance.now();
    socket.write(buf);
    rates.push(mbps(TOTAL_BYTES, (await arrived) - t));
    socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
  return { what: 'loopback TCP socket', rates };
}

function report(pair, path, moved, raw) {
  console.log(
    JSON.stringify({
      bench: 'peer-transfer',
      pair,
      path,
      unit: 'MB/s',
      median: round(median(moved.rates)),
      runs: moved.rates.map(round),
      baselineMs: round(moved.baselineMs),
      raw: { what: raw.what, unit: 'MB/s', median: round(median(raw.rates)), runs: raw.rates.map(round) },
      bytes: TOTAL_BYTES,
    }),
  );
}

async function treeSeconds(client) {
  const seconds = [];
  for (let r = 0; r < TREE_RUNS; r++) {
    const res = await treeReduction(client);
    if (Math.abs(res.sum - res.inputsSum) > 1e-6 * res.inputsSum) throw new Error('tree reduction gave a wrong sum');
    seconds.push(res.seconds);
  }
  return seconds;
}

/** Node↔Node over the direct link, and the tree reduction on Node workers only (for comparison). */
async function nodeOnly() {
  const cluster = await LocalCluster.start({ workers: 2, threadsPerWorker: 1 });
  const client = await Client.connect(cluster.address, { name: 'bench-peer-transfer' });
  try {
    if (wanted('node-node')) report('node-node', 'tcp', await meshworkMove(client, 'local-0', 'local-1'), await rawTcp());
    return wanted('tree-reduction') ? await treeSeconds(client) : undefined;
  } finally {
    await client.close();
    await cluster.close();
  }
}

/** The pairs with a tab, and the tree reduction on 2 tabs + 1 Node worker. */
async function withTabs(nodeOnlySeconds) {
  const stun = await startStunServer({ host: '127.0.0.1' });
  const iceServers = [{ urls: `stun:127.0.0.1:${stun.port}` }];
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  const cluster = await LocalCluster.start({ workers: 1, threadsPerWorker: 1, workerStdio: process.env.BENCH_WORKER_LOGS ? 'inherit' : 'ignore' });
  const client = await Client.connect(cluster.address, { name: 'bench-peer-transfer' });
  const node = (opts, out) => Promise.resolve(nodeEnd(opts, out));
  const page = (opts, out) => pageEnd(browser, opts, out);
  const raw = async (what, makeA, makeB) => {
    const { ms } = await measureRaw(what, makeA, makeB, iceServers, RUNS);
    return { what: `raw data channel ${what}`, rates: ms.map((t) => mbps(TOTAL_BYTES, t)) };
  };
  try {
    const a = await joinTab(browser, cluster, 'bench-tab-a');
    const b = await joinTab(browser, cluster, 'bench-tab-b');
    if (wanted('node-tab')) report('node-tab', 'webrtc', await meshworkMove(client, 'local-0', a.id), await raw('node-chromium', node, page));
    if (wanted('tab-node')) report('tab-node', 'webrtc', await meshworkMove(client, a.id, 'local-0'), await raw('chromium-node', page, node));
    if (wanted('tab-tab')) report('tab-tab', 'webrtc', await meshworkMove(client, a.id, b.id), await raw('chromium-chromium', page, page));
    if (wanted('tree-reduction')) {
      notices.length = 0;
      const seconds = await treeSeconds(client);
      console.log(
        JSON.stringify({
          bench: 'tree-reduction-mixed',
          unit: 's',
          median: round(median(seconds)),
          runs: seconds.map(round),
          workers: { node: 1, browser: 2 },
          arrays: 16,
          length: 1_000_000,
          nodeOnly: nodeOnlySeconds ? { workers: { node: 2 }, median: round(median(nodeOnlySeconds)), runs: nodeOnlySeconds.map(round) } : undefined,
          tabNotices: notices.slice(0, 20),
        }),
      );
    }
  } finally {
    await client.close();
    await cluster.close();
    await browser.close();
    await stun.close();
    nodeDataChannel.cleanup();
  }
}

const nodeOnlySeconds = wanted('node-node') || wanted('tree-reduction') ? await nodeOnly() : undefined;
if (['node-tab', 'tab-node', 'tab-tab', 'tree-reduction'].some(wanted)) await withTabs(nodeOnlySeconds);
