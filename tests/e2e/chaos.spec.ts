// Chaos with browser tabs. A 2,000-task graph with dependencies (tests/integration/chaos-graph.mjs:
// values up to 104 KB, so inputs travel between tabs and Node workers over WebRTC) runs across two
// Node workers and two /join tabs while a loop closes a tab and opens a new one every few seconds
// and a Node worker is killed and replaced now and then; every result is checked against a serial
// computation in this process. Then a tab whose scheduler is restarted rejoins it by itself.
// Needs `npm run build` (the packages, and the join page bundled by Vite).
import { createServer } from 'node:net';
import { expect, test, type Page } from '@playwright/test';
import { Client, type Future } from '@meshwork/client';
import { LocalCluster, SchedulerServer } from '@meshwork/server';
import {
  chaosGraph,
  chaosNode,
  chaosSeed,
  sameResult,
  seededRandom,
  serialResults,
  sleep,
  workerKiller,
  type ChaosValue,
} from '../integration/chaos-graph.mjs';
import { JOIN_TIMEOUT_MS, clusterState, joinTab, schedulerDump } from './fixtures/tabs.js';

/** 20 blocks × 5 layers × 20 tasks = 2,000 tasks. */
const BLOCKS = 20;
const LAYERS = 5;
const WIDTH = 20;
/** Each task sleeps this long, so the graph outlasts several tab swaps. */
const TASK_SLEEP_MS = 50;
/** A tab is closed (and another opened) every this long, give or take half, in milliseconds. */
const TAB_SWAP_MS = 3_000;
/** A Node worker is killed (and replaced) every 8–12 s. */
const KILL_MIN_MS = 8_000;
const KILL_MAX_MS = 12_000;
const GRAPH_TIMEOUT_MS = 150_000;
const TEST_TIMEOUT_MS = 240_000;

const log = (line: string): void => console.log(`# ${line}`);

test('a 2,000-task graph while tabs are closed and reopened and Node workers killed: every result right', async ({
  browser,
}) => {
  test.setTimeout(TEST_TIMEOUT_MS);
  const seed = chaosSeed('tab chaos');
  const random = seededRandom(seed);
  const tasks = chaosGraph({ blocks: BLOCKS, layers: LAYERS, width: WIDTH, seed, sleepMs: TASK_SLEEP_MS });
  const expected = await serialResults(tasks);
  const cluster = await LocalCluster.start({ workers: 2, threadsPerWorker: 1 });
  const client = await Client.connect(cluster.address, { name: 'tab-chaos' });
  const pageErrors: string[] = [];
  let serial = 0;
  const openTab = async (): Promise<Page> => {
    const page = await browser.newPage();
    await joinTab(page, cluster.httpUrl, `?threads=1&name=tab-${serial++}`, pageErrors);
    return page;
  };
  const tabs = [await openTab(), await openTab()];
  const killer = workerKiller(cluster, random, { minMs: KILL_MIN_MS, maxMs: KILL_MAX_MS, log });
  let stop = false;
  let tabsClosed = 0;
  const swapper = (async () => {
    while (!stop) {
      await sleep(TAB_SWAP_MS * (0.5 + random()));
      if (stop) break;
      const i = Math.floor(random() * tabs.length);
      await tabs[i]?.close();
      tabsClosed++;
      log(`closed a tab (${tabsClosed})`);
      tabs[i] = await openTab();
    }
  })();
  const started = Date.now();
  try {
    const futures: Future<ChaosValue>[] = [];
    for (const t of tasks)
      futures.push(client.submit(chaosNode, t.spec, ...t.deps.map((d) => futures[d] as Future<ChaosValue>)));
    const index = new Map(futures.map((f, i) => [f, i]));
    let checked = 0;
    let wrong = 0;
    const failures: string[] = [];
    const checks: Promise<void>[] = [];
    for await (const f of client.asCompleted(futures, { timeoutMs: GRAPH_TIMEOUT_MS })) {
      const i = index.get(f) as number;
      checks.push(
        f.result().then(
          (value) => {
            checked++;
            if (!sameResult(value, expected[i] as ChaosValue)) wrong++;
            f.release();
          },
          (e: Error & { code?: string }) => {
            failures.push(`task ${i}: ${e.code} ${e.message}`);
            f.release();
          },
        ),
      );
    }
    await Promise.all(checks);
    const seconds = (Date.now() - started) / 1000;
    stop = true;
    await Promise.all([swapper, killer.stop()]);
    log(
      `${tasks.length} tasks in ${seconds.toFixed(1)} s; tabs closed ${tabsClosed}; Node workers killed ${killer.stats.killed}; ` +
        `tasks checked ${checked}; wrong ${wrong}; lost ${failures.length}`,
    );
    test.info().annotations.push({
      type: 'chaos',
      description: `seed ${seed}; tabs closed ${tabsClosed}; workers killed ${killer.stats.killed}; checked ${checked}; lost ${failures.length}`,
    });
    expect(failures, 'no result lost').toEqual([]);
    expect(wrong, 'no result wrong').toBe(0);
    expect(checked).toBe(tasks.length);
    expect(tabsClosed, 'the chaos struck').toBeGreaterThanOrEqual(3);
    expect(killer.stats.killed).toBeGreaterThanOrEqual(1);
    await expect.poll(async () => (await schedulerDump(cluster.httpUrl)).taskCount, { timeout: 20_000 }).toBe(0);
    expect((await schedulerDump(cluster.httpUrl)).invariants).toEqual([]);
    expect(pageErrors).toEqual([]);
  } finally {
    stop = true;
    await Promise.allSettled([swapper, killer.stop()]);
    for (const t of tabs) await t.close();
    await client.close();
    await cluster.close();
  }
});

/** A port nothing listens on now (the restarted scheduler must come back on it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('a tab rejoins a restarted scheduler by itself: the join page shows it connected again, under a new id', async ({
  browser,
}) => {
  test.setTimeout(90_000);
  const port = await freePort();
  const pageErrors: string[] = [];
  let scheduler = await SchedulerServer.start({ host: '127.0.0.1', port });
  const page = await browser.newPage();
  let client: Client | undefined;
  try {
    const before = await joinTab(page, scheduler.httpUrl, '?threads=1&name=rejoiner', pageErrors);
    await scheduler.close();
    await expect(page.locator('#status')).toHaveAttribute('data-state', 'rejoining');
    await sleep(1_000); // down for a while: the tab keeps trying, with backoff
    scheduler = await SchedulerServer.start({ host: '127.0.0.1', port });
    await expect(page.locator('#status')).toHaveAttribute('data-state', 'connected', { timeout: JOIN_TIMEOUT_MS });
    const id = (await page.locator('#worker-id').textContent()) ?? '';
    expect(id).not.toBe(before.id);
    const workers = (await clusterState(scheduler.httpUrl)).workers;
    expect(workers.map((w) => [w.id, w.name, w.kind])).toEqual([[id, 'rejoiner', 'browser']]);
    client = await Client.connect(scheduler.address, { name: 'rejoin-spec' });
    const f = client.with({ workers: [id], allowOtherWorkers: false }).submit((x: number) => x * 2, 21);
    expect(await f.result({ timeoutMs: 30_000 })).toBe(42);
    expect(pageErrors).toEqual([]);
  } finally {
    await client?.close();
    await page.close();
    await scheduler.close();
  }
});
