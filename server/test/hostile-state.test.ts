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

test('a gather listing a pending key twice is answered once the key settles', () => {
  const h = new Harness();
  h.worker('a');
  h.client('c');
  h.submit('c', [['x', []]]);
  h.s.gather('c', 7, ['x', 'x']);
  h.s.taskFinished('a', {
    type: 'task-finished',
    key: 'x',
    nbytes: 1,
    value: new Uint8Array([1]),
    startedAt: 0,
    stoppedAt: 1,
    thread: 0,
  });
  h.check();
  assert.ok(h.clientMessages('c').some((m) => m.type === 'gather-reply' && m.id === 7));
});

// Quadratic (queue.shift) took minutes here, past the unit tests' timeout; linear takes milliseconds.
test('cancelling a key listed 300,000 times', () => {
  const h = new Harness();
  h.worker('a');
  h.client('c');
  h.submit('c', [
    ['x', []],
    ['y', ['x']],
  ]);
  h.s.cancel('c', Array.from({ length: 300_000 }, () => 'x'));
  h.check();
  assert.ok(h.clientMessages('c').some((m) => m.type === 'key-cancelled' && m.key === 'y'));
});

test('a task that lists one dependency many times runs once that dependency is in memory', () => {
  const h = new Harness();
  h.worker('a');
  h.client('c');
  h.submit('c', [
    ['x', []],
    ['y', ['x', 'x', 'x']],
  ]);
  h.check();
  h.finish('a', 'x');
  h.check();
  assert.equal(h.status('y'), 'processing');
  assert.deepEqual(
    h.s.tasks.get('y')?.deps.map((d) => d.key),
    ['x'],
  );
  h.finish('a', 'y');
  h.check();
  assert.equal(h.status('y'), 'memory');
});

test('task times from a worker that make a duration endless or negative: the next tasks are still placed', () => {
  for (const [startedAt, stoppedAt] of [
    [0, 1e308],
    [5, 0],
  ] as const) {
    const h = new Harness();
    h.worker('a');
    h.client('c');
    h.submit('c', [['x', []]]);
    h.s.taskFinished('a', { type: 'task-finished', key: 'x', nbytes: 8, startedAt, stoppedAt, thread: 0 });
    assert.ok(Number.isFinite(h.s.durationOf('f')) && h.s.durationOf('f') >= 0, `duration ${h.s.durationOf('f')}`);
    h.submit('c', [
      ['y', []],
      ['z', []],
    ]);
    assert.equal(h.status('y'), 'processing');
    assert.equal(h.status('z'), 'processing');
  }
});
