// A soak of real volunteers: 20 /join tabs in one Chromium (no Node worker) run a client's
// workload — a map of small tasks and a tree reduction whose 80 KB intermediate arrays travel
// between tabs over WebRTC — once on quiet tabs, then again while half the tabs are closed at
// random moments and as many new ones open. Every answer must be right, no task lost, and the
// scheduler must end listing exactly the tabs still open. The two durations are logged, not asserted.
// Needs `npm run build` (the packages, and the join page bundled by Vite).
import { expect, test, type Browser, type Page } from '@playwright/test';
import { Client, type Future } from '@meshwork/client';
import { LocalCluster } from '@meshwork/server';
import { chaosSeed, seededRandom } from '../integration/chaos-graph.mjs';
import { clusterState, joinTab, metric, schedulerDump } from './fixtures/tabs.js';
import { make, total } from './fixtures/values.js';

const TABS = 20;
/** Tabs closed (and as many opened) during the churned run: half of them. */
const CHURN = TABS / 2;
/** Small tasks in the map; each waits MAP_TASK_MS, so the tabs' few threads stay idle. */
const MAP_TASKS = 300;
const MAP_TASK_MS = 400;
/** Leaves of the tree reduction, each an array of LEAF_LENGTH float64 (80 KB: over the 64 KiB that ride inline). */
const LEAVES = 32;
const LEAF_LENGTH = 10_000;
/** The churn strikes when this share of the workload's tasks has settled, spread at random. */
const CHURN_FROM = 0.05;
const CHURN_UNTIL = 0.8;
const WORK_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = 150_000;
/** Tabs joining at once: more and, on two loaded cores, their WebSockets miss CONNECT_TIMEOUT_MS. */
const JOINING_AT_ONCE = 4;
const WEBRTC_BYTES = 'meshwork_peer_bytes_total{path="webrtc"}';
const RELAY_BYTES = 'meshwork_peer_bytes_total{path="relay"}';
/** Peer bytes reach the metrics on the next heartbeats of the tabs that received them, within this. */
const COUNTED_WITHIN_MS = 10_000;

const log = (line: string): void => console.log(`# ${line}`);

// A trace of TABS+ pages (DOM snapshots of each at every action) costs more than two cores have.
test.use({ trace: 'off' });

const square = async (i: number, ms: number): Promise<number> => {
  await new Promise((r) => setTimeout(r, ms));
  return (i * i) % 1009;
};
const add = (a: Float64Array, b: Float64Array): Float64Array => {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) + (b[i] as number);
  return out;
};

/** What the workload must give, computed here. */
function expected(): { squares: number[]; reduced: number } {
  const squares = Array.from({ length: MAP_TASKS }, (_, i) => (i * i) % 1009);
  let reduced = 0;
  for (let j = 0; j < LEAVES; j++) reduced += total(make(LEAF_LENGTH, j + 1));
  return { squares, reduced };
}

interface Workload {
  futures: Future<unknown>[];
  squares: Future<number>[];
  reduced: Future<number>;
}

/** Submits the map and the tree reduction (fresh keys: nothing is shared with an earlier run). */
function submitWorkload(client: Client): Workload {
  const fresh = client.with({ pure: false });
  const squares = fresh.map(
    square,
    Array.from({ length: MAP_TASKS }, (_, i) => i),
    Array.from({ length: MAP_TASKS }, () => MAP_TASK_MS),
  );
  let layer: Future<Float64Array>[] = Array.from({ length: LEAVES }, (_, j) => fresh.submit(make, LEAF_LENGTH, j + 1));
  const futures: Future<unknown>[] = [...squares, ...layer];
  while (layer.length > 1) {
    const next: Future<Float64Array>[] = [];
    for (let i = 0; i < layer.length; i += 2)
      next.push(fresh.submit(add, layer[i] as Future<Float64Array>, layer[i + 1] as Future<Float64Array>));
    futures.push(...next);
    layer = next;
  }
  const reduced = fresh.submit(total, layer[0] as Future<Float64Array>);
  futures.push(reduced);
  return { futures, squares, reduced };
}

/** Tabs joined to the cluster, by page; open and close keep the map in step with the browser. */
class Volunteers {
  readonly live = new Map<Page, string>();
  /** The tabs of the first batch still open: the ones the churn closes. */
  readonly first = new Set<Page>();
  private serial = 0;

  constructor(
    private readonly browser: Browser,
    private readonly httpUrl: string,
    private readonly errors: string[],
  ) {}

  async open(first = false): Promise<void> {
    const page = await this.browser.newPage();
    const tab = await joinTab(page, this.httpUrl, `?threads=1&name=volunteer-${this.serial++}`, this.errors);
    this.live.set(page, tab.id);
    if (first) this.first.add(page);
  }

  async close(page: Page): Promise<void> {
    this.live.delete(page);
    this.first.delete(page);
    await page.close();
  }

  ids(): string[] {
    return [...this.live.values()].sort();
  }
}

test(`${TABS} tabs, half of them replaced while a map and a tree reduction run: every answer right, none lost`, async ({
  browser,
}) => {
  test.setTimeout(TEST_TIMEOUT_MS);
  const random = seededRandom(chaosSeed('soak'));
  const want = expected();
  const cluster = await LocalCluster.start({ workers: 0 });
  const client = await Client.connect(cluster.address, { name: 'soak' });
  const pageErrors: string[] = [];
  const tabs = new Volunteers(browser, cluster.httpUrl, pageErrors);
  try {
    let started = Date.now();
    for (let i = 0; i < TABS; i += JOINING_AT_ONCE)
      await Promise.all(Array.from({ length: Math.min(JOINING_AT_ONCE, TABS - i) }, () => tabs.open(true)));
    log(`${TABS} tabs joined in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    /** Runs the workload, calling `onSettled(share)` as its tasks settle; checks every answer. */
    const run = async (onSettled: (share: number) => void = () => {}): Promise<number> => {
      const webrtcBefore = (await metric(cluster.httpUrl, WEBRTC_BYTES)) ?? 0;
      const relayBefore = (await metric(cluster.httpUrl, RELAY_BYTES)) ?? 0;
      const t0 = Date.now();
      const work = submitWorkload(client);
      let settled = 0;
      for (const f of work.futures) f.onDone(() => onSettled(++settled / work.futures.length));
      const squares = await client.gather(work.squares, { timeoutMs: WORK_TIMEOUT_MS });
      const reduced = await work.reduced.result({ timeoutMs: WORK_TIMEOUT_MS });
      const seconds = (Date.now() - t0) / 1000;
      expect(squares, 'every square right').toEqual(want.squares);
      expect(reduced, 'the reduction right').toBe(want.reduced);
      // Workers report peer bytes on their heartbeats (HEARTBEAT_INTERVAL_MS): the reduction ends
      // last, behind the map, so its transfers may not be counted yet when the answers arrive.
      const moved = async (): Promise<{ webrtc: number; relay: number }> => ({
        webrtc: ((await metric(cluster.httpUrl, WEBRTC_BYTES)) ?? 0) - webrtcBefore,
        relay: ((await metric(cluster.httpUrl, RELAY_BYTES)) ?? 0) - relayBefore,
      });
      let bytes = await moved();
      for (
        const until = Date.now() + COUNTED_WITHIN_MS;
        bytes.webrtc < LEAF_LENGTH * 8 && Date.now() < until;
        bytes = await moved()
      )
        await new Promise((r) => setTimeout(r, 200));
      expect(
        bytes.webrtc,
        `intermediate arrays travelled between tabs over WebRTC (relayed: ${bytes.relay} bytes)`,
      ).toBeGreaterThanOrEqual(LEAF_LENGTH * 8);
      for (const f of work.futures) f.release();
      return seconds;
    };

    const quiet = await run();

    // Churn: CHURN tabs closed at random points of the run's progress, each replaced at once.
    const marks = Array.from({ length: CHURN }, () => CHURN_FROM + random() * (CHURN_UNTIL - CHURN_FROM)).sort();
    let share = 0;
    let closedWhileRunning = 0;
    const opening: Promise<void>[] = [];
    let reachedMark: (() => void) | undefined;
    const churn = (async () => {
      for (const mark of marks) {
        while (share < mark) await new Promise<void>((r) => (reachedMark = r));
        const pages = [...tabs.first];
        const page = pages[Math.floor(random() * pages.length)] as Page;
        if (share < 1) closedWhileRunning++;
        await tabs.close(page);
        opening.push(tabs.open());
      }
    })();
    started = Date.now();
    const churned = await run((s) => {
      share = s;
      reachedMark?.();
    });
    await churn;
    await Promise.all(opening);
    log(
      `the workload (${MAP_TASKS} map tasks, a ${LEAVES}-leaf tree reduction) on ${TABS} tabs: ` +
        `${quiet.toFixed(1)} s quiet, ${churned.toFixed(1)} s while ${CHURN} tabs were replaced`,
    );
    expect(closedWhileRunning, 'every tab was closed while the work ran').toBe(CHURN);
    expect(tabs.live.size).toBe(TABS);
    await expect
      .poll(async () => (await clusterState(cluster.httpUrl)).workers.map((w) => w.id).sort(), { timeout: 10_000 })
      .toEqual(tabs.ids());
    await expect.poll(async () => (await schedulerDump(cluster.httpUrl)).taskCount).toBe(0);
    expect((await schedulerDump(cluster.httpUrl)).invariants).toEqual([]);
    expect(pageErrors).toEqual([]);
  } finally {
    await Promise.allSettled([...tabs.live.keys()].map((p) => p.close()));
    await client.close();
    await cluster.close();
  }
});
