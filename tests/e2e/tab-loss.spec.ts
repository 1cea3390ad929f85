// Losing a tab in the middle of a graph: 100 chains of 5 tasks (500 tasks, each step's input an
// 80 KB array, so dependencies travel between workers rather than ride inline) run across one
// Node worker and two /join tabs; one tab is closed while they run. The scheduler reschedules
// what the tab was running and recomputes what only it held; every chain ends with the value a
// serial computation in this process gives.
// Needs `npm run build` (the packages, and the join page bundled by Vite).
import { expect, test } from '@playwright/test';
import { Client, type Future } from '@meshwork/client';
import { LocalCluster } from '@meshwork/server';
import { clusterState, joinTab, tabStats } from './fixtures/tabs.js';

const CHAINS = 100;
/** Tasks per chain: start, STEPS steps, and a sum. */
const STEPS = 3;
const TASKS = CHAINS * (STEPS + 2);
/** Float64 elements of the arrays passed along a chain: 80 KB, over the 64 KiB that ride inline. */
const ARRAY_LENGTH = 10_000;
/** Each step waits this long, in milliseconds, so the graph is still running when the tab goes. */
const STEP_MS = 20;
/** Tasks the doomed tab finishes before it is closed. */
const DONE_BEFORE_CLOSE = 20;
const TEST_TIMEOUT_MS = 180_000;
const RESULT_TIMEOUT_MS = 120_000;
/** How long the scheduler may take to notice the closed tab, in milliseconds. */
const LEAVE_TIMEOUT_MS = 15_000;

let cluster: LocalCluster;
let client: Client;
const pageErrors: string[] = [];

test.beforeAll(async () => {
  cluster = await LocalCluster.start({ workers: 1 });
  client = await Client.connect(cluster.address, { name: 'tab-loss-spec' });
});

test.afterAll(async () => {
  await client?.close();
  await cluster?.close();
});

const start = (chain: number, n: number): Float64Array => {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (chain * 7 + i) % 13;
  return out;
};
const step = async (xs: Float64Array, k: number, ms: number): Promise<Float64Array> => {
  await new Promise((r) => setTimeout(r, ms));
  const out = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = ((xs[i] as number) * 3 + k + i) % 1009;
  return out;
};
const sum = (xs: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i] as number;
  return s;
};

/** What each chain must give, computed here, one step after the other. */
async function serial(): Promise<number[]> {
  const out: number[] = [];
  for (let c = 0; c < CHAINS; c++) {
    let xs = start(c, ARRAY_LENGTH);
    for (let k = 1; k <= STEPS; k++) xs = await step(xs, k, 0);
    out.push(sum(xs));
  }
  return out;
}

test('a tab closed in the middle of a 500-task graph: the graph completes with the right results', async ({ browser }) => {
  test.setTimeout(TEST_TIMEOUT_MS);
  const keep = await browser.newPage();
  const doomed = await browser.newPage();
  await joinTab(keep, cluster.httpUrl, '?threads=1&name=keep', pageErrors);
  const lost = await joinTab(doomed, cluster.httpUrl, '?threads=1&name=doomed', pageErrors);
  const expected = await serial();

  const fresh = client.with({ pure: false });
  const ends: Future<number>[] = [];
  const all: Future<unknown>[] = [];
  for (let c = 0; c < CHAINS; c++) {
    let xs: Future<Float64Array> = fresh.submit(start, c, ARRAY_LENGTH);
    all.push(xs);
    for (let k = 1; k <= STEPS; k++) {
      xs = fresh.submit(step, xs, k, STEP_MS);
      all.push(xs);
    }
    const end = fresh.submit(sum, xs);
    ends.push(end);
    all.push(end);
  }
  expect(all).toHaveLength(TASKS);

  // The doomed tab takes part, then goes without a word (no beforeunload: like a crash).
  await expect
    .poll(async () => (await tabStats(doomed)).tasksDone, { timeout: RESULT_TIMEOUT_MS })
    .toBeGreaterThanOrEqual(DONE_BEFORE_CLOSE);
  const finishedAtClose = (await clusterState(cluster.httpUrl)).tasks.memory;
  await doomed.close();
  expect(finishedAtClose, 'the graph was still running when the tab closed').toBeLessThan(TASKS);
  await expect
    .poll(async () => (await clusterState(cluster.httpUrl)).workers.map((w) => w.id), { timeout: LEAVE_TIMEOUT_MS })
    .not.toContain(lost.id);

  expect(await client.gather(ends, { timeoutMs: RESULT_TIMEOUT_MS })).toEqual(expected);
  // The survivors did the rest.
  const state = await clusterState(cluster.httpUrl);
  expect(state.workers.map((w) => w.kind).sort()).toEqual(['browser', 'node']);
  expect((await tabStats(keep)).tasksDone).toBeGreaterThan(0);
  expect(pageErrors).toEqual([]);
  test.info().annotations.push({
    type: 'progress',
    description: `tasks in memory when the tab closed: ${finishedAtClose} of ${TASKS}`,
  });
  for (const f of all) f.release();
  await keep.close();
});
