// Web pages of other origins, in a real browser. A page on evil.example (mapped to 127.0.0.1 by
// Chromium's resolver) tries what an attacker's page would: the bundled client and a bare WebSocket
// to a token-less scheduler on loopback, from the page and from a sandboxed frame (Origin: null),
// and the scheduler's pages and JSON under a rebound name (DNS rebinding). The same page works once
// the scheduler allows its origin with --allow-origin: how a web app on another origin connects.
// Needs `npm run build` (the demo pages are served from server/site by a second HTTP server).
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { expect, test } from '@playwright/test';
import { LocalCluster } from '@meshwork/server';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../scripts/chromium.mjs';

const SITE = fileURLToPath(new URL('../../server/site/', import.meta.url));
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
/** How long the Monte Carlo run may take on 2 loaded cores, in milliseconds. */
const RUN_TIMEOUT_MS = 60_000;

test.use({
  launchOptions: {
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP evil.example 127.0.0.1, MAP rebound.example 127.0.0.1'],
  },
});

let app: Server; // the other origin: serves the built demo pages, with no policy of its own
let appOrigin: string;
let closed: LocalCluster; // token-less, allows no other origin (npm start's default)
let allowing: LocalCluster; // token-less, allows appOrigin
test.beforeAll(async () => {
  app = createServer((req, res) => {
    const path = normalize(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
    readFile(join(SITE, path || 'index.html')).then(
      (body) => res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  appOrigin = `http://evil.example:${(app.address() as AddressInfo).port}`;
  closed = await LocalCluster.start({ workers: 1 });
  allowing = await LocalCluster.start({ workers: 1, allowOrigins: [appOrigin] });
});
test.afterAll(async () => {
  await closed?.close();
  await allowing?.close();
  await new Promise((resolve) => app?.close(resolve));
});

test("a page of another origin cannot reach a token-less scheduler: the client, a bare WebSocket, a sandboxed frame", async ({ page }) => {
  await page.goto(`${appOrigin}/montecarlo.html?scheduler=${encodeURIComponent(`${closed.address}/`)}`);
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'failed', { timeout: 20_000 });

  const bare = await page.evaluate(
    (address) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(address);
        ws.onopen = () => resolve('open');
        ws.onclose = () => resolve('closed');
      }),
    closed.address,
  );
  expect(bare).toBe('closed');

  const sandboxed = await page.evaluate(
    (address) =>
      new Promise<string>((resolve) => {
        const frame = document.createElement('iframe');
        frame.sandbox.add('allow-scripts'); // an opaque origin: the browser sends Origin: null
        frame.srcdoc = `<script>const ws = new WebSocket(${JSON.stringify(address)});
          ws.onopen = () => parent.postMessage('open', '*'); ws.onclose = () => parent.postMessage('closed', '*');</script>`;
        addEventListener('message', (e) => resolve(String(e.data)), { once: true });
        document.body.append(frame);
      }),
    closed.address,
  );
  expect(sandboxed).toBe('closed');
  expect(closed.scheduler.limits.originsRefused).toBeGreaterThanOrEqual(3);
  const state = (await (await fetch(`${closed.httpUrl}/api/state`)).json()) as { tasks: Record<string, number> };
  expect(Object.values(state.tasks).reduce((a, b) => a + b, 0)).toBe(0); // nothing was submitted
});

test('pages and state under a rebound name are refused (DNS rebinding)', async ({ page }) => {
  const port = new URL(closed.httpUrl).port;
  for (const path of ['/', '/join', '/api/state']) {
    const res = await page.goto(`http://rebound.example:${port}${path}`);
    expect(res?.status(), path).toBe(403);
  }
  const sameNameFetch = await page.evaluate(async () => (await fetch('/api/dump')).status);
  expect(sameNameFetch).toBe(403);
});

test('a web app on an origin given with --allow-origin uses the cluster with the bundled client', async ({ page }) => {
  test.setTimeout(RUN_TIMEOUT_MS + 30_000);
  await page.goto(`${appOrigin}/montecarlo.html?scheduler=${encodeURIComponent(`${allowing.address}/`)}`);
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'ready', { timeout: 20_000 });
  await page.locator('#tasks').fill('4');
  await page.locator('#samples').fill('100000');
  await page.locator('#run-button').click();
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'done', { timeout: RUN_TIMEOUT_MS });
  const pi = Number(await page.locator('#pi').getAttribute('data-value'));
  expect(Math.abs(pi - Math.PI)).toBeLessThan(0.05);
});
