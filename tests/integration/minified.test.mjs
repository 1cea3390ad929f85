// A minified build of an app that bundles the client (what Vite and esbuild make for production)
// keeps what users match on: every error's `name` and `code`, and readable task keys through the
// `name` option, although minification renames the client's classes and the app's functions.
// The app (fixtures/minified-app.mjs) is bundled with the client's dist and run against a real
// scheduler with a real worker.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { LocalCluster } from '@meshwork/server';
import { root } from './helpers.mjs';

const CODES = {
  MeshworkError: 'PROTOCOL',
  RemoteError: 'REMOTE_ERROR',
  CancelledError: 'CANCELLED',
  TimeoutError: 'TIMEOUT',
  LostError: 'LOST',
  KilledWorkerError: 'KILLED_WORKER',
  ConnectionError: 'CONNECTION',
  AuthError: 'AUTH',
  ProtocolError: 'PROTOCOL',
  SerializationError: 'SERIALIZATION',
  GraphError: 'GRAPH',
};

/**
 * The meshwork packages go into the bundle, minified with the app; other packages stay imports
 * (resolved from node_modules when the bundle runs): what they are called does not matter here.
 */
const bundleOnlyMeshwork = {
  name: 'bundle-only-meshwork',
  setup(b) {
    b.onResolve({ filter: /^[^./#]/ }, (args) => (args.path.startsWith('@meshwork/') ? undefined : { external: true }));
  },
};

let cluster;
let dir;
before(async () => {
  cluster = await LocalCluster.start({ workers: 1 });
  // Inside the repository's node_modules, so the bundle's imports resolve as they would in an app there.
  mkdirSync(join(root, 'node_modules/.cache'), { recursive: true });
  dir = mkdtempSync(join(root, 'node_modules/.cache/meshwork-minified-'));
});
after(async () => {
  await cluster?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a minified bundle keeps error names and codes, and names task keys with the name option', async () => {
  const built = await build({
    entryPoints: [join(root, 'tests/integration/fixtures/minified-app.mjs')],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    plugins: [bundleOnlyMeshwork],
  });
  const [output] = built.outputFiles;
  assert.ok(output, 'esbuild wrote the bundle');
  assert.doesNotMatch(output.text, /class RemoteError\b/, 'the client is in the bundle, minified');
  const app = join(dir, 'app.mjs');
  writeFileSync(app, output.text);

  const { stdout } = await promisify(execFile)(process.execPath, [app, cluster.address], { cwd: dir });
  const out = JSON.parse(stdout.trim().split('\n').at(-1));
  assert.notEqual(out.fnName, 'increment', 'minification renamed the task function');

  // (a) Error names and codes: of every exported class, and of errors the client raised.
  assert.deepEqual(
    Object.keys(out.classes).sort(),
    Object.keys(CODES).sort(),
    'every error class the client exports was checked',
  );
  for (const [name, code] of Object.entries(CODES)) {
    assert.deepEqual({ name: out.classes[name].name, code: out.classes[name].code }, { name, code }, name);
  }
  assert.deepEqual(out.caught, {
    remote: { name: 'RemoteError', code: 'REMOTE_ERROR', remoteName: 'TypeError' },
    serialization: { name: 'SerializationError', code: 'SERIALIZATION' },
    graph: { name: 'GraphError', code: 'GRAPH' },
    timeout: { name: 'TimeoutError', code: 'TIMEOUT' },
    cancelled: { name: 'CancelledError', code: 'CANCELLED' },
  });

  // (b) Keys: without the option, the minified name; with it, the name given.
  assert.ok(out.defaultKey.startsWith(`${out.fnName}-`), out.defaultKey);
  assert.match(out.namedKey, /^increment-[0-9a-f]{32}$/);
  assert.equal(out.mapKeys.length, 2);
  for (const key of out.mapKeys) assert.match(key, /^increment-[0-9a-f]{32}$/);
  assert.deepEqual(out.results, [3, 11, 21]);
});
