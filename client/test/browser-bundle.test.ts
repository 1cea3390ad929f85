/**
 * The client bundles for browsers with Vite as it is, with no Node polyfills: a web app's build of
 * `import { Client } from '@meshwork/client'` holds the browser adapter (the global WebSocket) and
 * no `ws`, no `node:*` module, no `process`, and no Buffer polyfill. (`Buffer` itself appears only
 * in msgpackr's `typeof Buffer !== 'undefined'` checks, which pick Uint8Array in a browser;
 * tests/e2e/client-bundle.spec.ts runs the bundle in Chromium, where neither global exists.)
 * Uses the package's dist (npm run build).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { build, type Rollup } from 'vite';

const root = fileURLToPath(new URL('../..', import.meta.url));

it('a Vite build of the client for the browser has the browser adapter and no Node code or polyfills', async () => {
  // Inside the repository's node_modules, so the import resolves as it would in a web app there.
  mkdirSync(join(root, 'node_modules/.cache'), { recursive: true });
  const dir = mkdtempSync(join(root, 'node_modules/.cache/meshwork-bundle-'));
  try {
    const entry = join(dir, 'app.js');
    // What a web app writes.
    writeFileSync(
      entry,
      "import { Client } from '@meshwork/client';\n" +
        'export const connect = (url) => Client.connect(url).then((c) => c.submit((x) => x + 1, 1).result());\n',
    );
    const output = (await build({
      configFile: false,
      root,
      logLevel: 'silent',
      build: { write: false, minify: true, lib: { entry, formats: ['es'], fileName: 'app' }, target: 'es2022' },
    })) as Rollup.RollupOutput[];
    const chunks = output.flatMap((o) => o.output).filter((c): c is Rollup.OutputChunk => c.type === 'chunk');
    const code = chunks.map((c) => c.code).join('\n');
    const imports = chunks.flatMap((c) => [...c.imports, ...c.dynamicImports]);

    assert.ok(code.includes('this runtime has no global WebSocket'), 'the browser adapter is in the bundle');
    assert.ok(!code.includes('perMessageDeflate'), 'the Node adapter (ws options) is not');
    assert.deepEqual(
      imports.filter((i) => !chunks.some((c) => c.fileName === i)),
      [],
      'nothing is left to import from outside the bundle',
    );
    for (const [what, pattern] of [
      ['a node: module', /["']node:[a-z_/]+["']/],
      ['the ws package', /from\s*["']ws["']|require\(["']ws["']\)|WebSocketServer|createWebSocketStream/],
      ['process', /(?<![.\w$])process\b(?!\s*\()/],
      ['the buffer package (a Buffer polyfill)', /kMaxLength|poolSize|base64-js|ieee754/],
      ['a definition of Buffer', /\bBuffer\s*=[^=]|function Buffer\b|class Buffer\b/],
      ['a require() call', /\brequire\(/],
    ] as const) {
      const found = pattern.exec(code);
      assert.equal(
        found,
        null,
        `${what} in the bundle: …${found ? code.slice(Math.max(0, found.index - 80), found.index + 80) : ''}…`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
