import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { valueHash } from '../src/hash.js';

test('valueHash is SHA-256 with Web Crypto, and the same without it (a page that is not a secure context)', async (t) => {
  const bytes = new Uint8Array(300_000).map((_, i) => i * 7);
  const expected = createHash('sha256').update(bytes).digest('hex');
  assert.equal(await valueHash(bytes), expected);
  const real = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
  Object.defineProperty(globalThis, 'crypto', { value: {}, configurable: true });
  t.after(() => {
    if (real) Object.defineProperty(globalThis, 'crypto', real);
  });
  assert.equal(await valueHash(bytes), expected);
  assert.equal(await valueHash(bytes.subarray(5, 1000)), createHash('sha256').update(bytes.subarray(5, 1000)).digest('hex'));
});
