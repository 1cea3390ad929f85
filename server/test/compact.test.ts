/** Per-task storage made small (src/state/compact.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SmallMap, SmallSet, bytesToString, emptySet, stringToBytes } from '../src/state/compact.js';
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

test('SmallSet behaves as a Set through one, two and no members', () => {
  const [a, b, c] = [{ n: 1 }, { n: 2 }, { n: 3 }];
  const s = new SmallSet<{ n: number }>();
  assert.equal(s.size, 0);
  assert.deepEqual([...s], []);
  assert.equal(s.delete(a), false);
  s.add(a).add(a);
  assert.equal(s.size, 1);
  assert.ok(s.has(a) && !s.has(b));
  assert.deepEqual([...s], [a]);
  s.add(b).add(c);
  assert.equal(s.size, 3);
  assert.deepEqual([...s], [a, b, c]);
  assert.ok(s.delete(b) && !s.delete(b));
  assert.deepEqual([...s], [a, c]);
  for (const x of s) s.delete(x); // deleting while iterating, as a Set allows
  assert.equal(s.size, 0);
  s.add(c);
  for (const x of s) s.delete(x);
  assert.equal(s.size, 0);
  s.add(a).add(b);
  s.clear();
  assert.equal(s.size, 0);
  assert.deepEqual([...s], []);
});

test('SmallMap behaves as a Map through one, two and no entries', () => {
  const m = new SmallMap<number>();
  assert.equal(m.size, 0);
  assert.equal(m.get('x'), undefined);
  assert.ok(!m.has('x') && !m.delete('x'));
  m.set('x', 1).set('x', 2);
  assert.equal(m.size, 1);
  assert.equal(m.get('x'), 2);
  assert.ok(m.has('x') && !m.has('y'));
  assert.deepEqual(Object.fromEntries(m), { x: 2 });
  m.set('y', 3);
  assert.deepEqual(
    [...m],
    [
      ['x', 2],
      ['y', 3],
    ],
  );
  assert.ok(m.delete('x') && !m.delete('x'));
  assert.deepEqual(Object.fromEntries(m), { y: 3 });
  m.clear();
  assert.equal(m.size, 0);
  m.set('z', 0);
  assert.equal(m.get('z'), 0);
  assert.ok(m.delete('z'));
  assert.equal(m.size, 0);
});
