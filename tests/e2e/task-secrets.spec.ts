// A tab's task code sees no token, on a secured cluster whose admin, client and worker tokens all
// differ: the tab joined with the worker token (`/join?token=`), yet its task Web Workers hold none,
// neither in their globals nor in what an uploaded module's import sends; and a task there still
// submits tasks of its own through `globalThis.meshwork.client()`.
// Needs `npm run build` (tsc -b, then the Vite build into server/site).
import { expect, test } from '@playwright/test';
import { Client } from '@meshwork/client';
import { LocalCluster } from '@meshwork/server';
import { joinTab } from './fixtures/tabs.js';

/** How long results may take to arrive, in milliseconds. */
const RESULT_TIMEOUT_MS = 30_000;
const ADMIN = 'admin-token-e2e-91b3';
const CLIENT = 'client-token-e2e-4c7a';
const WORKER = 'worker-token-e2e-d05f';

let cluster: LocalCluster;
let admin: Client;
let client: Client;
const pageErrors: string[] = [];

test.beforeAll(async () => {
  cluster = await LocalCluster.start({ workers: 0, token: ADMIN, clientToken: CLIENT, workerToken: WORKER });
  admin = await Client.connect(cluster.address, { token: ADMIN, name: 'task-secrets-admin' });
  client = await Client.connect(cluster.address, { token: CLIENT, name: 'task-secrets-spec' });
});
test.afterAll(async () => {
  await client?.close();
  await admin?.close();
  await cluster?.close();
});

function expectNoToken(text: string, where: string): void {
  for (const secret of [ADMIN, CLIENT, WORKER]) expect(text.includes(secret), `${where} shows ${secret}`).toBe(false);
}

test("a tab's tasks find no token, and tasks from tasks work there", async ({ page }) => {
  const tab = await joinTab(page, cluster.httpUrl, `?threads=1&name=secrets&token=${WORKER}`, pageErrors);
  const there = client.with({ pure: false, workers: [tab.id], allowOtherWorkers: false });
  const look = there.submit(async () => {
    const strings: string[] = [];
    const seen = new WeakSet<object>();
    const walk = (value: unknown, depth: number): void => {
      if (typeof value === 'string') return void strings.push(value);
      if ((typeof value !== 'object' && typeof value !== 'function') || value === null || depth > 4 || seen.has(value))
        return;
      seen.add(value);
      for (const name of Reflect.ownKeys(value)) {
        let v: unknown;
        try {
          v = (value as Record<string | symbol, unknown>)[name];
        } catch {
          continue;
        }
        strings.push(String(name));
        // A getter called on a prototype may answer a rejected promise: handled, not walked.
        if (v instanceof Promise) v.catch(() => undefined);
        else if (name !== 'prototype') walk(v, depth + 1);
      }
    };
    walk(globalThis, 0);
    // The task's own client (tasks from tasks) and what it holds: its connection's options too.
    walk(await (globalThis as unknown as { meshwork: { client(): Promise<unknown> } }).meshwork.client(), 0);
    const g = globalThis as unknown as { fetch: typeof fetch; probeFetches: string[] };
    const fetches: string[] = (g.probeFetches = []);
    const realFetch = g.fetch;
    g.fetch = (url, init) => {
      fetches.push(JSON.stringify([url instanceof Request ? url.url : url.toString(), init ?? null]));
      return realFetch(url, init);
    };
    return JSON.stringify({ location: String(globalThis.location), strings });
  });
  const looked = await look.result({ timeoutMs: RESULT_TIMEOUT_MS });
  expect(looked).toContain('meshwork-task-thread'); // it did look around its Web Worker
  expect(looked).toContain('"capability"'); // and into its client's connection options
  expectNoToken(looked, 'a task Web Worker');
  const mod = await admin.upload('secrets-kernels', 'export function cube(x) { return x * x * x; }');
  expect(await there.submit(mod.fn('cube'), 3).result({ timeoutMs: RESULT_TIMEOUT_MS })).toBe(27);
  // What the Web Worker loaded (an `import(url)` goes past a patched fetch, not past resource timing).
  const fetches = await there
    .submit(() => [
      (globalThis as unknown as { probeFetches?: string[] }).probeFetches,
      performance.getEntries().map((e) => e.name),
    ])
    .result({ timeoutMs: RESULT_TIMEOUT_MS });
  expect(Array.isArray(fetches[0]), 'the three tasks ran in one Web Worker').toBe(true);
  expectNoToken(JSON.stringify(fetches), 'the requests of the module import');
  const outer = there.submit(async (x: number) => {
    const meshwork = (globalThis as unknown as { meshwork: { client(): Promise<Client> } }).meshwork;
    const c = await meshwork.client();
    return await c.gather(c.map((y: number) => y * y, [x, x + 1, x + 2]));
  }, 2);
  expect(await outer.result({ timeoutMs: RESULT_TIMEOUT_MS })).toEqual([4, 9, 16]);
  expect(pageErrors).toEqual([]);
});
