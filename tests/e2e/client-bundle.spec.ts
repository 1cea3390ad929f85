// The client bundled by Vite, in a page: the Monte Carlo π page imports @meshwork/client, connects
// to the scheduler that served it (a ws:// URL made from the page's own, relative address),
// submits a map and a task of its futures, shows the progress and the result. Node workers do the
// work. Needs `npm run build`.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { LocalCluster } from '@meshwork/server';

/** How long the run may take on 2 loaded cores, in milliseconds. */
const RUN_TIMEOUT_MS = 120_000;
const SCREENSHOT = 'test-results/montecarlo-page.png';
const DOC_SCREENSHOT = fileURLToPath(new URL('../../docs/screenshots/montecarlo-page.png', import.meta.url));

let cluster: LocalCluster;
test.beforeAll(async () => {
  cluster = await LocalCluster.start({ workers: 2 });
});
test.afterAll(async () => {
  await cluster?.close();
});

test('a page with the bundled client connects, submits, shows progress and the result', async ({ page }) => {
  test.setTimeout(RUN_TIMEOUT_MS + 30_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const sockets: string[] = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(`${cluster.httpUrl}/montecarlo`);
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'ready', { timeout: 20_000 });
  expect(sockets).toEqual([`${cluster.address}/`]);

  await page.locator('#tasks').fill('12');
  await page.locator('#samples').fill('400000');
  await page.locator('#run-button').click();
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'done', { timeout: RUN_TIMEOUT_MS });
  await expect(page.locator('#progress')).toHaveJSProperty('value', 13);
  await expect(page.locator('#progress-text')).toHaveText('13 / 13 tasks');
  await expect(page.locator('#points')).toHaveText('4,800,000');
  const pi = Number(await page.locator('#pi').getAttribute('data-value'));
  expect(Math.abs(pi - Math.PI)).toBeLessThan(0.01);
  expect(await page.evaluate(() => [typeof Buffer, typeof process])).toEqual(['undefined', 'undefined']);

  const state = (await (await fetch(`${cluster.httpUrl}/api/state`)).json()) as {
    workers: { tasks: { done: number } }[];
  };
  expect(state.workers.reduce((n, w) => n + w.tasks.done, 0)).toBeGreaterThanOrEqual(13);
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  if (process.env['UPDATE_SCREENSHOTS']) {
    mkdirSync(dirname(DOC_SCREENSHOT), { recursive: true });
    copyFileSync(SCREENSHOT, DOC_SCREENSHOT);
  }
  expect(errors).toEqual([]);
});
