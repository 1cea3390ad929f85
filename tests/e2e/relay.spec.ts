// A tab with no direct path to anyone: its RTCPeerConnections may use TURN relay candidates only
// (`iceTransportPolicy: 'relay'`, as a network that blocks direct UDP forces) and no TURN server
// is configured, so no WebRTC connection can open. Its data goes through the scheduler's relay
// instead: the work still completes with the right answer, /metrics counts the relayed bytes, and
// the join page shows them. (Everywhere else, relayed bytes must stay 0.)
import { chromium, expect, test, type Browser } from '@playwright/test';
import { Client } from '@meshwork/client';
import { LocalCluster } from '@meshwork/server';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../scripts/chromium.mjs';
import { make, total } from './fixtures/values.js';
import { joinTab, metric } from './fixtures/tabs.js';

/** Float64 elements of each value: 1.6 MB, many relay chunks. */
const VALUE_LENGTH = 200_000;
/** The direct attempt must time out first (PEER_CONNECT_TIMEOUT_MS), then the relay carries the data, in milliseconds. */
const TEST_TIMEOUT_MS = 120_000;

let cluster: LocalCluster;
let client: Client;
let browser: Browser;
const pageErrors: string[] = [];

test.beforeAll(async () => {
  cluster = await LocalCluster.start({ workers: 1 });
  client = await Client.connect(cluster.address, { name: 'relay-spec' });
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
});

test.afterAll(async () => {
  await browser?.close();
  await client?.close();
  await cluster?.close();
});

test('with no direct path, values move through the scheduler, counted and shown', async () => {
  test.setTimeout(TEST_TIMEOUT_MS);
  expect(await metric(cluster.httpUrl, 'meshwork_relayed_bytes_total')).toBe(0);
  const page = await browser.newPage();
  await page.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    window.RTCPeerConnection = class extends Native {
      constructor(config?: RTCConfiguration) {
        super({ ...config, iceTransportPolicy: 'relay' });
      }
    };
  });
  const tab = await joinTab(page, cluster.httpUrl, '?threads=1&name=no-udp', pageErrors);
  const node = (await (await fetch(`${cluster.httpUrl}/api/state`)).json()).workers.find(
    (w: { kind: string }) => w.kind === 'node',
  );
  const on = (id: string) => client.with({ workers: [id], allowOtherWorkers: false, pure: false });
  const fromNode = on(node.id).submit(make, VALUE_LENGTH, 7);
  const fromTab = on(tab.id).submit(make, VALUE_LENGTH, 3);
  const sums = [on(tab.id).submit(total, fromNode), on(node.id).submit(total, fromTab)];
  expect(await client.gather(sums, { timeoutMs: TEST_TIMEOUT_MS })).toEqual([
    total(make(VALUE_LENGTH, 7)),
    total(make(VALUE_LENGTH, 3)),
  ]);

  const relayed = (await metric(cluster.httpUrl, 'meshwork_relayed_bytes_total')) ?? 0;
  expect(relayed, 'both values crossed through the scheduler').toBeGreaterThan(2 * VALUE_LENGTH * 8);
  // The page shows what this tab traded through the relay (both values: one each way).
  await expect
    .poll(async () => Number(await page.locator('#bytes-relayed').getAttribute('data-value')), { timeout: 10_000 })
    .toBeGreaterThanOrEqual(2 * VALUE_LENGTH * 8);
  // And both workers report the path on their heartbeats.
  await expect
    .poll(async () => {
      const state = await (await fetch(`${cluster.httpUrl}/api/state`)).json();
      const tabInfo = state.workers.find((w: { id: string }) => w.id === tab.id);
      return tabInfo.peers.filter((p: { path: string; peer: string }) => p.path === 'relay' && p.peer === node.id)
        .length;
    })
    .toBe(1);
  await page.close();
  expect(pageErrors).toEqual([]);
});
