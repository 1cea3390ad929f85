/** Per-task storage made small (src/state/compact.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClientChannel, MAX_KEY_LENGTH, encodeFrame, encodeValue, parseFrame, taskDigest } from '@meshwork/protocol';
import { SmallMap, SmallSet, bytesToString, emptySet, emptySmallSet, stringToBytes } from '../src/state/compact.js';
import { Harness } from './harness.js';
import { cutFromBig, retainedBy } from '../../tests/support/retained.mjs';

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
  assert.throws(() => emptySmallSet<{ n: number }>().add({ n: 1 }), /shared empty set/);
  assert.equal(emptySmallSet().size, 0);
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
  assert.equal(a.gathers, emptySmallSet());
  assert.notEqual(a.dependents, emptySet());
  assert.ok(a.waiters.has(b));
  h.s.gather('c', 1, ['b']);
  assert.ok(b.gathers.size === 1 && b.gathers !== emptySmallSet());
  const sent = h.toWorkers.get('w')?.find((m) => m.type === 'compute-task');
  assert.ok(sent?.type === 'compute-task');
  assert.deepEqual([...sent.args], [1], 'the args go out as the bytes that came in');
  for (const key of h.drain('w')) h.finish('w', key);
  for (const key of h.drain('w')) h.finish('w', key);
  assert.equal(b.status, 'memory');
  assert.equal(a.waiters, emptySet(), 'b finished: a has no waiters left');
  assert.equal(b.gathers, emptySmallSet(), 'the gather was answered');
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

const clientTypes = new Set(ClientChannel.ClientToServer.options.map((o) => o.entries.type.literal));
const FN_ID = 'a14ce64a26f34d94a5e9b5114eba7fc9';

/** `n` pure tasks of one function from `from` on, wanted and gathered, as a client's frame brings them. */
function frameOfTasks(from: number, n: number): ClientChannel.ClientToServer[] {
  const tasks = Array.from({ length: n }, (_, j) => {
    const t = {
      key: '',
      fn: FN_ID,
      args: encodeValue([from + j]).bytes,
      deps: [] as string[],
      priority: 0,
      retries: 0,
    };
    t.key = `inc-${taskDigest(t)}`;
    return t;
  });
  const keys = tasks.map((t) => t.key);
  const frame = encodeFrame([
    { type: 'update-graph', fns: [{ id: FN_ID, name: 'inc', source: '(x) => x + 1' }], tasks, wants: keys },
    { type: 'gather', id: from, keys },
  ]);
  const { messages, errors } = parseFrame(frame, ClientChannel.ClientToServer, clientTypes);
  assert.deepEqual(errors, []);
  return messages;
}

function handle(h: Harness, messages: readonly ClientChannel.ClientToServer[]): void {
  for (const m of messages) {
    if (m.type === 'update-graph') h.s.updateGraph('c', m);
    else if (m.type === 'gather') h.s.gather('c', m.id, m.keys);
  }
}

test('a task keeps no slice of the text its strings came in: key, function id, name and source, gather keys and result hash are copies of its own', () => {
  const h = new Harness();
  h.worker('w');
  h.client('c');
  const MB = 1024 * 1024;
  const key = 'private-key-0001';
  const fn = {
    id: FN_ID,
    name: 'increment_by_one',
    source: '(x) => x + 1 /* adds one */',
  };
  const spec = { key, fn: fn.id, args: encodeValue([1]).bytes, deps: [], priority: 0, retries: 0 };
  // Each slice here is of a 16 MiB text: a task that kept one would keep all of it.
  assert.ok(
    retainedBy(() =>
      h.s.updateGraph('c', {
        type: 'update-graph',
        fns: [{ ...fn, id: cutFromBig(fn.id), name: cutFromBig(fn.name), source: cutFromBig(fn.source) }],
        tasks: [{ ...spec, key: cutFromBig(key), fn: cutFromBig(fn.id) }],
        wants: [cutFromBig(key)],
      }),
    ) <
      2 * MB,
    'key, function id, name and source',
  );
  const t = h.s.tasks.get(key);
  assert.ok(t && t.fn === fn.id && t.fnName === fn.name && h.s.fns.get(fn.id)?.source === fn.source);
  assert.ok(retainedBy(() => h.s.gather('c', 1, [cutFromBig(key)])) < 2 * MB, 'the pending gather keys');
  assert.deepEqual(h.drain('w'), [key]);
  const hash = 'f'.repeat(64);
  const end = {
    type: 'task-finished',
    key,
    nbytes: 1,
    value: new Uint8Array([1]),
    startedAt: 0,
    stoppedAt: 1,
    thread: 0,
  } as const;
  assert.ok(
    retainedBy(() => h.s.taskFinished('w', { ...end, key: cutFromBig(key), hash: cutFromBig(hash) })) < 2 * MB,
    'result hash',
  );
  assert.equal(t.hash, hash);
  assert.equal(t.status, 'memory');
  h.check();
});

test('a task decoded from a frame, wanted and gathered costs the scheduler under 720 bytes of heap', () => {
  const h = new Harness();
  h.worker('w');
  h.client('c');
  const n = 20_000;
  // A first batch outside the count: what is made once (compiled code, caches) is not a task's.
  handle(h, frameOfTasks(1_000_000, 1_000));
  const perTask =
    retainedBy(() => {
      for (let from = 0; from < n; from += 1_000) handle(h, frameOfTasks(from, 1_000));
    }) / n;
  assert.equal(h.s.tasks.size, n + 1_000);
  assert.ok(perTask < 720, `${Math.round(perTask)} bytes a task`);
});

test("a function's name past MAX_KEY_LENGTH characters is cut where the scheduler keeps it (the schema leaves names unbounded)", () => {
  const h = new Harness();
  h.client('c');
  const long = 'n'.repeat(1_000_000);
  h.s.updateGraph('c', {
    type: 'update-graph',
    fns: [{ id: FN_ID, name: long, source: '(x) => x' }],
    tasks: [{ key: 'long-named-0001', fn: FN_ID, args: encodeValue([1]).bytes, deps: [], priority: 0, retries: 0 }],
    wants: ['long-named-0001'],
  });
  assert.equal(h.s.fns.get(FN_ID)?.name, long.slice(0, MAX_KEY_LENGTH));
  assert.equal(h.s.tasks.get('long-named-0001')?.fnName.length, MAX_KEY_LENGTH);
});
