/** ownString: a flat string of its own, for one kept long. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cutFromBig, retainedBy } from '../../tests/support/retained.mjs';
import { decode, encode, ownString } from '../src/index.js';

test('a copy keeps nothing of the text it was cut from, and equals it', () => {
  let own = '';
  // A slice of a 16 MiB text: kept, it would keep all of it.
  const kept = retainedBy(() => {
    own = ownString(cutFromBig('inc-0123456789abcdef0123456789abcdef'));
  });
  assert.equal(own, 'inc-0123456789abcdef0123456789abcdef');
  assert.ok(kept < 1024 * 1024, `${kept} bytes kept`);
});

test('any string comes back equal: decoded from a frame, made with +, long, not Latin-1, empty', () => {
  const [decoded] = decode(encode(['inc-0123456789abcdef0123456789abcdef', 'other'])) as string[];
  let rope = 'inc';
  for (let i = 0; i < 16; i++) rope += 'ab';
  // 'a🔑' is three UTF-16 units: the 4,096-unit pieces of a long copy cut through its pairs.
  for (const s of [decoded ?? '', rope, 'y'.repeat(100_000), 'a🔑'.repeat(5_000), 'ключ-ü-🔑', '1234', '__proto__', ''])
    assert.equal(ownString(s), s);
});
