/** The pending-task budget is per principal (the token a connection came with), not per connection. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PendingTasks, principalOf } from '../src/transport/pending-tasks.js';

const keys = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

test('connections of one token share one budget; another token has its own', () => {
  const pending = new PendingTasks(10, () => true);
  pending.join('a', principalOf(true, 'secret'));
  pending.join('b', principalOf(true, 'secret'));
  pending.join('c', principalOf(true, 'other'));
  assert.deepEqual(pending.admit('a', keys('a', 6)), { ok: true });
  assert.deepEqual(pending.admit('b', keys('b', 6)), { ok: false, pending: 6 });
  assert.deepEqual(pending.admit('b', keys('b', 4)), { ok: true });
  assert.deepEqual(pending.admit('c', keys('c', 10)), { ok: true });
  // A task's client counts against the principal of the client it acts for.
  pending.join('task-of-a', pending.principalOfClient('a') ?? '');
  assert.deepEqual(pending.admit('task-of-a', keys('t', 1)), { ok: false, pending: 10 });
});

test('on a scheduler with no token every client is one principal, whatever token it shows', () => {
  assert.equal(principalOf(false, 'made-up'), principalOf(false, undefined));
  assert.notEqual(principalOf(true, 'x'), principalOf(true, 'y'));
});

test("a principal's count outlives a connection while another of its connections is open, and goes with the last", () => {
  const pending = new PendingTasks(10, () => true);
  pending.join('a', 'p');
  pending.join('b', 'p');
  pending.admit('a', keys('a', 10));
  pending.forget('a');
  assert.deepEqual(pending.admit('b', keys('b', 1)), { ok: false, pending: 10 });
  pending.forget('b');
  pending.join('c', 'p');
  assert.deepEqual(pending.admit('c', keys('c', 10)), { ok: true });
});
