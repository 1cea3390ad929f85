// A mixed cluster: one Node worker (a LocalCluster process) and two /join tabs. The tree
// reduction of API.md runs across all three, then a small explicit graph makes data cross every
// pair: tab A → tab B, tab B → Node, Node → tab A. Every transfer is direct: the scheduler relays
// nothing (/metrics), and the tabs' own per-peer counters show the bytes on their WebRTC channels,
// both to each other and to the Node worker (which speaks WebRTC through node-datachannel).
// Needs `npm run build` (the packages, and the join page bundled by Vite).
import { expect, test, type Page } from '@playwright/test';
import { Client } from '@meshwork/client';
import { LocalCluster, treeReduction } from '@meshwork/server';
import { make, total } from './fixtures/values.js';
import { clusterState, joinTab, metric, pageNotices, peerOf, tabStats, type TabStatsOnPage } from './fixtures/tabs.js';

/** Float64 elements of each value of the explicit graph: 1.6 MB, far over the 64 KiB that ride inline. */
const VALUE_LENGTH = 200_000;
const VALUE_BYTES = VALUE_LENGTH * 8;
/** For the whole test (3 joins, the reduction of 16 × 8 MB, the graph), in milliseconds. */
const TEST_TIMEOUT_MS = 120_000;
/** How long results may take to arrive, in milliseconds. */
const RESULT_TIMEOUT_MS = 60_000;

let cluster: LocalCluster;
let client: Client;
const pageErrors: string[] = [];

test.beforeAll(async () => {
  cluster = await LocalCluster.start({ workers: 1 });
  client = await Client.connect(cluster.address, { name: 'mixed-spec' });
});

test.afterAll(async () => {
  await client?.close();
  await cluster?.close();
});

/** Bytes a tab sent to and received from `peer` between two snapshots of its counters. */
function delta(before: TabStatsOnPage, after: TabStatsOnPage, peer: string): { sent: number; received: number } {
  const [b, a] = [peerOf(before, peer), peerOf(after, peer)];
  return { sent: a.bytesSent - b.bytesSent, received: a.bytesReceived - b.bytesReceived };
}

test('tree reduction and a graph across two tabs and a Node worker: every pair trades directly', async ({ browser }) => {
  test.setTimeout(TEST_TIMEOUT_MS);
  const pageA: Page = await browser.newPage();
  const pageB: Page = await browser.newPage();
  const tabA = await joinTab(pageA, cluster.httpUrl, '?threads=1&name=tab-a', pageErrors);
  const tabB = await joinTab(pageB, cluster.httpUrl, '?threads=1&name=tab-b', pageErrors);
  const node = (await clusterState(cluster.httpUrl)).workers.find((w) => w.kind === 'node');
  expect(node, 'the LocalCluster worker').toBeTruthy();
  const nodeId = node!.id;

  // The tree reduction of API.md, placed by the scheduler; its result may sit on a tab, in which
  // case the scheduler has the Node worker acquire it (over WebRTC) for this Node client.
  const reduced = await treeReduction(client);
  expect(reduced.length).toBe(1_000_000);
  expect(Math.abs(reduced.sum - reduced.inputsSum)).toBeLessThan(1e-6 * reduced.inputsSum);

  // The explicit graph: made on one worker, consumed on the next.
  const before = { a: await tabStats(pageA), b: await tabStats(pageB) };
  const on = (id: string) => client.with({ workers: [id], allowOtherWorkers: false, pure: false });
  const onA = on(tabA.id);
  const onB = on(tabB.id);
  const onNode = on(nodeId);
  const fromA = onA.submit(make, VALUE_LENGTH, 3);
  const fromB = onB.submit(make, VALUE_LENGTH, 5);
  const fromNode = onNode.submit(make, VALUE_LENGTH, 7);
  const sums = [onB.submit(total, fromA), onNode.submit(total, fromB), onA.submit(total, fromNode)];
  const expected = [3, 5, 7].map((seed) => total(make(VALUE_LENGTH, seed)));
  expect(await client.gather(sums, { timeoutMs: RESULT_TIMEOUT_MS })).toEqual(expected);
  expect(await client.whoHas([fromA, fromB, fromNode])).toEqual({
    [fromA.key]: [tabA.id],
    [fromB.key]: [tabB.id],
    [fromNode.key]: [nodeId],
  });

  // Nothing went through the scheduler.
  expect(await metric(cluster.httpUrl, 'meshwork_relayed_bytes_total')).toBe(0);

  // The tabs' own counters (bytes on their WebRTC data channels, per peer).
  const after = { a: await tabStats(pageA), b: await tabStats(pageB) };
  const aToB = delta(before.a, after.a, tabB.id);
  const bFromA = delta(before.b, after.b, tabA.id);
  const bToNode = delta(before.b, after.b, nodeId);
  const aFromNode = delta(before.a, after.a, nodeId);
  expect(aToB.sent, 'tab A sent its value to tab B').toBeGreaterThanOrEqual(VALUE_BYTES);
  expect(bFromA.received, 'tab B received it from tab A').toBeGreaterThanOrEqual(VALUE_BYTES);
  expect(bToNode.sent, 'tab B sent its value to the Node worker').toBeGreaterThanOrEqual(VALUE_BYTES);
  expect(aFromNode.received, 'tab A received the Node value').toBeGreaterThanOrEqual(VALUE_BYTES);
  expect(peerOf(after.a, nodeId).state).toBe('open');
  expect(peerOf(after.b, tabA.id).state).toBe('open');
  // No failed fetch, no lost connection on either page.
  expect(await pageNotices(pageA)).toEqual([]);
  expect(await pageNotices(pageB)).toEqual([]);
  expect(pageErrors).toEqual([]);

  test.info().annotations.push({
    type: 'transfers',
    description: JSON.stringify({
      treeReductionSeconds: reduced.seconds,
      tabA: after.a.peers.map((p) => ({ peer: p.id, sent: p.bytesSent, received: p.bytesReceived })),
      tabB: after.b.peers.map((p) => ({ peer: p.id, sent: p.bytesSent, received: p.bytesReceived })),
    }),
  });
  // Released only now: a future nothing references may be collected (and released) while awaited.
  for (const f of [fromA, fromB, fromNode, ...sums]) f.release();
  await Promise.all([pageA.close(), pageB.close()]);
});
