/** Per-task storage made small (src/state/compact.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bytesToString, emptySet, stringToBytes } from '../src/state/compact.js';
import { Harness } from './harness.js';

test('every byte value survives the trip through a string, and the string is a copy', () => {
  const frame = new Uint8Array(300);
  for (let i = 0; i < 256; i++) frame[i + 10] = i;
  const view = frame.subarray(10, 266);
  const s = bytesToString(view);
  assert.equal(s.length, 256);
  frame.fill(7); // the frame is reused: the string must not change
  assert.deepEqual(
    [...stringToBytes(s)],
    Array.from({ length: 256 }, (_, i) => i),
  );
  assert.equal(stringToBytes(bytesToString(new Uint8Array(0))).byteLength, 0);
});

test('the shared empty set refuses additions', () => {
  assert.throws(() => emptySet<string>().add('x'), /shared empty set/);
  assert.equal(emptySet().size, 0);
});

test('tasks hold sets of their own only while they fill them; args and small results are kept as bytes', () => {
  const h = new Harness();
  h.worker('w');
  h.client('c');
  h.submit('c', [
    ['a', []],
    ['b', ['a']],
  ]);
  const a = h.s.tasks.get('a');
  const b = h.s.tasks.get('b');
  assert.ok(a && b);
  assert.equal(b.dependents, emptySet(), 'nothing depends on b: the shared empty set');
  assert.equal(b.waiters, emptySet());
  assert.equal(a.gathers, emptySet());
  assert.notEqual(a.dependents, emptySet());
  assert.ok(a.waiters.has(b));
  h.s.gather('c', 1, ['b']);
  assert.ok(b.gathers.size === 1 && b.gathers !== emptySet());
  const sent = h.toWorkers.get('w')?.find((m) => m.type === 'compute-task');
  assert.ok(sent?.type === 'compute-task');
  assert.deepEqual([...sent.args], [1], 'the args go out as the bytes that came in');
  for (const key of h.drain('w')) h.finish('w', key);
  for (const key of h.drain('w')) h.finish('w', key);
  assert.equal(b.status, 'memory');
  assert.equal(a.waiters, emptySet(), 'b finished: a has no waiters left');
  assert.equal(b.gathers, emptySet(), 'the gather was answered');
  const reply = h.clientMessages('c').find((m) => m.type === 'gather-reply');
  assert.ok(reply?.type === 'gather-reply');
  assert.ok(reply.items[0]?.value instanceof Uint8Array && reply.items[0].value.byteLength === 1);
  h.check();
});
