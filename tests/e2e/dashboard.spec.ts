// The dashboard (`/`): a real scheduler (LocalCluster with two Node worker processes) and a /join
// tab as a third worker; a Node client runs 1,000 tasks and a small graph whose inputs live on
// other workers. The page, live over the scheduler's WebSocket, must agree with /api/state.
// Needs `npm run build`. UPDATE_SCREENSHOTS=1 also copies the screenshot to docs/screenshots/.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import { Client } from '@meshwork/client';
import { LocalCluster } from '@meshwork/server';
import { subPathProxy } from './fixtures/proxy.js';
import { clusterState, joinTab } from './fixtures/tabs.js';

/** How long the page may take to connect and show a first update, in milliseconds. */
const CONNECT_TIMEOUT_MS = 20_000;
/** How long results (and the page catching up with them) may take, in milliseconds. */
const RESULT_TIMEOUT_MS = 60_000;
/** For the whole main test: a tab joins, 1,000 tasks and a graph run, in milliseconds. */
const TEST_TIMEOUT_MS = 180_000;
const TASKS = 1_000;
/** Busy time of each of the 1,000 tasks, in milliseconds: long enough to see them at work. */
const TASK_MS = 10;
/** Float64 elements of the value other workers fetch: 800 kB, far over what rides inline. */
const VALUE_LENGTH = 100_000;
const SCREENSHOT = 'test-results/dashboard.png';
const DOC_SCREENSHOT = fileURLToPath(new URL('../../docs/screenshots/dashboard.png', import.meta.url));

let cluster: LocalCluster;
let client: Client;
/** Uncaught errors of every page (they would otherwise go unnoticed). */
const pageErrors: string[] = [];

/** Mounts the scheduler on a sub-path, as a site would (its origin is allowed: see the proxy). */
let proxy: Awaited<ReturnType<typeof subPathProxy>>;

test.beforeAll(async () => {
  proxy = await subPathProxy(() => new URL(cluster.httpUrl), '/mesh/');
  cluster = await LocalCluster.start({ workers: 2, allowOrigins: [proxy.origin] });
  client = await Client.connect(cluster.address, { name: 'dashboard-spec' });
});

test.afterAll(async () => {
  await client?.close();
  await cluster?.close();
  await proxy?.close();
});

test.afterEach(() => {
  expect(pageErrors, 'uncaught errors in the pages').toEqual([]);
});

async function pageNumber(page: Page, selector: string, attribute = 'data-value'): Promise<number> {
  return Number(await page.locator(selector).getAttribute(attribute));
}

async function openDashboard(page: Page, url: string): Promise<void> {
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(url);
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'connected', { timeout: CONNECT_TIMEOUT_MS });
  await expect.poll(() => pageNumber(page, '#updated', 'data-at'), { timeout: CONNECT_TIMEOUT_MS }).toBeGreaterThan(0);
}

/** The task counts the page shows. */
async function pageTasks(page: Page): Promise<Record<'waiting' | 'processing' | 'memory' | 'erred', number>> {
  return {
    waiting: await pageNumber(page, '#tasks-waiting'),
    processing: await pageNumber(page, '#tasks-processing'),
    memory: await pageNumber(page, '#tasks-memory'),
    erred: await pageNumber(page, '#tasks-erred'),
  };
}

test('the dashboard shows workers, tasks, the task stream and transfers live while a client runs 1,000 tasks', async ({
  browser,
}) => {
  test.setTimeout(TEST_TIMEOUT_MS);
  const dash = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await openDashboard(dash, `${cluster.httpUrl}/`);
  const tab = await joinTab(await browser.newPage(), cluster.httpUrl, '?threads=1&name=dashboard-tab', pageErrors);

  // Workers: as many as /api/state lists, each with its kind.
  const state = await clusterState(cluster.httpUrl);
  expect(state.workers).toHaveLength(3);
  await expect.poll(() => pageNumber(dash, '#worker-count')).toBe(3);
  for (const w of state.workers) {
    await expect(dash.locator(`#worker-rows tr[data-worker="${w.id}"]`)).toHaveAttribute('data-kind', w.kind);
  }
  await expect(dash.locator(`#worker-rows tr[data-worker="${tab.id}"] .agent`)).toContainText('Chrome');

  // A value made on one Node worker and used on the other (direct TCP) and on the tab (WebRTC).
  const [a, b] = state.workers.filter((w) => w.kind === 'node').map((w) => w.id) as [string, string];
  const made = client
    .with({ workers: [a], allowOtherWorkers: false, pure: false })
    .submit((n: number) => new Float64Array(n).fill(2), VALUE_LENGTH);
  const length = (xs: Float64Array): number => xs.length;
  // Not pure: the same call twice would otherwise be one task (one key), run once.
  const onB = client.with({ workers: [b], allowOtherWorkers: false, pure: false }).submit(length, made);
  const onTab = client.with({ workers: [tab.id], allowOtherWorkers: false, pure: false }).submit(length, made);
  expect(await client.gather([onB, onTab], { timeoutMs: RESULT_TIMEOUT_MS })).toEqual([VALUE_LENGTH, VALUE_LENGTH]);
  const edge = (from: string, to: string, path: string) =>
    dash.locator(`#traffic-rows tr[data-from="${from}"][data-to="${to}"][data-path="${path}"]`);
  await expect(edge(a, b, 'tcp')).toHaveCount(1, { timeout: RESULT_TIMEOUT_MS });
  expect(Number(await edge(a, b, 'tcp').getAttribute('data-bytes'))).toBeGreaterThanOrEqual(VALUE_LENGTH * 8);
  await expect(edge(a, tab.id, 'webrtc')).toHaveCount(1, { timeout: RESULT_TIMEOUT_MS });
  expect(Number(await edge(a, tab.id, 'webrtc').getAttribute('data-bytes'))).toBeGreaterThanOrEqual(VALUE_LENGTH * 8);
  expect(await dash.locator('#peer-graph svg path[marker-end]').count()).toBeGreaterThanOrEqual(2);

  // 1,000 tasks of one function: the page shows them at work, then all in memory.
  const busy = (x: number, ms: number): number => {
    const until = Date.now() + ms;
    while (Date.now() < until);
    return x;
  };
  const inputs = Array.from({ length: TASKS }, (_, i) => i);
  const futures = client.map(
    busy,
    inputs,
    inputs.map(() => TASK_MS),
  );
  const group = dash.locator('#group-list li[data-group="busy"]');
  // At work (the picture for the README): well into the run, the stream full of bars.
  await expect
    .poll(async () => Number(await group.getAttribute('data-memory')), { timeout: RESULT_TIMEOUT_MS })
    .toBeGreaterThanOrEqual(TASKS * 0.4);
  await dash.screenshot({ path: SCREENSHOT, fullPage: true });
  expect(await client.gather(futures, { timeoutMs: RESULT_TIMEOUT_MS })).toEqual(inputs);

  await expect
    .poll(async () => Number(await group.getAttribute('data-memory')), { timeout: RESULT_TIMEOUT_MS })
    .toBe(TASKS);
  expect(await group.getAttribute('data-waiting')).toBe('0');
  expect(await group.getAttribute('data-processing')).toBe('0');
  // The page's counts are /api/state's (nothing moves any more: they must agree exactly).
  const settled = (await clusterState(cluster.httpUrl)).tasks;
  expect(settled.memory).toBeGreaterThanOrEqual(TASKS);
  await expect.poll(() => pageTasks(dash)).toEqual(settled);
  const done = (await clusterState(cluster.httpUrl)).workers.reduce((n, w) => n + w.tasks.done, 0);
  await expect.poll(() => pageNumber(dash, '#tasks-finished')).toBe(done);
  // The task stream shows every run: the 1,000 and the graph's 3, across the three workers' threads.
  await expect.poll(() => pageNumber(dash, '#stream', 'data-entries')).toBeGreaterThanOrEqual(TASKS + 3);
  if (process.env['UPDATE_SCREENSHOTS']) {
    mkdirSync(dirname(DOC_SCREENSHOT), { recursive: true });
    copyFileSync(SCREENSHOT, DOC_SCREENSHOT);
  }
  for (const f of [...futures, made, onB, onTab]) f.release();
});

test('behind a reverse proxy on a sub-path, the dashboard finds its scheduler there', async ({ page }) => {
  await openDashboard(page, proxy.url);
  const workers = (await clusterState(cluster.httpUrl)).workers.length;
  await expect.poll(() => pageNumber(page, '#worker-count')).toBe(workers);
  await expect(page.locator('a.join-link')).toHaveAttribute('href', './join');
  await page.close();
});

test('a dashboard without the scheduler token is refused and says so', async ({ page }) => {
  const own = await LocalCluster.start({ workers: 0, token: 'dashboard-spec-token' });
  try {
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${own.httpUrl}/?token=wrong`);
    await expect(page.locator('#status')).toHaveAttribute('data-state', 'refused', { timeout: CONNECT_TIMEOUT_MS });
    await expect(page.locator('#feed-notice')).toContainText('token');
    await page.goto(`${own.httpUrl}/?token=dashboard-spec-token`);
    await expect(page.locator('#status')).toHaveAttribute('data-state', 'connected', { timeout: CONNECT_TIMEOUT_MS });
  } finally {
    await own.close();
  }
});
