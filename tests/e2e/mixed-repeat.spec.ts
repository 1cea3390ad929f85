// Many mixed tree reductions in a row (two /join tabs and one Node worker), each followed by a
// value the Node worker makes and a tab consumes, so the Node → tab direction of a WebRTC data
// channel carries more than its high-water mark every round. Not one task may be planned again
// (the scheduler counts them: meshwork_tasks_replanned_total), and no tab may report a failed
// fetch or a lost connection. A data channel closed as stalled while it was still taking
// messages made a worker drop its task for the scheduler to re-plan; this spec pins that down
// without timing anything. Needs `npm run build`.
import { expect, test, type Page } from '@playwright/test';
import { Client } from '@meshwork/client';
import { LocalCluster, treeReduction } from '@meshwork/server';
import { make, total } from './fixtures/values.js';
import { clusterState, joinTab, metric, pageNotices, peerOf, tabStats } from './fixtures/tabs.js';

/** Tree reductions in a row. */
const ROUNDS = 10;
/** Arrays per reduction, and float64 elements in each: 2 MB, over the 1 MiB high-water mark of a channel. */
const ARRAYS = 8;
const ARRAY_LENGTH = 250_000;
/** Float64 elements of the value the Node worker hands a tab each round (2 MB). */
const NODE_VALUE_LENGTH = 250_000;
/** For the whole test: joins plus ROUNDS small reductions, with room for a loaded machine, in milliseconds. */
const TEST_TIMEOUT_MS = 240_000;
/** How long one round's results may take, in milliseconds. */
const RESULT_TIMEOUT_MS = 60_000;

let cluster: LocalCluster;
let client: Client;
const pageErrors: string[] = [];

test.beforeAll(async () => {
  cluster = await LocalCluster.start({ workers: 1 });
  client = await Client.connect(cluster.address, { name: 'mixed-repeat-spec' });
});

test.afterAll(async () => {
  await client?.close();
  await cluster?.close();
});

test(`${ROUNDS} mixed tree reductions in a row: no task is planned again, no fetch fails`, async ({ browser }) => {
  test.setTimeout(TEST_TIMEOUT_MS);
  const pages: Page[] = [await browser.newPage(), await browser.newPage()];
  const tabs = [
    await joinTab(pages[0] as Page, cluster.httpUrl, '?threads=1&name=tab-a', pageErrors),
    await joinTab(pages[1] as Page, cluster.httpUrl, '?threads=1&name=tab-b', pageErrors),
  ];
  const nodeId = (await clusterState(cluster.httpUrl)).workers.find((w) => w.kind === 'node')?.id;
  expect(nodeId, 'the LocalCluster worker').toBeTruthy();
  const onNode = client.with({ workers: [nodeId as string], allowOtherWorkers: false, pure: false });

  const seconds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const reduced = await treeReduction(client, ARRAYS, ARRAY_LENGTH);
    expect(reduced.length).toBe(ARRAY_LENGTH);
    expect(Math.abs(reduced.sum - reduced.inputsSum)).toBeLessThan(1e-6 * reduced.inputsSum);
    seconds.push(reduced.seconds);

    // Node → tab, alternating tabs: the direction whose channel was closed as stalled.
    const tab = tabs[round % tabs.length]!;
    const made = onNode.submit(make, NODE_VALUE_LENGTH, round + 1);
    const sum = client.with({ workers: [tab.id], allowOtherWorkers: false, pure: false }).submit(total, made);
    expect(await sum.result({ timeoutMs: RESULT_TIMEOUT_MS })).toBe(total(make(NODE_VALUE_LENGTH, round + 1)));
    made.release();
    sum.release();
  }

  expect(await metric(cluster.httpUrl, 'meshwork_tasks_replanned_total'), 'tasks planned again').toBe(0);
  for (const page of pages) expect(await pageNotices(page), 'failed fetches or lost connections').toEqual([]);
  expect(pageErrors).toEqual([]);
  // Every round's value reached its tab from the Node worker over their data channel.
  let fromNode = 0;
  for (const page of pages) fromNode += peerOf(await tabStats(page), nodeId as string).bytesReceived;
  expect(fromNode).toBeGreaterThanOrEqual(ROUNDS * NODE_VALUE_LENGTH * 8);

  test.info().annotations.push({ type: 'tree reduction seconds', description: JSON.stringify(seconds) });
  await Promise.all(pages.map((p) => p.close()));
});
