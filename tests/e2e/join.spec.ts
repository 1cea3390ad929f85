// The /join page: a real scheduler (LocalCluster with one Node worker, in this process) serving
// the built demo site; Chromium tabs become workers; a Node client submits work to them.
// Needs `npm run build` (tsc -b, then the Vite build into server/site).
// UPDATE_SCREENSHOTS=1 also copies the page's screenshot to docs/screenshots/ for the README.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import { Client } from '@meshwork/client';
import { LocalCluster, type ClusterState, type WorkerInfo } from '@meshwork/server';
import { subPathProxy } from './fixtures/proxy.js';

/** How long a tab may take to join (Chromium cold start, Web Workers, handshake), in milliseconds. */
const JOIN_TIMEOUT_MS = 20_000;
/** How long results may take to arrive, in milliseconds. */
const RESULT_TIMEOUT_MS = 30_000;
/** How long the scheduler may take to notice a closed tab, in milliseconds (a clean close is immediate). */
const LEAVE_TIMEOUT_MS = 10_000;
/** Runtime of one slow task, in milliseconds: long enough to close a tab while it runs. */
const SLOW_TASK_MS = 1_500;
/** A value one tab fetches from another, in bytes: several data-channel chunks. */
const PEER_VALUE_BYTES = 3 * 1024 * 1024;
const SCREENSHOT = 'test-results/join-page.png';
const DOC_SCREENSHOT = fileURLToPath(new URL('../../docs/screenshots/join-page.png', import.meta.url));

let cluster: LocalCluster;
let client: Client;
/** Uncaught errors of every page (they would otherwise go unnoticed). */
const pageErrors: string[] = [];

/** Mounts the scheduler on a sub-path, as a site would (its origin is allowed: see the proxy). */
let proxy: Awaited<ReturnType<typeof subPathProxy>>;

test.beforeAll(async () => {
  proxy = await subPathProxy(() => new URL(cluster.httpUrl), '/mesh/');
  cluster = await LocalCluster.start({ workers: 1, allowOrigins: [proxy.origin] });
  client = await Client.connect(cluster.address, { name: 'join-spec' });
});

test.afterAll(async () => {
  await client?.close();
  await cluster?.close();
  await proxy?.close();
});

test.afterEach(() => {
  expect(pageErrors, 'uncaught errors in the pages').toEqual([]);
});

async function state(): Promise<ClusterState> {
  const res = await fetch(`${cluster.httpUrl}/api/state`);
  return (await res.json()) as ClusterState;
}

async function browserWorkers(): Promise<WorkerInfo[]> {
  return (await state()).workers.filter((w) => w.kind === 'browser');
}

/** Opens the join page and resolves with the tab's worker as /api/state lists it. */
async function joinTab(page: Page, query: string): Promise<WorkerInfo> {
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const before = new Set((await browserWorkers()).map((w) => w.id));
  await page.goto(`${cluster.httpUrl}/join${query}`);
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'connected', { timeout: JOIN_TIMEOUT_MS });
  const id = (await page.locator('#worker-id').textContent()) ?? '';
  let found: WorkerInfo | undefined;
  await expect
    .poll(async () => (found = (await browserWorkers()).find((w) => w.id === id && !before.has(w.id))), {
      timeout: JOIN_TIMEOUT_MS,
    })
    .toBeTruthy();
  return found as WorkerInfo;
}

async function pageNumber(page: Page, id: string): Promise<number> {
  return Number(await page.locator(`#${id}`).getAttribute('data-value'));
}

test('a tab joins, runs tasks restricted to it, and shows what it did', async ({ page }) => {
  const tab = await joinTab(page, '?threads=2&name=e2e-tab');
  expect(tab).toMatchObject({ kind: 'browser', threads: 2, name: 'e2e-tab' });
  expect(tab.agent).toContain('Chrome');
  await expect(page.locator('#cluster')).toHaveText(new URL(cluster.httpUrl).host);
  await expect(page.locator('#notices'), 'no warnings: heartbeats come from the ticker Web Worker').toBeHidden();

  const onTab = client.with({ workers: [tab.id], allowOtherWorkers: false });
  const square = (x: number) => x * x;
  const futures = onTab.map(
    square,
    Array.from({ length: 20 }, (_, i) => i),
  );
  expect(await client.gather(futures)).toEqual(Array.from({ length: 20 }, (_, i) => i * i));
  // Where they ran: only on the tab (code that runs in a Web Worker sees no `document`).
  const where = onTab.map(
    (x: number) => ({ x, page: typeof (globalThis as { document?: unknown }).document !== 'undefined' }),
    [1, 2],
  );
  expect(await client.gather(where)).toEqual([
    { x: 1, page: false },
    { x: 2, page: false },
  ]);

  await expect.poll(async () => (await browserWorkers()).find((w) => w.id === tab.id)?.tasks.done).toBe(22);
  await expect.poll(() => pageNumber(page, 'tasks-done')).toBe(22);
  await expect(page.locator('#tasks-done')).toHaveText('22');

  // At work: slow tasks on both Web Workers while the screenshot is taken.
  const slow = onTab.with({ pure: false }).map(
    async (ms: number) => {
      await new Promise((r) => setTimeout(r, ms));
      return ms;
    },
    [SLOW_TASK_MS, SLOW_TASK_MS, SLOW_TASK_MS],
  );
  await expect.poll(() => pageNumber(page, 'tasks-running')).toBe(2);
  await expect(page.locator('#tasks-running')).toHaveText('2 / 2');
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  if (process.env['UPDATE_SCREENSHOTS']) {
    mkdirSync(dirname(DOC_SCREENSHOT), { recursive: true });
    copyFileSync(SCREENSHOT, DOC_SCREENSHOT);
  }
  expect(await client.gather(slow, { timeoutMs: RESULT_TIMEOUT_MS })).toEqual([
    SLOW_TASK_MS,
    SLOW_TASK_MS,
    SLOW_TASK_MS,
  ]);
  await expect.poll(() => pageNumber(page, 'tasks-done')).toBe(25);
  expect((await browserWorkers()).find((w) => w.id === tab.id)?.tasks.done).toBe(25);
});

/** What the join page exposes as `window.meshworkTab`, as much as these tests use. */
interface TabOnPage {
  store: { put(key: string, bytes: Uint8Array): void };
  peers: {
    fetch(
      holders: { id: string; address: string }[],
      keys: string[],
      o: { signal: AbortSignal },
    ): Promise<{ values: Map<string, Uint8Array>; missing: { key: string }[] }>;
  };
}

test('two tabs trade data over WebRTC, signalling through the scheduler', async ({ browser }) => {
  const [a, b] = [await browser.newPage(), await browser.newPage()];
  await joinTab(a, '?threads=1&name=tab-a');
  const tb = await joinTab(b, '?threads=1&name=tab-b');
  // Tab b holds a value (as if a task there had made it); tab a fetches it, as for a dependency.
  const put = await b.evaluate((n) => {
    const bytes = new Uint8Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) sum = (sum + (bytes[i] = (i * 31 + 7) & 255)) % 1_000_000_007;
    (window as unknown as { meshworkTab: TabOnPage }).meshworkTab.store.put('shared-value', bytes);
    return sum;
  }, PEER_VALUE_BYTES);
  const got = await a.evaluate(async (from) => {
    const tab = (window as unknown as { meshworkTab: TabOnPage }).meshworkTab;
    const r = await tab.peers.fetch([{ id: from, address: '' }], ['shared-value', 'no-such-key'], {
      signal: new AbortController().signal,
    });
    const bytes = r.values.get('shared-value') ?? new Uint8Array(0);
    let sum = 0;
    for (const x of bytes) sum = (sum + x) % 1_000_000_007;
    return { nbytes: bytes.byteLength, sum, missing: r.missing.map((m) => m.key) };
  }, tb.id);
  expect(got).toEqual({ nbytes: PEER_VALUE_BYTES, sum: put, missing: ['no-such-key'] });
  const ta = (await a.locator('#worker-id').textContent()) ?? '';
  await expect(a.locator(`#peers li[data-peer="${tb.id}"] .state`)).toHaveText('open');
  await expect(b.locator(`#peers li[data-peer="${ta}"] .state`)).toHaveText('open');
  await expect(a.locator('#peer-count')).toHaveText('1');
  await expect
    .poll(async () => Number(await a.locator('#bytes-received').getAttribute('data-value')))
    .toBeGreaterThanOrEqual(PEER_VALUE_BYTES);
  await expect
    .poll(async () => Number(await b.locator('#bytes-sent').getAttribute('data-value')))
    .toBeGreaterThanOrEqual(PEER_VALUE_BYTES);
  await Promise.all([a.close(), b.close()]);
});

test('closing the tab removes the worker and its tasks are recovered', async ({ browser }) => {
  const page = await browser.newPage();
  const tab = await joinTab(page, '?threads=2');
  const slow = client.with({ workers: [tab.id], allowOtherWorkers: true, pure: false });
  const inputs = Array.from({ length: 4 }, (_, i) => i);
  const futures = slow.map(
    async (x: number, ms: number) => {
      await new Promise((r) => setTimeout(r, ms));
      return x * 10;
    },
    inputs,
    inputs.map(() => SLOW_TASK_MS),
  );
  await expect.poll(() => pageNumber(page, 'tasks-running'), { timeout: RESULT_TIMEOUT_MS }).toBeGreaterThan(0);
  await page.close({ runBeforeUnload: true });
  await expect
    .poll(async () => (await browserWorkers()).map((w) => w.id), { timeout: LEAVE_TIMEOUT_MS })
    .not.toContain(tab.id);
  expect(await client.gather(futures, { timeoutMs: RESULT_TIMEOUT_MS })).toEqual(inputs.map((x) => x * 10));
});

test('the Leave button hands the work back and says so', async ({ page }) => {
  const tab = await joinTab(page, '?threads=1');
  await page.locator('#leave').click();
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'left');
  await expect(page.locator('#rejoin')).toBeVisible();
  await expect
    .poll(async () => (await browserWorkers()).map((w) => w.id), { timeout: LEAVE_TIMEOUT_MS })
    .not.toContain(tab.id);
  const x = client.submit((a: number) => a + 1, 41);
  expect(await x.result({ timeoutMs: RESULT_TIMEOUT_MS })).toBe(42);
});

test('behind a reverse proxy on a sub-path, the page finds its scheduler there', async ({ page }) => {
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${proxy.url}join?threads=1&name=proxied`);
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'connected', { timeout: JOIN_TIMEOUT_MS });
  await expect(page.locator('#cluster')).toHaveText(`${new URL(proxy.url).host}/mesh`);
  const id = (await page.locator('#worker-id').textContent()) ?? '';
  expect((await browserWorkers()).find((w) => w.id === id)).toMatchObject({ name: 'proxied', threads: 1 });
  const onTab = client.with({ workers: [id], allowOtherWorkers: false });
  const x = onTab.submit((a: number) => a * 3, 14);
  expect(await x.result({ timeoutMs: RESULT_TIMEOUT_MS })).toBe(42);
  // Uploaded modules are imported by the tab's Web Workers from `<base>/modules/`, also under the sub-path.
  const mod = await client.upload('join-spec-kernels', 'export function cube(x) { return x * x * x; }');
  const y = onTab.submit(mod.fn('cube'), 3);
  expect(await y.result({ timeoutMs: RESULT_TIMEOUT_MS })).toBe(27);
  await page.close();
});

test('when the scheduler goes away the page says so and tries to join again by itself; Leave stops it', async ({
  page,
}) => {
  const own = await LocalCluster.start({ workers: 0 });
  try {
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${own.httpUrl}/join?threads=1`);
    await expect(page.locator('#status')).toHaveAttribute('data-state', 'connected', { timeout: JOIN_TIMEOUT_MS });
  } finally {
    await own.close();
  }
  // Rejoining a scheduler that comes back: tests/e2e/chaos.spec.ts.
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'rejoining');
  await expect(page.locator('#notice-list')).toContainText('the scheduler connection closed');
  await page.locator('#leave').click();
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'left');
  await expect(page.locator('#rejoin')).toBeVisible();
  await expect(page.locator('#leave')).toBeDisabled();
});

test('a first attempt to join that fails (the scheduler busy or starting) is tried again, as a rejoin is', async ({
  page,
}) => {
  page.on('pageerror', (e) => pageErrors.push(e.message));
  /** Upgrades that reach the page's route: the first FAILED are closed before the scheduler sees them. */
  const FAILED = 3;
  let attempts = 0;
  await page.routeWebSocket(/^wss?:/, (ws) => {
    if (++attempts <= FAILED) return void ws.close({ code: 1013, reason: 'try again later' });
    ws.connectToServer();
  });
  const before = new Set((await browserWorkers()).map((w) => w.id));
  await page.goto(`${cluster.httpUrl}/join?threads=1`);
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'connected', { timeout: JOIN_TIMEOUT_MS });
  expect(attempts).toBe(FAILED + 1);
  const id = (await page.locator('#worker-id').textContent()) ?? '';
  expect(before.has(id)).toBe(false);
  await expect
    .poll(async () => (await browserWorkers()).some((w) => w.id === id), { timeout: JOIN_TIMEOUT_MS })
    .toBe(true);
});
