/** Work stealing in the state machine: an idle worker takes a queued task from a busy one, and keeps it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Harness } from './harness.js';

test('stealing: an idle worker gets a task back from a busy one', () => {
  const h = new Harness({ workerQueueExtra: 2 });
  h.worker('a', 1);
  h.client('c');
  h.submit('c', [
    ['t1', []],
    ['t2', []],
    ['t3', []],
  ]);
  assert.equal(h.drain('a').length, 3);
  h.worker('b', 1);
  const steal = h.toWorkers.get('a')?.find((m) => m.type === 'steal-request');
  assert.ok(steal?.type === 'steal-request');
  h.s.stealResponse('a', steal.key, true);
  h.check();
  assert.deepEqual(h.drain('b'), [steal.key]);
});

test("a stolen task goes to the thief, not back to its input's busy holder (no steal ping-pong)", () => {
  const h = new Harness({ workerQueueExtra: 2 });
  h.worker('a', 1);
  h.client('c');
  h.submit('c', [['x', []]]);
  assert.deepEqual(h.drain('a'), ['x']);
  // Moving x (0.5 + 400 kB at 200 kB/ms = 2.5 ms) costs less than waiting behind a's queue
  // (3 tasks of 1 ms), so b steals; but with one task fewer, a's queue (3 ms with the task) beats
  // the move (1 + 2.5 ms), so placement alone would send it back to the holder.
  h.finish('a', 'x', 400_000);
  h.submit('c', [
    ['t1', ['x']],
    ['t2', ['x']],
    ['t3', ['x']],
  ]);
  assert.equal(h.drain('a').length, 3);
  h.worker('b', 1);
  for (let round = 0; round < 5; round++) {
    const steal = h.toWorkers.get('a')?.find((m) => m.type === 'steal-request');
    if (!steal || steal.type !== 'steal-request') break;
    h.toWorkers.set('a', []);
    h.s.stealResponse('a', steal.key, true);
  }
  h.check();
  assert.equal(h.drain('b').length, 1, 'the thief got the task');
  assert.equal(h.drain('a').length, 0, 'it did not go back to the holder');
  assert.deepEqual(
    h.toWorkers.get('a')?.filter((m) => m.type === 'steal-request') ?? [],
    [],
    'and was not stolen again',
  );
});
