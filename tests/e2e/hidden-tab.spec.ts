// A volunteer's tab in the background. Chromium (driven by puppeteer-core: see
// fixtures/background-tabs.ts) hides a /join tab behind another tab of its window, throttles its
// timers as a desktop browser does after minutes in the background, and freezes it as a browser
// freezes background tabs. Hidden, the tab keeps its place and its work; frozen past the
// heartbeat timeout, it is dropped, its tasks are redone elsewhere, and it joins again when it
// thaws. Each run is timed against the same work with the tab in front (logged, not asserted).
// Needs `npm run build` (the packages, and the join page bundled by Vite).
import { expect, test } from '@playwright/test';
import { Client, type Future } from '@meshwork/client';
import { LocalCluster } from '@meshwork/server';
import { sleep } from '../integration/chaos-graph.mjs';
import {
  coverWith,
  freeze,
  launchBackgroundingChromium,
  probePage,
  uncover,
  visibility,
  type BackgroundingBrowser,
  type BackgroundingPage,
} from './fixtures/background-tabs.js';
import { joinPuppeteerTab, puppeteerPageNumber } from './fixtures/puppeteer-tabs.js';
import { JOIN_TIMEOUT_MS, clusterState } from './fixtures/tabs.js';

/** The scheduler drops a worker silent this long, in milliseconds: short, so a test can outlast it. */
const HEARTBEAT_TIMEOUT_MS = 3_000;
/** The page probe's timer period, in milliseconds. */
const PROBE_EVERY_MS = 100;
/**
 * The probe ticks over this window: at most one a second (or none) means the page's timers are
 * throttled, as a background tab's are (Chrome then goes on to wake them once a minute, when it
 * applies intensive throttling: not on every run).
 */
const THROTTLED_WINDOW_MS = 3_000;
/** Tasks per batch, and how long each waits, in milliseconds. */
const BATCH = 12;
const TASK_MS = 50;
/** Tasks in the frozen run, each this long: the tab freezes while it runs some of them. */
const SLOW_TASKS = 4;
const SLOW_TASK_MS = 1_500;
const RESULT_TIMEOUT_MS = 30_000;

const log = (line: string): void => console.log(`# ${line}`);

const double = async (x: number, ms: number): Promise<number> => {
  await new Promise((r) => setTimeout(r, ms));
  return x * 2;
};
const sumOf = (...xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/** A map and a sum of its results, all fresh keys; resolves with the seconds they took. */
async function timedBatch(client: Client, options: { workers: string[]; allowOtherWorkers: boolean }): Promise<number> {
  const on = client.with({ ...options, pure: false });
  const started = Date.now();
  const xs = Array.from({ length: BATCH }, (_, i) => i);
  const doubled = on.map(
    double,
    xs,
    xs.map(() => TASK_MS),
  );
  const total = on.submit(sumOf, ...doubled);
  expect(await client.gather(doubled, { timeoutMs: RESULT_TIMEOUT_MS })).toEqual(xs.map((x) => x * 2));
  expect(await total.result({ timeoutMs: RESULT_TIMEOUT_MS })).toBe(BATCH * (BATCH - 1));
  const seconds = (Date.now() - started) / 1000;
  for (const f of [...doubled, total]) f.release();
  return seconds;
}

let cluster: LocalCluster | undefined;
let client: Client | undefined;
let browser: BackgroundingBrowser | undefined;
const pageErrors: string[] = [];

test.afterEach(async () => {
  await browser?.close();
  await client?.close();
  await cluster?.close();
  [browser, client, cluster] = [undefined, undefined, undefined];
  expect(pageErrors, 'uncaught errors in the pages').toEqual([]);
  pageErrors.length = 0;
});

/** A cluster with `nodeWorkers`, a client, and a Chromium whose first tab has joined. */
async function start(nodeWorkers: number): Promise<{ tab: BackgroundingPage; front: BackgroundingPage; id: string }> {
  cluster = await LocalCluster.start({ workers: nodeWorkers, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS });
  client = await Client.connect(cluster.address, { name: 'hidden-tab-spec' });
  browser = await launchBackgroundingChromium();
  const tab = (await browser.pages())[0] ?? (await browser.newPage());
  const { id } = await joinPuppeteerTab(tab, cluster.httpUrl, '?threads=1&name=background', pageErrors);
  const front = await browser.newPage();
  await tab.bringToFront();
  return { tab, front, id };
}

test('a tab hidden behind another, its page timers throttled, keeps its place and does its work', async () => {
  const { tab, front, id } = await start(0);
  const only = { workers: [id], allowOtherWorkers: false };
  const probe = await probePage(tab, PROBE_EVERY_MS);
  // Covered before it has run anything: once a tab has run tasks, this Chromium was not seen to
  // apply intensive throttling to it within 50 s.
  await coverWith(tab, front);
  expect(await visibility(tab)).toBe('hidden');
  // The page's timers slow from ten a second to at most one (then, with intensive throttling, none).
  let ticksInWindow = Infinity;
  await expect
    .poll(
      async () => {
        const before = (await probe.read()).ticks;
        await sleep(THROTTLED_WINDOW_MS);
        return (ticksInWindow = (await probe.read()).ticks - before);
      },
      { timeout: 20_000 },
    )
    .toBeLessThanOrEqual(THROTTLED_WINDOW_MS / 1_000 + 1);
  // Hidden and throttled for longer than the heartbeat timeout: still the same worker.
  await sleep(2 * HEARTBEAT_TIMEOUT_MS);
  expect((await clusterState((cluster as LocalCluster).httpUrl)).workers.map((w) => w.id)).toEqual([id]);
  const hidden = await timedBatch(client as Client, only);
  expect(await visibility(tab), 'hidden for the whole run').toBe('hidden');
  expect((await probe.read()).events).toEqual(['visibilitychange:hidden']);

  await uncover(tab);
  const ticks = (await probe.read()).ticks;
  await expect.poll(async () => (await probe.read()).ticks, { timeout: 5_000 }).toBeGreaterThan(ticks + 5);
  const visible = await timedBatch(client as Client, only);
  expect((await clusterState((cluster as LocalCluster).httpUrl)).workers.map((w) => w.id)).toEqual([id]);
  expect((await probe.read()).events).toEqual(['visibilitychange:hidden', 'visibilitychange:visible']);
  log(
    `${BATCH} tasks and their sum on one tab: ${hidden.toFixed(2)} s hidden (page timers: ${ticksInWindow} ticks in ${THROTTLED_WINDOW_MS} ms, ${THROTTLED_WINDOW_MS / PROBE_EVERY_MS} in front), ` +
      `${visible.toFixed(2)} s back in front`,
  );
});

test('a tab frozen past the heartbeat timeout is dropped, its tasks are redone elsewhere, and it joins again when it thaws', async () => {
  const { tab, front, id } = await start(1);
  const httpUrl = (cluster as LocalCluster).httpUrl;
  const nodeId = (await clusterState(httpUrl)).workers.find((w) => w.kind === 'node')?.id;
  const probe = await probePage(tab, PROBE_EVERY_MS);
  /** SLOW_TASKS tasks, the tab preferred; resolves with the seconds they took. */
  const slowRun = async (whileRunning: () => Promise<void> = async () => {}): Promise<number> => {
    const started = Date.now();
    const prefer = (client as Client).with({ workers: [id], allowOtherWorkers: true, pure: false });
    const xs = Array.from({ length: SLOW_TASKS }, (_, i) => i);
    const futures: Future<number>[] = prefer.map(
      double,
      xs,
      xs.map(() => SLOW_TASK_MS),
    );
    await whileRunning();
    expect(await (client as Client).gather(futures, { timeoutMs: RESULT_TIMEOUT_MS })).toEqual(xs.map((x) => x * 2));
    for (const f of futures) f.release();
    return (Date.now() - started) / 1000;
  };
  const visible = await slowRun();

  await coverWith(tab, front);
  let thaw: (() => Promise<void>) | undefined;
  const frozen = await slowRun(async () => {
    await expect.poll(() => puppeteerPageNumber(tab, 'tasks-running')).toBeGreaterThan(0);
    thaw = await freeze(tab);
    // No heartbeat while frozen (the ticker Web Worker is frozen with its page): dropped.
    await expect
      .poll(async () => (await clusterState(httpUrl)).workers.map((w) => w.kind), { timeout: 4 * HEARTBEAT_TIMEOUT_MS })
      .toEqual(['node']);
  });
  await thaw?.();
  expect((await probe.read()).events).toEqual(['visibilitychange:hidden', 'freeze', 'resume']);

  // Back in front (hidden, its page timers wake once a minute here, so its rejoin's backoff could
  // wait that long), the tab learns it was dropped and joins again, as a new worker.
  await uncover(tab);
  await tab.waitForFunction(
    (old) => document.querySelector('#worker-id')?.textContent !== old,
    { timeout: JOIN_TIMEOUT_MS },
    id,
  );
  await tab.waitForSelector('#status[data-state="connected"]');
  const again = await tab.$eval('#worker-id', (e) => e.textContent ?? '');
  expect(again).not.toBe(id);
  await expect
    .poll(async () => (await clusterState(httpUrl)).workers.map((w) => w.id).sort(), { timeout: JOIN_TIMEOUT_MS })
    .toEqual([again, nodeId].sort());
  const onTab = (client as Client).with({ workers: [again], allowOtherWorkers: false, pure: false });
  expect(await onTab.submit(double, 21, 0).result({ timeoutMs: RESULT_TIMEOUT_MS })).toBe(42);
  log(
    `${SLOW_TASKS} tasks of ${SLOW_TASK_MS} ms preferring the tab: ${visible.toFixed(2)} s with it in front, ` +
      `${frozen.toFixed(2)} s when it froze running them (dropped after ${HEARTBEAT_TIMEOUT_MS} ms of silence, redone on the Node worker)`,
  );
});
