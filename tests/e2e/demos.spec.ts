// The demo pages: a real scheduler (LocalCluster, in this process) serving the built demo site.
// The Mandelbrot page renders on 2 worker tabs and its canvas must equal, pixel for pixel, the
// image computed in this process by the same example code. Needs `npm run build`.
// UPDATE_SCREENSHOTS=1 also copies the screenshots to docs/screenshots/ for the README.
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import { DEFAULT_VIEW, renderHere } from '@meshwork/examples';
import { LocalCluster } from '@meshwork/server';
import { joinTab } from './fixtures/tabs.js';

/** How long a whole render or run may take on 2 loaded cores, in milliseconds. */
const RUN_TIMEOUT_MS = 120_000;
/** How long a demo page may take to connect, in milliseconds. */
const CONNECT_TIMEOUT_MS = 20_000;

const shots = (name: string): { artifact: string; doc: string } => ({
  artifact: `test-results/${name}.png`,
  doc: fileURLToPath(new URL(`../../docs/screenshots/${name}.png`, import.meta.url)),
});

async function screenshot(page: Page, name: string): Promise<void> {
  const { artifact, doc } = shots(name);
  await page.screenshot({ path: artifact, fullPage: true });
  if (process.env['UPDATE_SCREENSHOTS']) {
    mkdirSync(dirname(doc), { recursive: true });
    copyFileSync(artifact, doc);
  }
}

/** Opens a demo page and waits until its client has connected. */
async function openDemo(page: Page, httpUrl: string, name: string, errors: string[]): Promise<void> {
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${httpUrl}/${name}`);
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'ready', { timeout: CONNECT_TIMEOUT_MS });
}

/** The pixels of the page's `#render` canvas (RGBA bytes). */
async function canvasPixels(page: Page): Promise<Buffer> {
  const base64 = await page.evaluate(() => {
    const canvas = document.getElementById('render') as HTMLCanvasElement;
    const data =
      canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? new Uint8ClampedArray();
    let binary = '';
    for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode(...data.subarray(i, i + 0x8000));
    return btoa(binary);
  });
  return Buffer.from(base64, 'base64');
}

test.describe('on 2 worker tabs and no Node worker', () => {
  let cluster: LocalCluster;
  test.beforeAll(async () => {
    cluster = await LocalCluster.start({ workers: 0 });
  });
  test.afterAll(async () => {
    await cluster?.close();
  });

  test('the Mandelbrot page renders tile by tile, tints tiles by tab, and matches a render in Node', async ({
    context,
  }) => {
    test.setTimeout(RUN_TIMEOUT_MS + 60_000);
    const errors: string[] = [];
    const tabs = [];
    for (const name of ['tab-a', 'tab-b'])
      tabs.push(await joinTab(await context.newPage(), cluster.httpUrl, `?threads=1&name=${name}`, errors));
    const page = await context.newPage();
    await page.setViewportSize({ width: 1400, height: 1000 });
    await openDemo(page, cluster.httpUrl, 'mandelbrot', errors);
    await expect(page.locator('#code')).toContainText('export function mandelbrotTile(');

    await page.locator('#run-button').click();
    await expect(page.locator('#status')).toHaveAttribute('data-state', 'running');
    await expect(page.locator('#status')).toHaveAttribute('data-state', 'done', { timeout: RUN_TIMEOUT_MS });
    await screenshot(page, 'mandelbrot-page');

    const tiles = Math.ceil(DEFAULT_VIEW.width / 128) * Math.ceil(DEFAULT_VIEW.height / 128);
    await expect(page.locator('#progress-text')).toHaveText(`${tiles} / ${tiles} tasks`);
    const legend = await page.locator('#legend li').evaluateAll((items) =>
      items.map((li) => ({
        id: li.dataset['workerId'],
        kind: li.dataset['kind'],
        tiles: Number(li.dataset['tiles']),
      })),
    );
    expect(legend.map((w) => w.id).sort()).toEqual(tabs.map((t) => t.id).sort());
    expect(legend.every((w) => w.kind === 'browser' && w.tiles > 0)).toBe(true);
    expect(legend.reduce((n, w) => n + w.tiles, 0)).toBe(tiles);
    // The bundle keeps function names: tasks are keyed, and grouped on the dashboard, by them.
    const assets = fileURLToPath(new URL('../../server/site/assets/', import.meta.url));
    const bundle = readdirSync(assets).find((f) => /^mandelbrot-.*\.js$/.test(f)) ?? '';
    expect(readFileSync(join(assets, bundle), 'utf8')).toContain('function mandelbrotTile(');

    const pixels = await canvasPixels(page);
    const reference = renderHere(DEFAULT_VIEW);
    expect(pixels.length).toBe(reference.length);
    let differing = 0;
    for (let i = 0; i < reference.length; i++) if (pixels[i] !== reference[i]) differing++;
    expect(differing, 'bytes that differ from the render computed in Node').toBe(0);
    expect(errors).toEqual([]);
  });
});

test.describe('on 2 Node workers', () => {
  let cluster: LocalCluster;
  test.beforeAll(async () => {
    cluster = await LocalCluster.start({ workers: 2 });
  });
  test.afterAll(async () => {
    await cluster?.close();
  });

  test('the tree reduction page runs the example with futures as arguments and checks its sum', async ({ page }) => {
    test.setTimeout(RUN_TIMEOUT_MS + 30_000);
    const errors: string[] = [];
    await openDemo(page, cluster.httpUrl, 'tree', errors);
    await expect(page.locator('#code')).toContainText('export async function treeReduction(');
    await page.locator('#length').fill('200000');
    await page.locator('#run-button').click();
    await expect(page.locator('#status')).toHaveAttribute('data-state', 'done', { timeout: RUN_TIMEOUT_MS });
    await expect(page.locator('#check')).toHaveAttribute('data-ok', 'true');
    await expect(page.locator('#tasks')).toHaveText(String(16 + 16 + 15 + 2));
    await expect(page.locator('#progress-text')).toHaveText('49 / 49 tasks');
    await expect(page.locator('#seconds')).toHaveText(/^\d+\.\d\d s$/);
    await screenshot(page, 'tree-page');
    expect(errors).toEqual([]);
  });
});
