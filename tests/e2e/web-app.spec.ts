// A web app on its own origin gets and puts large values. The app (fixtures/webapp: `import {
// Client } from '@meshwork/client'`) is built with Vite as a user's app would be and served from
// app.example (mapped to 127.0.0.1 by Chromium's resolver), another origin than the scheduler's,
// which allows it with --allow-origin. The cluster: one Node worker and one /join tab. The page
// gathers a Float64Array(1e6) (8 MB) made on the Node worker and one made on the tab, and
// scatters one that a task on the Node worker sums; every byte is checked. The page reaches the
// Node worker's data link as a WebSocket on its TCP port; the tab's value is first copied onto
// the Node worker by the scheduler; nothing rides the scheduler's relay. The page is on plain http from
// a host that is not localhost, so not a secure context: the client checks the fetched values'
// hashes with WebAssembly, which needs none.
// Needs `npm run build` (the client package, and the join page bundled by Vite).
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { expect, test } from '@playwright/test';
import { build } from 'vite';
import { LocalCluster } from '@meshwork/server';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../scripts/chromium.mjs';
import { clusterState, joinTab, metric } from './fixtures/tabs.js';
import type { WebAppReport } from './fixtures/webapp/main.js';

const APP_SOURCE = fileURLToPath(new URL('./fixtures/webapp/', import.meta.url));
const APP_DIST = fileURLToPath(new URL('../../node_modules/.cache/meshwork-webapp/', import.meta.url));
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript' };
/** Float64 elements of each value: 8 MB, far over the 64 KiB that ride the control channel. */
const VALUE_LENGTH = 1_000_000;
/** For the whole test (a tab joining, three 8 MB values), in milliseconds. */
const TEST_TIMEOUT_MS = 60_000;

test.use({
  launchOptions: {
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP app.example 127.0.0.1'],
  },
});

let app: Server;
let appOrigin: string;
let cluster: LocalCluster;
test.beforeAll(async () => {
  await build({
    configFile: false,
    root: APP_SOURCE,
    base: './',
    publicDir: false,
    logLevel: 'warn',
    build: { outDir: APP_DIST, emptyOutDir: true, target: 'es2022', minify: false },
  });
  app = createServer((req, res) => {
    const file = normalize(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
    readFile(join(APP_DIST, file)).then(
      (body) => res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  appOrigin = `http://app.example:${(app.address() as AddressInfo).port}`;
  cluster = await LocalCluster.start({ workers: 1, allowOrigins: [appOrigin] });
});
test.afterAll(async () => {
  await cluster?.close();
  await new Promise((resolve) => app?.close(resolve));
});

test('a web app on another origin gathers 8 MB values made on a Node worker and on a tab, and scatters one a task uses', async ({ browser, page }) => {
  test.setTimeout(TEST_TIMEOUT_MS);
  const errors: string[] = [];
  const tab = await joinTab(await browser.newPage(), cluster.httpUrl, '?threads=1&name=tab', errors);
  const node = (await clusterState(cluster.httpUrl)).workers.find((w) => w.kind === 'node');
  expect(node, 'the LocalCluster worker').toBeTruthy();

  page.on('pageerror', (e) => errors.push(e.message));
  const sockets: string[] = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(`${appOrigin}/`);
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'ready');
  const report = await page.evaluate(
    ([scheduler, n, nodeId, tabId]) =>
      (window as unknown as { webApp: { run(s: string, n: number, a: string, b: string): Promise<WebAppReport> } }).webApp.run(scheduler, n, nodeId, tabId),
    [cluster.address, VALUE_LENGTH, node!.id, tab.id] as const,
  );
  expect(report.fromNode).toBe('ok');
  expect(report.fromTab).toBe('ok');
  expect(report.scatteredSum).toBe(report.expectedSum);
  const [fromNode, fromTab, scattered] = report.holders;
  expect(fromNode).toEqual([node!.id]);
  expect(fromTab).toContain(tab.id);
  expect(scattered).toEqual([node!.id]);

  // The page spoke to the scheduler and, directly, to the Node worker's data link.
  const schedulerPort = new URL(cluster.address).port;
  expect(sockets.filter((u) => new URL(u).port === schedulerPort).length).toBeGreaterThanOrEqual(1);
  expect(sockets.filter((u) => new URL(u).port !== schedulerPort).length).toBeGreaterThanOrEqual(1);
  expect(await metric(cluster.httpUrl, 'meshwork_relayed_bytes_total')).toBe(0);
  expect(errors).toEqual([]);
});
