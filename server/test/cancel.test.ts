// cancel (dask's semantics): without force a client drops only its own interest; with force
// (the admin's) a key and everything downstream are cancelled for every client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from './harness.js';

/** Clients c and d share the pure tasks x and y(x); c wants both, d only y; x is running on worker a. */
function sharedChain(): { h: Harness; x: string; y: string } {
  const h = new Harness();
  h.worker('a');
  h.client('c');
  h.client('d');
  const x = h.pure('x');
  const y = h.pure('y', [x]);
  h.submit('c', [[x, []], [y, [x]]]);
  h.submit('d', [[x, []], [y, [x]]], { unwanted: [x] });
  h.drain('a');
  return { h, x, y };
}

const cancelledKeys = (h: Harness, client: string): string[] =>
  h.clientMessages(client).flatMap((m) => (m.type === 'key-cancelled' ? [m.key] : [])).sort();

test("cancel without force drops the caller's interest only: work another client needs goes on", () => {
  const { h, x, y } = sharedChain();
  h.s.cancel('c', [x]);
  h.check();
  assert.deepEqual(cancelledKeys(h, 'c'), [x, y].sort(), "the caller's futures downstream are cancelled too");
  assert.deepEqual(cancelledKeys(h, 'd'), [], 'the other client is not told');
  assert.equal(h.status(x), 'processing', 'x is still needed for y, which d wants');
  assert.ok(!h.toWorkers.get('a')?.some((m) => m.type === 'free-keys'));
  h.finish('a', x);
  h.finish('a', y);
  assert.equal(h.status(y), 'memory');
  h.s.cancel('d', [y]);
  h.check();
  assert.equal(h.s.tasks.size, 0, 'no one needs anything now');
});

test('cancel names only keys the caller holds futures for', () => {
  const { h, x } = sharedChain();
  h.s.cancel('d', [x], true);
  h.check();
  assert.equal(h.status(x), 'processing', "d holds no future for x: even with force it cancels nothing of c's");
  assert.deepEqual(cancelledKeys(h, 'c'), []);
});

test('cancel with force: every client holding the key or a dependent is told; running work is abandoned', () => {
  const { h, x, y } = sharedChain();
  h.s.cancel('c', [x], true);
  h.check();
  assert.equal(h.s.tasks.size, 0, 'nothing kept');
  assert.deepEqual(cancelledKeys(h, 'c'), [x, y].sort());
  assert.deepEqual(cancelledKeys(h, 'd'), [y]);
  assert.ok(h.toWorkers.get('a')?.some((m) => m.type === 'free-keys' && m.keys.includes(x)), 'the running task is abandoned');
});

test('cancelling one key of a pending gather answers that key as cancelled and the rest as they settle', () => {
  const h = new Harness();
  h.worker('a');
  h.client('c');
  h.submit('c', [['x', []], ['y', []]]);
  h.s.gather('c', 1, ['x', 'y']);
  h.s.cancel('c', ['x']);
  h.check();
  assert.ok(!h.clientMessages('c').some((m) => m.type === 'gather-reply'), 'still waiting for y');
  h.finish('a', 'y');
  const reply = h.clientMessages('c').find((m) => m.type === 'gather-reply');
  assert.ok(reply?.type === 'gather-reply');
  assert.equal(reply.items[0]?.error?.code, 'CANCELLED');
  assert.ok(reply.items[1]?.value);
});
