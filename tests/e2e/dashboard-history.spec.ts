// What the dashboard (`/`) shows a user who opens it late, or on an idle cluster: a real scheduler
// (LocalCluster, two Node worker processes), Node clients, the real page in Chromium. Tasks that
// ran and were released still show (per group and in the task stream); the stream spans the time
// of its runs; idle rate charts read 0 to a round top; the bytes headline is the Peers table's
// total; a client that left leaves the peer graph. Needs `npm run build`.
import { expect, test, type Page } from '@playwright/test';
import { Client } from '@meshwork/client';
import { LocalCluster } from '@meshwork/server';
import { clusterState } from './fixtures/tabs.js';

/** How long the page may take to connect and show a first update, in milliseconds. */
const CONNECT_TIMEOUT_MS = 20_000;
/** How long results, heartbeats and the page catching up with them may take, in milliseconds. */
const RESULT_TIMEOUT_MS = 60_000;
/** Tasks run before any dashboard is open, then released. */
const TASKS = 85;
/** Float64 elements of the value a worker and a client fetch: 800 kB, far over what rides inline. */
const VALUE_LENGTH = 100_000;
/** The task stream's shortest span, in milliseconds (STREAM_MIN_SPAN_S of stream-span.ts). */
const STREAM_MIN_SPAN_MS = 10_000;

let cluster: LocalCluster;
const pageErrors: string[] = [];

test.beforeAll(async () => {
  cluster = await LocalCluster.start({ workers: 2 });
});

test.afterAll(async () => {
  await cluster?.close();
});

test.afterEach(() => {
  expect(pageErrors, 'uncaught errors in the pages').toEqual([]);
});

async function openDashboard(page: Page): Promise<void> {
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${cluster.httpUrl}/`);
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'connected', { timeout: CONNECT_TIMEOUT_MS });
  await expect.poll(() => attr(page, '#updated', 'data-at'), { timeout: CONNECT_TIMEOUT_MS }).toBeGreaterThan(0);
}

async function attr(page: Page, selector: string, name: string): Promise<number> {
  return Number(await page.locator(selector).getAttribute(name));
}

/** The labels a rate chart's y axis draws, bottom to top. */
async function yTicks(page: Page, chart: string): Promise<string[]> {
  return ((await page.locator(chart).getAttribute('data-y-ticks')) ?? '').split('|').filter((l) => l !== '');
}

test('idle rate charts read from 0 to a round top, every tick label different', async ({ page }) => {
  await openDashboard(page);
  for (const [chart, top] of [
    ['#rate-tasks', '10'],
    ['#rate-bytes', '10 kB'],
  ] as const) {
    await expect.poll(() => yTicks(page, chart)).not.toEqual([]);
    const labels = await yTicks(page, chart);
    expect(labels[0], `${chart} starts at 0`).toMatch(/^0( B)?$/);
    expect(labels.at(-1), `${chart} tops at a round idle maximum`).toBe(top);
    expect(new Set(labels).size, `${chart}: ${labels.join(', ')}`).toBe(labels.length);
  }
});

test('a page opened after tasks ran and were released shows them, and the stream spans their time', async ({
  page,
}) => {
  const client = await Client.connect(cluster.address, { name: 'history-spec' });
  try {
    const inc = (x: number): number => x + 1;
    const inputs = Array.from({ length: TASKS }, (_, i) => i);
    const futures = client.map(inc, inputs);
    expect(await client.gather(futures, { timeoutMs: RESULT_TIMEOUT_MS })).toEqual(inputs.map(inc));
    for (const f of futures) f.release();
    await expect
      .poll(async () => (await clusterState(cluster.httpUrl)).tasks, { timeout: RESULT_TIMEOUT_MS })
      .toEqual({ waiting: 0, processing: 0, memory: 0, erred: 0 });
  } finally {
    await client.close();
  }

  await openDashboard(page);
  // The group stays listed with what it did; the page does not say there were no tasks.
  const group = page.locator('#group-list li[data-group="inc"]');
  await expect(group).toHaveAttribute('data-finished', String(TASKS));
  await expect(group).toHaveAttribute('data-memory', '0');
  await expect(group).toContainText(`${TASKS} finished`);
  await expect(page.locator('#no-groups')).toBeHidden();
  await expect(page.locator('body')).not.toContainText('No tasks yet');
  expect(await attr(page, '#tasks-finished', 'data-value')).toBeGreaterThanOrEqual(TASKS);
  // The task stream has every run, though no dashboard was open while they ran.
  expect(await attr(page, '#stream', 'data-entries')).toBeGreaterThanOrEqual(TASKS);
  await expect(page.locator('#stream-span')).toContainText('Task runs from');

  // The stream spans its runs (at least STREAM_MIN_SPAN_MS), not the time since: wait until the
  // last run is a few seconds old, then the span must still end at it.
  const last = await attr(page, '#stream', 'data-last');
  const first = await attr(page, '#stream', 'data-first');
  await expect
    .poll(async () => (await attr(page, '#updated', 'data-at')) - last, { timeout: RESULT_TIMEOUT_MS })
    .toBeGreaterThan(3_000);
  const from = await attr(page, '#stream', 'data-from');
  const to = await attr(page, '#stream', 'data-to');
  const span = Math.max(STREAM_MIN_SPAN_MS, last - first);
  expect(from).toBeLessThanOrEqual(first);
  expect(to).toBeGreaterThanOrEqual(last);
  expect(to - last, 'the span ends at the last run, not at the time of the update').toBeLessThanOrEqual(span * 0.05);
  expect(to - from).toBeLessThanOrEqual(span * 1.05);
});

test('the bytes headline is the Peers table total, clients included; a client that left leaves the graph', async ({
  page,
}) => {
  await openDashboard(page);
  const state = await clusterState(cluster.httpUrl);
  const [a, b] = state.workers.map((w) => w.id) as [string, string];
  const client = await Client.connect(cluster.address, { name: 'traffic-spec' });
  const reader = await Client.connect(cluster.address, { name: 'reader-spec' });
  try {
    // A value made on a and used on b (a → b over TCP).
    const made = client
      .with({ workers: [a], allowOtherWorkers: false, pure: false })
      .submit((n: number) => new Float64Array(n).fill(3), VALUE_LENGTH);
    const length = (xs: Float64Array): number => xs.length;
    const onB = client.with({ workers: [b], allowOtherWorkers: false, pure: false }).submit(length, made);
    expect(await onB.result({ timeoutMs: RESULT_TIMEOUT_MS })).toBe(VALUE_LENGTH);
    // The reader gathers a value of its own straight from the worker holding it.
    const value = await reader
      .with({ pure: false })
      .submit((n: number) => new Float64Array(n).fill(4), VALUE_LENGTH)
      .result({ timeoutMs: RESULT_TIMEOUT_MS });
    expect(value.length).toBe(VALUE_LENGTH);

    // Both transfers reach the page with the next heartbeats of the workers that made them.
    const edgeBytes = async (selector: string): Promise<number> =>
      (
        await page
          .locator(`#traffic-rows ${selector}`)
          .evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-bytes'))))
      ).reduce((n, x) => n + x, 0);
    await expect
      .poll(() => edgeBytes(`tr[data-from="${a}"][data-to="${b}"]`), { timeout: RESULT_TIMEOUT_MS })
      .toBeGreaterThanOrEqual(VALUE_LENGTH * 8);
    await expect
      .poll(() => edgeBytes(`tr[data-to="${reader.id}"]`), { timeout: RESULT_TIMEOUT_MS })
      .toBeGreaterThanOrEqual(VALUE_LENGTH * 8);
    await expect(page.locator('#peer-graph svg g.node text', { hasText: reader.id })).toHaveCount(1);

    // One update's numbers: the headline, the rows, the rest and total rows.
    const read = () =>
      page.evaluate(() => {
        const bytes = (e: Element | null): number => Number(e?.getAttribute('data-bytes') ?? 0);
        const rows = [...document.querySelectorAll('#traffic-rows tr')].reduce((n, r) => n + bytes(r), 0);
        return {
          headline: Number(document.getElementById('bytes-moved')?.dataset['value']),
          rows,
          rest: bytes(document.querySelector('#traffic-foot .traffic-rest')),
          total: bytes(document.querySelector('#traffic-foot .traffic-total')),
        };
      });
    const live = await read();
    expect(live.rows, 'the rows add up to no more than the headline').toBeLessThanOrEqual(live.headline);
    expect(live.headline, 'worker → worker and worker → client bytes').toBeGreaterThanOrEqual(2 * VALUE_LENGTH * 8);
    expect(live.total).toBe(live.headline);
    expect(live.rows + live.rest).toBe(live.headline);

    // The reader leaves: its node and edges go from the graph and table, its bytes stay in the total.
    const readerId = reader.id;
    await reader.close();
    await expect(page.locator(`#traffic-rows tr[data-to="${readerId}"]`)).toHaveCount(0, {
      timeout: RESULT_TIMEOUT_MS,
    });
    await expect(page.locator('#peer-graph svg g.node text', { hasText: readerId })).toHaveCount(0);
    const after = await read();
    expect(after.total).toBe(after.headline);
    expect(after.rows + after.rest).toBe(after.headline);
    expect(after.rest, 'what the reader got is counted under peers that left').toBeGreaterThanOrEqual(VALUE_LENGTH * 8);
    expect(after.headline).toBeGreaterThanOrEqual(live.headline);
  } finally {
    await reader.close();
    await client.close();
  }
});
