// The pages send a strict Content-Security-Policy: no eval on the page (task code runs only in the
// task Web Workers, which rebuild functions from source under their own script's policy), scripts
// and connections to this origin only. The join page and the dashboard work under it with no
// violation reported, and a task still runs in the tab.
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

test('the join page and the dashboard run under a strict CSP; tasks run in Web Workers, never on the page', async ({
  browser,
}) => {
  for (const path of ['/join', '/', '/mandelbrot']) {
    const res = await fetch(`${cluster.httpUrl}${path}`);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp, path).toContain("script-src 'self'");
    expect(csp, path).not.toContain('unsafe-eval');
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
