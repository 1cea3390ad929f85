// npm packages in tasks: client.uploadPackage bundles a package (or a file and what it imports)
// with esbuild on the client and uploads it; the Node worker runs its exports without having the
// package installed anywhere it could resolve it. The same on tabs: tests/e2e/upload-package.spec.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { Client } from '@meshwork/client';
import { root, withCluster } from './helpers.mjs';

test('two npm libraries, fflate and mathjs, bundled and uploaded, run on a Node worker', async () => {
  await withCluster({ workers: 1 }, async (cluster) => {
    const client = await Client.connect(cluster.address);
    try {
      const fflate = await client.uploadPackage('fflate');
      assert.equal(fflate.name, 'fflate');
      const text = 'meshwork '.repeat(1000);
      const gz = await client.submit(fflate.fn('gzipSync'), new TextEncoder().encode(text)).result();
      assert.ok(gz.byteLength < 200, `compressed: ${gz.byteLength} bytes`);
      assert.equal(gunzipSync(gz).toString(), text, 'real gzip, read back by node:zlib');

      const math = await client.uploadPackage('mathjs', { name: 'math' });
      assert.equal(await client.submit(math.fn('evaluate'), 'sqrt(3^2 + 4^2) * 2').result(), 10);
      assert.deepEqual(await client.gather(client.map(math.fn('format'), [Math.PI, 1 / 3], [4, 3])), [
        '3.142',
        '0.333',
      ]);

      // A file, with what it imports bundled in; its name comes from the file's.
      const entry = await client.uploadPackage('./tests/integration/fixtures/package-entry.mjs', { resolveFrom: root });
      assert.equal(entry.name, 'package-entry');
      assert.equal(await client.submit(entry.fn('roundTrip'), 'héllo').result(), 'héllo');
    } finally {
      await client.close();
    }
  });
});

test('a package that cannot run on every worker, or cannot be found, is refused at the client with a GraphError that says why', async () => {
  await withCluster({ workers: 1 }, async (cluster) => {
    const client = await Client.connect(cluster.address);
    try {
      // cli-progress needs Node's own modules: a tab could not run it.
      await assert.rejects(
        client.uploadPackage('cli-progress'),
        (e) =>
          e.name === 'GraphError' &&
          e.code === 'GRAPH' &&
          /could not bundle "cli-progress".*Could not resolve "(events|readline)"/.test(e.message),
      );
      await assert.rejects(
        client.uploadPackage('no-such-package-for-meshwork'),
        (e) => e.name === 'GraphError' && /Could not resolve "no-such-package-for-meshwork"/.test(e.message),
      );
      await assert.rejects(
        client.uploadPackage('fflate', { name: 'not a name!' }),
        (e) => e.name === 'GraphError' && /module name must match/.test(e.message),
      );
      await assert.rejects(
        client.uploadPackage('./missing-file.mjs', { resolveFrom: join(root, 'tests') }),
        (e) => e.name === 'GraphError',
      );
    } finally {
      await client.close();
    }
  });
});

test('a module uploaded without its imports bundled fails with a hint, not a page of base64', async () => {
  await withCluster({ workers: 1 }, async (cluster) => {
    const client = await Client.connect(cluster.address);
    try {
      const mod = await client.upload(
        'unbundled',
        "import { gzipSync } from 'fflate';\nexport const gz = (b) => gzipSync(b);\n",
      );
      const error = await client
        .submit(mod.fn('gz'), new Uint8Array(4))
        .result()
        .catch((e) => e);
      assert.equal(error.name, 'RemoteError');
      assert.match(error.message, /"fflate".*Workers resolve no packages.*uploadPackage/s);
      assert.doesNotMatch(error.message, /base64|data:text/, 'no module URL in the message');
    } finally {
      await client.close();
    }
  });
});
