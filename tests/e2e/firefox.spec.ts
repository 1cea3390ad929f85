// Firefox ESR as a worker tab, beside a Chromium tab and a Node worker. Playwright cannot drive
// Debian's Firefox, so this file launches it with puppeteer-core over WebDriver BiDi
// (fixtures/firefox.ts); the Chromium tab is Playwright's. A real scheduler (LocalCluster with one
// Node worker, in this process) serves the built join page; a Node client submits the work.
// Every value must cross directly, over WebRTC: the scheduler's relay carries nothing.
// Needs `npm run build` (the packages, and the join page bundled by Vite).
import { expect, test } from '@playwright/test';
import { Client } from '@meshwork/client';
import { LocalCluster } from '@meshwork/server';
import { make, total } from './fixtures/values.js';
import { clusterState, joinTab, metric, pageNotices, peerOf, tabStats, type TabStatsOnPage } from './fixtures/tabs.js';
import { launchFirefox, type FirefoxBrowser } from './fixtures/firefox.js';
import {
  joinPuppeteerTab,
  puppeteerNotices,
  puppeteerPageNumber,
  puppeteerTabStats,
} from './fixtures/puppeteer-tabs.js';

/** Float64 elements of each value traded between workers: 3.2 MB, many data-channel chunks. */
const VALUE_LENGTH = 400_000;
const VALUE_BYTES = VALUE_LENGTH * 8;
/** For the whole trade test (two browsers' joins, four values of VALUE_BYTES), in milliseconds. */
const TRADE_TEST_TIMEOUT_MS = 120_000;
/** How long the trade's results may take to arrive, in milliseconds. */
const TRADE_RESULT_TIMEOUT_MS = 60_000;
/** How long other results may take to arrive, in milliseconds (within the 60 s a test may take). */
const RESULT_TIMEOUT_MS = 30_000;
/** How long the scheduler may take to notice a closed tab, in milliseconds. */
const LEAVE_TIMEOUT_MS = 15_000;

let cluster: LocalCluster;
let client: Client;
let firefox: FirefoxBrowser;
let nodeId: string;
/** Uncaught errors of every page (they would otherwise go unnoticed). */
const pageErrors: string[] = [];

test.beforeAll(async () => {
  cluster = await LocalCluster.start({ workers: 1 });
  client = await Client.connect(cluster.address, { name: 'firefox-spec' });
  firefox = await launchFirefox();
  const node = (await clusterState(cluster.httpUrl)).workers.find((w) => w.kind === 'node');
  if (node === undefined) throw new Error('the LocalCluster has no Node worker');
  nodeId = node.id;
});

test.afterAll(async () => {
  await firefox?.close();
  await client?.close();
  await cluster?.close();
});

test.afterEach(() => {
  expect(pageErrors, 'uncaught errors in the pages').toEqual([]);
});

/** Tasks pinned to one worker; `pure: false` so every test computes afresh. */
const on = (id: string) => client.with({ workers: [id], allowOtherWorkers: false, pure: false });

/** Bytes a tab sent to and received from `peer` between two snapshots of its counters. */
function delta(before: TabStatsOnPage, after: TabStatsOnPage, peer: string): { sent: number; received: number } {
  const [b, a] = [peerOf(before, peer), peerOf(after, peer)];
  return { sent: a.bytesSent - b.bytesSent, received: a.bytesReceived - b.bytesReceived };
}

test('a Firefox tab joins and runs tasks restricted to it', async () => {
  const page = await firefox.newPage();
  const tab = await joinPuppeteerTab(page, cluster.httpUrl, '?threads=2&name=firefox-tab', pageErrors);
  expect(tab).toMatchObject({ kind: 'browser', threads: 2, name: 'firefox-tab' });
  expect(tab.agent).toContain('Firefox');

  const onTab = client.with({ workers: [tab.id], allowOtherWorkers: false });
  const inputs = Array.from({ length: 20 }, (_, i) => i);
  const squares = onTab.map((x: number) => x * x, inputs);
  expect(await client.gather(squares, { timeoutMs: RESULT_TIMEOUT_MS })).toEqual(inputs.map((x) => x * x));
  // Where they ran: in a Web Worker of Firefox (no `document`; Firefox's user agent).
  const where = onTab.map(
    (x: number) => ({
      x,
      page: typeof (globalThis as { document?: unknown }).document !== 'undefined',
      agent: (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent ?? 'none',
    }),
    [1, 2],
  );
  const ran = await client.gather(where, { timeoutMs: RESULT_TIMEOUT_MS });
  expect(ran.map((r) => ({ x: r.x, page: r.page }))).toEqual([
    { x: 1, page: false },
    { x: 2, page: false },
  ]);
  for (const r of ran) expect(r.agent).toContain('Firefox');

  await expect
    .poll(async () => (await clusterState(cluster.httpUrl)).workers.find((w) => w.id === tab.id)?.tasks.done)
    .toBe(22);
  await expect.poll(() => puppeteerPageNumber(page, 'tasks-done')).toBe(22);
  expect(await puppeteerNotices(page), 'no warnings: heartbeats come from the ticker Web Worker').toEqual([]);
  await page.close();
});

test('a Firefox tab trades MB values directly with a Chromium tab and a Node worker over WebRTC', async ({
  browser,
}) => {
  test.setTimeout(TRADE_TEST_TIMEOUT_MS);
  const fxPage = await firefox.newPage();
  const crPage = await browser.newPage();
  const fx = await joinPuppeteerTab(fxPage, cluster.httpUrl, '?threads=1&name=firefox', pageErrors);
  const cr = await joinTab(crPage, cluster.httpUrl, '?threads=1&name=chromium', pageErrors);
  expect(cr.agent).toContain('Chrome');
  const relayedBefore = await metric(cluster.httpUrl, 'meshwork_relayed_bytes_total');

  // Each value is made on one worker and read by exactly one other: Firefox ↔ Chromium, Firefox ↔ Node.
  const before = { fx: await puppeteerTabStats(fxPage), cr: await tabStats(crPage) };
  const [onFx, onCr, onNode] = [on(fx.id), on(cr.id), on(nodeId)];
  const values = [
    onFx.submit(make, VALUE_LENGTH, 3),
    onCr.submit(make, VALUE_LENGTH, 5),
    onFx.submit(make, VALUE_LENGTH, 7),
    onNode.submit(make, VALUE_LENGTH, 11),
  ] as const;
  const sums = [
    onCr.submit(total, values[0]),
    onFx.submit(total, values[1]),
    onNode.submit(total, values[2]),
    onFx.submit(total, values[3]),
  ];
  const expected = [3, 5, 7, 11].map((seed) => total(make(VALUE_LENGTH, seed)));
  expect(await client.gather(sums, { timeoutMs: TRADE_RESULT_TIMEOUT_MS })).toEqual(expected);

  // Nothing went through the scheduler.
  expect(await metric(cluster.httpUrl, 'meshwork_relayed_bytes_total')).toBe(relayedBefore);
  // The tabs' own counters: bytes on their WebRTC data channels, per peer.
  const after = { fx: await puppeteerTabStats(fxPage), cr: await tabStats(crPage) };
  expect(delta(before.fx, after.fx, cr.id).sent, 'Firefox sent its value to Chromium').toBeGreaterThanOrEqual(
    VALUE_BYTES,
  );
  expect(delta(before.cr, after.cr, fx.id).received, 'Chromium received it').toBeGreaterThanOrEqual(VALUE_BYTES);
  expect(delta(before.cr, after.cr, fx.id).sent, 'Chromium sent its value to Firefox').toBeGreaterThanOrEqual(
    VALUE_BYTES,
  );
  expect(delta(before.fx, after.fx, cr.id).received, 'Firefox received it').toBeGreaterThanOrEqual(VALUE_BYTES);
  expect(delta(before.fx, after.fx, nodeId).sent, 'Firefox sent a value to the Node worker').toBeGreaterThanOrEqual(
    VALUE_BYTES,
  );
  expect(delta(before.fx, after.fx, nodeId).received, 'Firefox received the Node value').toBeGreaterThanOrEqual(
    VALUE_BYTES,
  );
  expect(peerOf(after.fx, cr.id).state).toBe('open');
  expect(peerOf(after.fx, nodeId).state).toBe('open');
  expect(peerOf(after.cr, fx.id).state).toBe('open');
  // And the heartbeats say the same: Firefox's links are direct.
  await expect
    .poll(async () => {
      const info = (await clusterState(cluster.httpUrl)).workers.find((w) => w.id === fx.id);
      return (info?.peers ?? []).map((p) => `${p.peer} ${p.path}`).sort();
    })
    .toEqual([`${cr.id} webrtc`, `${nodeId} webrtc`].sort());
  // No failed fetch, no lost connection on either page.
  expect(await puppeteerNotices(fxPage)).toEqual([]);
  expect(await pageNotices(crPage)).toEqual([]);
  for (const f of [...values, ...sums]) f.release();
  await Promise.all([fxPage.close(), crPage.close()]);
});

test('closing the Firefox tab removes the worker and its tasks are recovered', async () => {
  const page = await firefox.newPage();
  const tab = await joinPuppeteerTab(page, cluster.httpUrl, '?threads=2&name=firefox-closed', pageErrors);
  const nodeDone = (await clusterState(cluster.httpUrl)).workers.find((w) => w.id === nodeId)?.tasks.done ?? 0;
  // In a tab's Web Worker these never finish (the tab is closed under them); on Node they answer at once.
  const stuckInTabs = async (x: number): Promise<number> => {
    if ('WorkerGlobalScope' in globalThis) await new Promise(() => {});
    return x * 10;
  };
  const inputs = [1, 2, 3, 4];
  const futures = client.with({ workers: [tab.id], allowOtherWorkers: true, pure: false }).map(stuckInTabs, inputs);
  await expect.poll(() => puppeteerPageNumber(page, 'tasks-running'), { timeout: RESULT_TIMEOUT_MS }).toBe(2);

  await page.close();
  await expect
    .poll(async () => (await clusterState(cluster.httpUrl)).workers.map((w) => w.id), { timeout: LEAVE_TIMEOUT_MS })
    .not.toContain(tab.id);
  expect(await client.gather(futures, { timeoutMs: RESULT_TIMEOUT_MS })).toEqual(inputs.map((x) => x * 10));
  // The Node worker did all of them, the two the tab was running included.
  const node = (await clusterState(cluster.httpUrl)).workers.find((w) => w.id === nodeId);
  expect(node?.tasks.done).toBe(nodeDone + inputs.length);
});
