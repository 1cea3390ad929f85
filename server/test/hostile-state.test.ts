/**
 * Messages that pass the schema but mean harm (or nothing), found by fuzzing the scheduler
 * (tests/integration/fuzz.test.mjs): the state must stay consistent after each.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Harness } from './harness.js';

test('scattered values no one wants, on several workers or listed twice, are freed everywhere', () => {
  const h = new Harness();
  h.worker('a');
  h.worker('b');
  h.client('c');
  h.s.scattered('c', { type: 'scattered', items: [{ key: 's', nbytes: 10, workers: ['a', 'b', 'a'] }], wants: [] });
  h.check();
  assert.equal(h.s.tasks.has('s'), false);
  h.s.scattered('c', {
    type: 'scattered',
    items: [
      { key: 'd', nbytes: 10, workers: ['a'] },
      { key: 'd', nbytes: 10, workers: ['b'] },
    ],
    wants: [],
  });
  h.check();
  assert.equal(h.s.workers.get('a')?.bytesStored, 0);
  assert.equal(h.s.workers.get('b')?.bytesStored, 0);
});
