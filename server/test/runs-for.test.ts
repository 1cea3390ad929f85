/** Whom a task runs for (its compute-task carries that client's capability: tasks from tasks). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from './harness.js';

test('a task runs for the first client that wants it, else for the client that created it, else for no one', () => {
  const h = new Harness();
  h.client('a');
  h.client('b');
  h.submit(
    'a',
    [
      ['x', []],
      ['y', ['x']],
    ],
    { unwanted: ['x'] },
  );
  assert.equal(h.s.runsFor('y'), 'a');
  assert.equal(h.s.runsFor('x'), 'a', 'an input only other tasks need runs for its creator');
  // Pure keys, which clients share: `q` needs `p`, which only `a` made and no one wants.
  const p = h.pure('p');
  const q = h.pure('q', [p]);
  h.submit(
    'a',
    [
      [p, []],
      [q, [p]],
    ],
    { unwanted: [p] },
  );
  h.submit(
    'b',
    [
      [p, []],
      [q, [p]],
    ],
    { unwanted: [p] },
  );
  assert.equal(h.s.runsFor(q), 'a', 'the first that wants it');
  h.s.removeClient('a');
  assert.equal(h.s.runsFor(q), 'b', 'the next that wants it, once the first left');
  assert.equal(h.s.runsFor(p), undefined, 'its creator left and no one wants it');
  assert.equal(h.s.runsFor('no-such-key'), undefined);
});
