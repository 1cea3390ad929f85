// The pages send a strict Content-Security-Policy: no eval on the page (task code runs only in the
// task Web Workers, which rebuild functions from source under their own script's policy), scripts
// and connections to this origin only. The join page and the dashboard work under it with no
// violation reported, and a task still runs in the tab. Messages with many records of one shape
// decode there without eval (the pages bundle msgpackr's build without `new Function`).
import { expect, test, type Page } from '@playwright/test';
import { Client } from '@meshwork/client';
import { LocalCluster } from '@meshwork/server';
import { joinTab } from './fixtures/tabs.js';

let cluster: LocalCluster;
let client: Client;
const pageErrors: string[] = [];

test.beforeAll(async () => {
  cluster = await LocalCluster.start({ workers: 0 });
  client = await Client.connect(cluster.address, { name: 'csp-spec' });
});
test.afterAll(async () => {
  await client?.close();
  await cluster?.close();
});

/** Records CSP violations the page reports. */
async function watchViolations(page: Page): Promise<() => Promise<string[]>> {
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { cspViolations: string[] }).cspViolations = seen;
    document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return () => page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations);
}

/**
 * Records CSP violations reported in the page's Web Workers (each reports through its console, so
 * a worker that ends early still counts). `attached()` resolves once every worker started so far
 * listens.
 */
function watchWorkerViolations(page: Page): { seen: string[]; attached: () => Promise<unknown> } {
  const seen: string[] = [];
  const listening: Promise<unknown>[] = [];
  page.on('console', (m) => {
    if (m.text().startsWith(WORKER_VIOLATION)) seen.push(m.text());
  });
  page.on('worker', (w) => {
    listening.push(
      w
        .evaluate((tag) => {
          self.addEventListener('securitypolicyviolation', (e) =>
            console.log(`${tag} ${self.location.pathname} ${e.violatedDirective} ${e.blockedURI}`),
          );
        }, WORKER_VIOLATION)
        .catch(() => undefined), // a worker that already ended
    );
  });
  return { seen, attached: () => Promise.all(listening) };
}
const WORKER_VIOLATION = 'csp-violation-in-worker';

/**
 * Has the page load an image from another origin (refused by img-src) and waits until that is
 * reported: violations are reported in order, so every earlier one is in by then. Returns the others.
 */
async function flushViolations(page: Page, violations: () => Promise<string[]>): Promise<string[]> {
  const marker = `img-src ${FLUSH_URL}`;
  await page.evaluate((url) => {
    new Image().src = url;
  }, FLUSH_URL);
  await expect.poll(async () => (await violations()).includes(marker)).toBe(true);
  return (await violations()).filter((v) => v !== marker);
}
const FLUSH_URL = 'http://csp-flush.invalid/pixel.png';

test('the join page, its Web Workers and the dashboard decode many records of one shape without eval', async ({
  browser,
}) => {
  const page = await browser.newPage();
  const violations = await watchViolations(page);
  const workers = watchWorkerViolations(page);
  const tab = await joinTab(page, cluster.httpUrl, '?threads=2&name=csp-records', pageErrors);
  await workers.attached();

  // Tasks returning arrays of small objects of one shape, then one task taking all of them: its
  // task message names its 12 dependencies, 12 records of one shape, in one frame to the tab.
  const points = (n: number) => Array.from({ length: 8 }, (_, i) => ({ n, i, label: `p${i}` }));
  const count = (...lists: unknown[][]) => lists.reduce((sum, l) => sum + l.length, 0);
  const inputs = Array.from({ length: 12 }, (_, n) => n);
  const futures = client.with({ workers: [tab.id], name: 'points' }).map(points, inputs);
  expect(await client.gather(futures)).toEqual(inputs.map(points));
  expect(
    await client
      .with({ workers: [tab.id], name: 'count' })
      .submit(count, ...futures)
      .result(),
  ).toBe(12 * 8);
  await workers.attached();

  // A dashboard's first update carries the whole task stream kept: 13 runs, one shape.
  const dash = await browser.newPage();
  const dashViolations = await watchViolations(dash);
  await dash.goto(`${cluster.httpUrl}/`);
  await expect(dash.locator('#group-list li[data-group="points"]')).toHaveAttribute('data-finished', '12', {
    timeout: 15_000,
  });

  const reported = {
    join: await flushViolations(page, violations),
    dashboard: await flushViolations(dash, dashViolations),
    workers: workers.seen,
  };
  expect(reported).toEqual({ join: [], dashboard: [], workers: [] });
  await dash.close();
  await page.close();
  expect(pageErrors).toEqual([]);
});

test('the join page and the dashboard run under a strict CSP; tasks run in Web Workers, never on the page', async ({
  browser,
}) => {
  for (const path of ['/join', '/', '/mandelbrot']) {
    const res = await fetch(`${cluster.httpUrl}${path}`);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp, path).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(csp, path).not.toContain("'unsafe-eval'");
    expect(csp, path).not.toContain('unsafe-inline');
  }
  const page = await browser.newPage();
  const violations = await watchViolations(page);
  const tab = await joinTab(page, cluster.httpUrl, '?threads=1&name=csp', pageErrors);
  const square = (x: number) => x * x;
  expect(
    await client
      .with({ workers: [tab.id] })
      .submit(square, 12)
      .result(),
  ).toBe(144);
  expect(await violations()).toEqual([]);
  // WebAssembly may be compiled (the page hashes fetched values with it), without a report.
  expect(await page.evaluate(async () => (await WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))) instanceof WebAssembly.Module)).toBe(true);
  expect(await violations()).toEqual([]);
  // The page itself cannot turn text into code: an injected inline script and a string timer
  // (compiled by the page, not by the test's debugger) are both refused and reported.
  await page.evaluate(() => {
    const w = window as unknown as { ranInline?: boolean; ranTimer?: boolean };
    const script = document.createElement('script');
    script.textContent = 'window.ranInline = true';
    document.body.appendChild(script);
    (setTimeout as unknown as (code: string, ms: number) => void)('window.ranTimer = true', 0);
    return w.ranInline;
  });
  await expect.poll(async () => (await violations()).some((v) => v.endsWith('eval'))).toBe(true);
  expect(
    await page.evaluate(() => [
      (window as { ranInline?: boolean }).ranInline,
      (window as { ranTimer?: boolean }).ranTimer,
    ]),
  ).toEqual([undefined, undefined]);
  const refused = await violations();
  expect(refused.some((v) => v.startsWith('script-src-elem') && v.endsWith('inline'))).toBe(true);
  expect(refused.some((v) => v.startsWith('script-src') && v.endsWith('eval'))).toBe(true);

  const dash = await browser.newPage();
  const dashViolations = await watchViolations(dash);
  await dash.goto(`${cluster.httpUrl}/`);
  await expect(dash.locator('body')).toContainText('csp', { timeout: 15_000 });
  expect(await dashViolations()).toEqual([]);
  await dash.close();
  await page.close();
  expect(pageErrors).toEqual([]);
});
