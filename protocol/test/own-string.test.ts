/** ownString: a flat string of its own for one kept long. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInThisContext } from 'node:vm';
import { decode, encode, ownString } from '../src/index.js';

// V8 says whether a string is one of its internalized copies.
setFlagsFromString('--allow-natives-syntax');
const isOwnCopy = runInThisContext('(s) => %IsInternalizedString(s)') as (s: string) => boolean;

test('a slice of a decoded frame and a rope made with + become copies of their own, equal to them', () => {
  const [sliced] = decode(encode(['inc-0123456789abcdef0123456789abcdef', 'other-text-in-the-frame'])) as string[];
  let rope = 'inc';
  for (let i = 0; i < 16; i++) rope += 'ab';
  for (const s of [sliced ?? '', rope, '__proto__', 'ключ-ü-🔑']) {
    const own = ownString(s);
    assert.equal(own, s);
    assert.ok(isOwnCopy(own), JSON.stringify(s));
  }
  assert.ok(!isOwnCopy(sliced ?? '') && !isOwnCopy(rope), 'neither was one before');
  // A name that is an array index comes back made afresh from its number: equal, and flat too.
  assert.equal(ownString('1234'), '1234');
});
