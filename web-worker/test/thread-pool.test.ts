import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CancelledError, FutureRef, decodeValue, encodeValue } from '@meshwork/protocol';
import type { Job, Outcome } from '../src/core/interfaces.js';
import { ThreadPool } from '../src/node/thread-pool.js';
import { RECLAIM_AFTER_BYTES, Reclaimer } from '../src/node/reclaim.js';

let pool: ThreadPool;
before(async () => {
  pool = await ThreadPool.start({ threads: 2 });
});
after(async () => {
  await pool.close();
});

let nextFn = 0;
function job(fn: (...a: never[]) => unknown, args: unknown[], deps: Record<string, unknown> = {}, name = fn.name || 'lambda'): Job {
  return {
    key: `${name}-${nextFn}`,
    fn: `fn-${nextFn++}`,
    fnName: name,
    source: fn.toString(),
    args: encodeValue(args).bytes,
    deps: new Map(Object.entries(deps).map(([k, v]) => [k, encodeValue(v).bytes])),
  };
}
const run = (j: Job, signal = new AbortController().signal): Promise<Outcome> => pool.run(j, signal);
function value(o: Outcome): unknown {
  if (!o.ok) assert.fail(`task erred: ${o.error.name}: ${o.error.message}`);
  return decodeValue(o.bytes);
}
function error(o: Outcome) {
  if (o.ok) assert.fail('task should have erred');
  return o.error;
}

test('runs a function; futures in the arguments become dependency values', async () => {
  const add = (a: number, b: number) => a + b;
  assert.equal(value(await run(job(add, [1, 2]))), 3);
  const o = await run(job(add, [new FutureRef('x-1'), 10], { 'x-1': 32 }));
  assert.equal(value(o), 42);
  assert.ok(o.startedAt <= o.stoppedAt);
  assert.ok(o.thread === 0 || o.thread === 1);
});

test("a task's large typed-array input is a view of the stored shared memory, not a copy", async () => {
  const stored = encodeValue(new Float64Array(1 << 14).fill(1.5), (n) => new Uint8Array(new SharedArrayBuffer(n))).bytes;
  const j = job((x: Float64Array) => [x.buffer.constructor.name, x.length], [new FutureRef('in')]);
  assert.deepEqual(value(await run({ ...j, deps: new Map([['in', stored]]) })), ['SharedArrayBuffer', 1 << 14]);
});

test('runs an async function, and a method-shorthand source', async () => {
  const slow = async (x: number) => {
    await new Promise((r) => setTimeout(r, 10));
    return x * 2;
  };
  assert.equal(value(await run(job(slow, [21]))), 42);
  const obj = { triple(x: number) { return x * 3; } };
  assert.equal(value(await run(job(obj.triple, [5], {}, 'triple'))), 15);
});

test('a thrower comes back as a RemoteError shape with its name, message and stack', async () => {
  const boom = (msg: string) => {
    throw new TypeError(msg);
  };
  const e = error(await run(job(boom, ['bad input'])));
  assert.equal(e.code, 'REMOTE_ERROR');
  assert.equal(e.name, 'TypeError');
  assert.equal(e.message, 'bad input');
  assert.match(e.stack ?? '', /TypeError: bad input\n\s+at /);
});

test('a function reading an outer variable gets a message naming it', async () => {
  const X = 5;
  const inc = (y: number) => y + X;
  const e = error(await run(job(inc, [1])));
  assert.equal(e.name, 'ReferenceError');
  assert.equal(e.code, 'REMOTE_ERROR');
  assert.equal(
    e.message,
    "task function 'inc' reads 'X' from its enclosing scope; task functions travel as source text and must be self-contained: pass X as an argument",
  );
});

test('an anonymous function reading an outer variable is named by its key, not as an empty name', async () => {
  const X = 5;
  const e = error(await run({ ...job((y: number) => y + X, [1], {}, ''), key: 'lambda-4f1c' }));
  assert.equal(e.name, 'ReferenceError');
  assert.match(e.message, /^the anonymous task function of 'lambda-4f1c' reads 'X' from its enclosing scope;/);
});

test('a method that lost its object gets a hint: this does not travel, and what to do instead', async () => {
  const obj = {
    base: 10,
    add(x: number) {
      return this.base + x;
    },
  };
  const e = error(await run(job(obj.add, [1], {}, 'add')));
  assert.equal(e.code, 'REMOTE_ERROR');
  assert.equal(e.name, 'TypeError');
  assert.match(e.message, /^Cannot read properties of undefined \(reading 'base'\) \(task function 'add' uses 'this', which is undefined in a task: .*obj\.method loses obj/);
  assert.match(e.message, /Pass what it needs from obj as arguments instead, e\.g\. client\.submit\(\(base, x\) => base \+ x, obj\.base, 1\)\)$/);
  // The same error from a function that does not use `this` is left as it is.
  const noThis = (o: { base: number } | undefined) => (o as { base: number }).base;
  assert.equal(error(await run(job(noThis, [undefined]))).message, "Cannot read properties of undefined (reading 'base')");
});

test('an unserialisable result names the path', async () => {
  const f = () => ({ ok: 1, cb: () => 1 });
  const e = error(await run(job(f, [], {}, 'f')));
  assert.equal(e.code, 'REMOTE_ERROR');
  assert.equal(e.name, 'SerializationError');
  assert.match(e.message, /^result\.cb: function cannot be sent/);
});

test('typed arrays round-trip as the same type (arguments, dependencies and results)', async () => {
  const ident = (...xs: unknown[]) => xs.map((x) => [Object.prototype.toString.call(x), x]);
  const inputs = [new Float64Array([1.5, 2]), new Int32Array([-1, 7]), new Uint8Array([1, 2]), new Float32Array([3]), new BigInt64Array([5n]), new Uint16Array([9])];
  const out = value(await run(job(ident, [...inputs, new FutureRef('d')], { d: new Int8Array([-3]) }))) as [string, unknown][];
  const expected = [...inputs, new Int8Array([-3])];
  out.forEach(([tag, v], i) => {
    const want = expected[i] as ArrayLike<unknown>;
    // The codec decodes binary as Buffer (a Uint8Array) in Node; every other type comes back exactly.
    const ctor = (v as object).constructor;
    assert.ok(ctor === want.constructor || (want.constructor === Uint8Array && ctor === Buffer), `${tag} came back as ${ctor.name}`);
    assert.deepEqual(Array.from(v as ArrayLike<unknown>), Array.from(want));
  });
  const back = value(await run(job((n: number) => new Float64Array(n).fill(0.5), [1000]))) as Float64Array;
  assert.ok(back instanceof Float64Array);
  assert.equal(back.length, 1000);
});

test('a function is rebuilt once per thread: later tasks send no source', async () => {
  const j = job((x: number) => x, [1]);
  for (let i = 0; i < 4; i++) assert.equal(value(await run({ ...j, source: i < 2 ? j.source : 'this is not sent' })), 1);
});

test('an abort ends the running task and the thread is replaced', async () => {
  const spin = () => {
    for (;;);
  };
  const ac = new AbortController();
  setTimeout(() => ac.abort(new CancelledError('stop it')), 50);
  const e = error(await run(job(spin, []), ac.signal));
  assert.equal(e.code, 'CANCELLED');
  // Both threads still work afterwards.
  const results = await Promise.all([run(job((x: number) => x + 1, [1])), run(job((x: number) => x + 2, [1]))]);
  assert.deepEqual(results.map(value), [2, 3]);
});

test('onStart is called once per job, when it has a thread (a task timeout counts from there)', async () => {
  let started = 0;
  const o = await pool.run(job((x: number) => x, [5]), new AbortController().signal, { onStart: () => started++ });
  assert.equal(value(o), 5);
  assert.equal(started, 1);
});

test('a task that kills its thread errs and the pool recovers', async () => {
  const die = () => process.exit(3);
  const e = error(await run(job(die, [])));
  assert.equal(e.name, 'ThreadDiedError');
  assert.equal(value(await run(job((x: number) => x, [7]))), 7);
});

test('round trip of a trivial task (reported)', async (t) => {
  const j = job((x: number) => x + 1, [1]);
  await run(j);
  const n = 500;
  const started = performance.now();
  for (let i = 0; i < n; i++) await run(j);
  const us = ((performance.now() - started) / n) * 1000;
  t.diagnostic(`thread round trip of a trivial task: ${us.toFixed(0)} µs`);
});

test('the pool keeps no result once its caller drops it', async () => {
  const make = (n: number) => new Float64Array(n).fill(1);
  const made = async (): Promise<WeakRef<Uint8Array>> => {
    const o = await run(job(make, [1 << 17]));
    if (!o.ok) assert.fail(o.error.message);
    return new WeakRef(o.bytes);
  };
  const refs: WeakRef<Uint8Array>[] = [];
  for (let i = 0; i < 4; i++) refs.push(await made());
  new Reclaimer().dropped(RECLAIM_AFTER_BYTES); // a full collection on a later turn (reclaim.ts)
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(refs.filter((r) => r.deref() !== undefined).length, 0, 'every result was collected');
});
