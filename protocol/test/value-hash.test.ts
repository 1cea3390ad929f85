import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { blake3 } from '@noble/hashes/blake3';
import { valueHash, valueHashOfParts } from '../src/hash.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

test('valueHash is BLAKE3: the published digests of the empty input and of "abc"', async () => {
  assert.equal(await valueHash(new Uint8Array(0)), 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262');
  assert.equal(
    await valueHash(new TextEncoder().encode('abc')),
    '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85',
  );
});

test('valueHash agrees with a second implementation on large values, views of shared memory and values in pieces', async () => {
  const shared = new Uint8Array(new SharedArrayBuffer(3_000_000)).map((_, i) => (i * 7) ^ (i >> 11));
  const plain = new Uint8Array(shared);
  assert.equal(await valueHash(shared), hex(blake3(plain)));
  assert.equal(await valueHash(shared.subarray(5, 1_000_005)), hex(blake3(plain.subarray(5, 1_000_005))));
  assert.equal(
    await valueHashOfParts([shared.subarray(0, 17), shared.subarray(17, 2_000_000), shared.subarray(2_000_000)]),
    hex(blake3(plain)),
  );
  // Calls in flight together share one hasher: none may see another's bytes.
  const many = await Promise.all([1, 2, 3, 4].map((n) => valueHash(plain.subarray(0, n * 100_000))));
  assert.deepEqual(
    many,
    [1, 2, 3, 4].map((n) => hex(blake3(plain.subarray(0, n * 100_000)))),
  );
});

test('without WebAssembly (a page whose CSP forbids it) valueHash gives the same digest in JavaScript', () => {
  // --jitless leaves Node without WebAssembly, as such a page is.
  const module = fileURLToPath(new URL('../src/hash.ts', import.meta.url));
  const script = `
    if (typeof WebAssembly !== 'undefined') throw new Error('WebAssembly is still there');
    const { valueHash } = await import(${JSON.stringify(module)});
    process.stdout.write(await valueHash(new TextEncoder().encode('abc')));`;
  const out = execFileSync(process.execPath, ['--jitless', '--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  assert.equal(out, '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85');
});

test('a hash-wasm module that failed to load (a bundle chunk lost to the network) is loaded again on the next call', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'meshwork-hash-'));
  try {
    // Loader hooks: the first import of hash-wasm fails, as a lost chunk would; each attempt is told.
    const hooks = join(dir, 'hooks.mjs');
    await writeFile(
      hooks,
      `let port; let attempts = 0;
       export function initialize(data) { port = data.port; }
       export async function resolve(specifier, context, next) {
         if (specifier === 'hash-wasm') { attempts++; port.postMessage(attempts); if (attempts === 1) throw new Error('chunk lost'); }
         return next(specifier, context);
       }`,
    );
    const module = fileURLToPath(new URL('../src/hash.ts', import.meta.url));
    const script = `
      import { register } from 'node:module';
      import { MessageChannel } from 'node:worker_threads';
      const { port1, port2 } = new MessageChannel();
      let attempts = 0;
      port1.on('message', (n) => { attempts = n; });
      port1.unref();
      register(${JSON.stringify(pathToFileURL(hooks).href)}, { data: { port: port2 }, transferList: [port2] });
      const { valueHash } = await import(${JSON.stringify(module)});
      const abc = new TextEncoder().encode('abc');
      const first = await valueHash(abc);
      const second = await valueHash(abc);
      const third = await valueHash(abc);
      // The hooks' messages cross threads: wait for the second, then a little more for any third.
      for (let i = 0; i < 100 && attempts < 2; i++) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 50));
      process.stdout.write(JSON.stringify({ first, second, third, attempts }));`;
    const out = JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' }),
    ) as { first: string; second: string; third: string; attempts: number };
    const abc = '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85';
    assert.deepEqual(
      [out.first, out.second, out.third],
      [abc, abc, abc],
      'the JavaScript hash meanwhile, the same digest',
    );
    assert.equal(out.attempts, 2, 'tried again once, then kept');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
