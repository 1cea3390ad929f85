// npm packages in tasks on a tab: fflate and mathjs, bundled by client.uploadPackage on the
// client and uploaded, run in the tab's Web Workers (the Node side: tests/integration/upload-package.test.mjs).
// A module uploaded with its imports left unbundled fails there with the same hint as in Node.
import { gunzipSync } from 'node:zlib';
import { expect, test } from '@playwright/test';
import { Client } from '@meshwork/client';
import { LocalCluster } from '@meshwork/server';

/** How long a tab may take to join, in milliseconds. */
const JOIN_TIMEOUT_MS = 20_000;

let cluster: LocalCluster;
let client: Client;

test.beforeAll(async () => {
  cluster = await LocalCluster.start({ workers: 0 });
  client = await Client.connect(cluster.address, { name: 'upload-package-spec' });
});

test.afterAll(async () => {
  await client?.close();
  await cluster?.close();
});

test('fflate and mathjs from npm run in a tab, uploaded as bundles; an unbundled import gets the hint', async ({
  page,
}) => {
  await page.goto(`${cluster.httpUrl}/join?threads=1&name=package-tab`);
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'connected', { timeout: JOIN_TIMEOUT_MS });
  const onTab = client.with({ workers: ['package-tab'], allowOtherWorkers: false });

  const fflate = await client.uploadPackage('fflate');
  const text = 'meshwork '.repeat(1000);
  const gz = await onTab
    .submit(fflate.fn<[Uint8Array], Uint8Array>('gzipSync'), new TextEncoder().encode(text))
    .result();
  expect(gunzipSync(gz).toString()).toBe(text);

  const math = await client.uploadPackage('mathjs', { name: 'math' });
  expect(await onTab.submit(math.fn<[string], number>('evaluate'), 'sqrt(3^2 + 4^2) * 2').result()).toBe(10);

  const unbundled = await client.upload(
    'unbundled',
    "import { gzipSync } from 'fflate';\nexport const gz = (b) => gzipSync(b);\n",
  );
  const error = await onTab
    .submit(unbundled.fn<[Uint8Array], Uint8Array>('gz'), new Uint8Array(4))
    .result()
    .catch((e: Error) => e);
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).message).toMatch(/fflate.*Workers resolve no packages.*uploadPackage/s);
  expect((error as Error).message).not.toMatch(/blob:|data:text/);
  await expect(page.locator('#tasks-done')).toHaveText('3'); // the failed one ran there too
});
