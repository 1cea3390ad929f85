/** Submitting: keys, refusals at submit, dependencies, batching of the wire messages. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FRAME_TARGET_BYTES } from '@meshwork/protocol';
import {
  Client,
  GATHER_MESSAGE_MAX_KEYS,
  GRAPH_MESSAGE_MAX_TASKS,
  GraphError,
  MAX_TASK_TIMEOUT_MS,
  SerializationError,
  type Future,
} from '../src/index.js';
import { platform } from '../src/platform.node.js';
import { checkKey } from '../src/tasks.js';
import { cutFromBig, retainedBy } from '../../tests/support/retained.mjs';
import { FakeScheduler } from './fake-scheduler.js';

const inc = (x: number): number => x + 1;
const add = (a: number, b: number): number => a + b;
const turn = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

describe('submit', () => {
  let fake: FakeScheduler;
  let client: Client;
  before(async () => {
    fake = await FakeScheduler.start();
    client = await Client.connect(fake.address, { platform });
  });
  after(async () => {
    await client.close();
    await fake.close();
  });

  it('gives the same call the same key, named after the function', () => {
    const a = client.submit(inc, 1);
    const b = client.submit(inc, 1);
    assert.equal(a.key, b.key);
    assert.match(a.key, /^inc-[0-9a-f]{32}$/);
    assert.notEqual(a, b);
  });

  it('gives different arguments or functions different keys', () => {
    assert.notEqual(client.submit(inc, 1).key, client.submit(inc, 2).key);
    assert.notEqual(client.submit(add, 1, 2).key, client.submit(add, 2, 1).key);
    const inc2 = (x: number): number => x + 2;
    assert.notEqual(client.submit(inc, 1).key, client.submit(inc2, 1).key);
  });

  it('names anonymous functions lambda', () => {
    assert.match(client.submit((x: number) => x * 2, 3).key, /^lambda-[0-9a-f]{32}$/);
  });

  it('gives pure: false a fresh key each time', () => {
    const impure = client.with({ pure: false });
    const a = impure.submit(inc, 1);
    const b = impure.submit(inc, 1);
    assert.notEqual(a.key, b.key);
    assert.match(a.key, /^inc-[0-9a-f]{16}$/);
  });

  it('gives every pure: false task its own key, across many draws of random bytes', () => {
    const impure = client.with({ pure: false });
    const keys = new Set<string>();
    for (let i = 0; i < 3_000; i++) keys.add(impure.submit(inc, 1).key);
    assert.equal(keys.size, 3_000);
    assert.ok([...keys].every((k) => /^inc-[0-9a-f]{16}$/.test(k)));
  });

  it('uses an explicit key, and a key prefix for map', () => {
    assert.equal(client.with({ key: 'my-key' }).submit(inc, 5).key, 'my-key');
    const keys = client
      .with({ key: 'batch' })
      .map(inc, [1, 2])
      .map((f) => f.key);
    assert.ok(keys.every((k) => /^batch-[0-9a-f]{32}$/.test(k)));
    assert.notEqual(keys[0], keys[1]);
  });

  it('keeps each key as a string of its own: a key cut from a larger text does not keep that text alive', async () => {
    let future: { key: string; release(): void } | undefined;
    // A slice of a 16 MiB text: a future whose key kept it would keep all of it.
    const kept = retainedBy(() => {
      future = client.with({ key: cutFromBig('my-own-key-0001') }).submit(inc, 2);
    });
    assert.equal(future?.key, 'my-own-key-0001');
    assert.ok(kept < 2 * 1024 * 1024, `${kept} bytes kept`);
    await turn();
    future?.release();
  });

  it('refuses a key that is not a string with GraphError (plain JavaScript may pass one)', () => {
    for (const bad of [5, null, ['k'], { length: 3 }])
      assert.throws(() => checkKey(bad as never), GraphError, JSON.stringify(bad));
    assert.equal(checkKey('fine-key'), 'fine-key');
  });

  it('holds a future of a map in under 400 bytes of heap, once its tasks are sent', async () => {
    const n = 20_000;
    await turn();
    let futures: Future<number>[] = [];
    const kept = await retainedBy(async () => {
      futures = client.map(
        inc,
        Array.from({ length: n }, (_, i) => 1e6 + i),
      );
      await turn();
    });
    const perFuture = kept / n;
    assert.ok(perFuture < 400, `${Math.round(perFuture)} bytes a future`);
    for (const f of futures) f.release();
  });

  it('names keys, and the function sent, with the name option (minified code renames functions)', async () => {
    const vt = (x: number): number => x + 3; // what a minifier would call it
    const named = client.with({ name: 'addThree' });
    const one = named.submit(vt, 1);
    assert.match(one.key, /^addThree-[0-9a-f]{32}$/);
    assert.equal(one.key.slice(-32), client.submit(vt, 1).key.slice(-32), 'the same digest: the name is a label');
    assert.ok(named.map(vt, [1, 2]).every((f) => /^addThree-[0-9a-f]{32}$/.test(f.key)));
    assert.match(named.with({ pure: false }).submit(vt, 1).key, /^addThree-[0-9a-f]{16}$/);
    assert.equal(named.with({ key: 'mine' }).submit(vt, 1).key, 'mine', 'key makes the key');
    assert.match(named.with({ priority: 1 }).submit(vt, 9).key, /^addThree-/, 'kept by a further with()');
    await one.result();
    const sent = fake.of('update-graph').find((g) => g.tasks.some((t) => t.key === one.key));
    const fnId = sent?.tasks.find((t) => t.key === one.key)?.fn;
    assert.equal(
      sent?.fns.find((f) => f.id === fnId)?.name,
      'addThree',
      'the function goes under the name: its task group and the name workers use in errors',
    );
  });

  it('refuses a bad name synchronously with GraphError, without echoing it', () => {
    for (const bad of ['', 'a b', 'x-y', 'ä', 'n'.repeat(65), '<script>', 7, null]) {
      assert.throws(
        () => client.with({ name: bad as string }),
        (e: unknown) =>
          e instanceof GraphError &&
          e.code === 'GRAPH' &&
          /options\.name/.test(e.message) &&
          (typeof bad !== 'string' || bad.length === 0 || !e.message.includes(bad)),
        String(bad),
      );
    }
    assert.match(client.with({ name: 'io.load_$2' }).submit(inc, 1).key, /^io\.load_\$2-/);
  });

  it('sends task options on the task spec', async () => {
    const s = client.with({
      retries: 2,
      priority: 10,
      resources: { gpu: 1 },
      workers: ['w1'],
      allowOtherWorkers: false,
      key: 'opts',
    });
    await s.submit(inc, 41).result();
    const task = fake
      .of('update-graph')
      .flatMap((g) => g.tasks)
      .find((t) => t.key === 'opts');
    assert.ok(task);
    assert.deepEqual(
      {
        retries: task.retries,
        priority: task.priority,
        resources: task.resources,
        workers: task.workers,
        allowOtherWorkers: task.allowOtherWorkers,
      },
      { retries: 2, priority: 10, resources: { gpu: 1 }, workers: ['w1'], allowOtherWorkers: false },
    );
  });

  it('carries timeoutMs on every task of submit and map made through with(), and on no other', async () => {
    const s = client.with({ timeoutMs: 300, pure: false });
    const timed = [s.submit(inc, 1), ...s.map(inc, [1, 2]), s.with({ priority: 1 }).submit(inc, 1)];
    const plain = client.with({ pure: false }).submit(inc, 1);
    await client.gather([...timed, plain]);
    const specs = new Map(fake.of('update-graph').flatMap((g) => g.tasks.map((t) => [t.key, t] as const)));
    for (const f of timed) assert.equal(specs.get(f.key)?.timeoutMs, 300, f.key);
    assert.ok(specs.has(plain.key));
    assert.equal(specs.get(plain.key)?.timeoutMs, undefined);
  });

  it('refuses a bad timeoutMs synchronously with GraphError, and sends nothing', async () => {
    const before = fake.frames.length;
    for (const bad of [-1, 0, NaN, Infinity, MAX_TASK_TIMEOUT_MS + 1, '300', null]) {
      assert.throws(
        () => client.with({ timeoutMs: bad as number }).submit(inc, 1),
        (e: unknown) => e instanceof GraphError && e.code === 'GRAPH' && /options\.timeoutMs/.test(e.message),
        String(bad),
      );
    }
    await turn();
    assert.deepEqual(fake.frames.slice(before).flat().filter((m) => m.type === 'update-graph'), [], 'nothing was sent');
  });

  describe('refuses what cannot travel, naming the path, and sends nothing', () => {
    const sym = Symbol('tag');
    class Tagged {
      [sym] = 1;
      x = 1;
    }
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const cases: [string, () => unknown, string, RegExp][] = [
      [
        'a function inside an object',
        () => client.submit(add, 1, { cb: () => 1 } as never),
        'args[1].cb',
        /^args\[1\]\.cb: function/,
      ],
      [
        'a class instance with a symbol key',
        () => client.submit(inc, new Tagged() as never),
        'args[0]',
        /instance of Tagged/,
      ],
      [
        'a plain object with a symbol key',
        () => client.submit(inc, { [sym]: 1 } as never),
        'args[0][Symbol(tag)]',
        /symbol-keyed/,
      ],
      ['a cyclic object', () => client.submit(inc, cyclic as never), 'args[0].self', /cyclic/],
      ['a WeakMap', () => client.submit(inc, { m: new WeakMap() } as never), 'args[0].m', /instance of WeakMap/],
      ['a native function', () => client.submit(Math.max, 1, 2), 'fn', /native/],
      ['a non-function', () => client.submit(42 as never), 'fn', /must be a function/],
      ['one bad item of a map', () => client.map(inc, [1, (() => 2) as never, 3]), 'args[0]', /function/],
    ];
    for (const [what, call, path, message] of cases) {
      it(what, async () => {
        const before = fake.frames.length;
        assert.throws(call, (e: unknown) => {
          assert.ok(e instanceof SerializationError);
          assert.equal(e.code, 'SERIALIZATION');
          assert.equal(e.path, path);
          assert.match(e.message, message);
          return true;
        });
        await turn();
        // Frames from earlier tests may still arrive (releases); none may carry new work.
        const sent = fake.frames.slice(before).flat();
        assert.deepEqual(sent.filter((m) => m.type === 'update-graph'), [], 'nothing was sent');
      });
    }
  });

  it('turns futures nested in arguments (objects, arrays, Map values) into deps', async () => {
    const a = client.submit(inc, 100);
    const b = client.submit(inc, 200);
    const combine = (o: { xs: number[] }, m: Map<string, number>): number => (o.xs[0] ?? 0) + (m.get('b') ?? 0);
    const c = client.submit(combine, { xs: [a] }, new Map([['b', b]]));
    assert.equal(await c.result(), 101 + 201);
    const spec = fake
      .of('update-graph')
      .flatMap((g) => g.tasks)
      .find((t) => t.key === c.key);
    assert.deepEqual(new Set(spec?.deps), new Set([a.key, b.key]));
  });

  it('sends a whole map as one update-graph, with each function once in each message whose tasks use it', async () => {
    const before = fake.frames.length;
    const square = (x: number): number => x * x;
    const futures = client.map(square, [1, 2, 3, 4]);
    await turn();
    const frames = fake.frames.slice(before);
    assert.equal(frames.length, 1);
    const graphs = frames.flat().filter((m) => m.type === 'update-graph');
    assert.equal(graphs.length, 1);
    assert.equal(graphs[0]?.type === 'update-graph' && graphs[0].tasks.length, 4);
    assert.equal(graphs[0]?.type === 'update-graph' && graphs[0].fns.length, 1);
    assert.deepEqual(await client.gather(futures), [1, 4, 9, 16]);
    // The scheduler keeps a function only while its tasks are there: a later message brings it again.
    client.submit(square, 5);
    await turn();
    const later = fake.of('update-graph').at(-1);
    assert.deepEqual(later?.fns.map((f) => f.name), ['square']);
    assert.equal(later?.tasks.length, 1);
  });

  it('splits a large map into update-graphs of at most GRAPH_MESSAGE_MAX_TASKS, each with its own wants, in frames under FRAME_TARGET_BYTES', async () => {
    const before = fake.frames.length;
    const pad = (s: string): number => s.length;
    const n = 2 * GRAPH_MESSAGE_MAX_TASKS + 5;
    // ~1 KB of arguments each: 20 MB in all, more than two frames' worth.
    const futures = client.map(
      pad,
      Array.from({ length: n }, (_, i) => `${i}:`.padEnd(1_000, 'x')),
    );
    await fake.until(() => fake.of('update-graph').flatMap((g) => g.tasks).some((t) => t.key === futures.at(-1)?.key), 10_000);
    const frames = fake.frames.slice(before);
    const sizes = fake.frameBytes.slice(before);
    assert.ok(frames.length >= 3, `${frames.length} frames`);
    assert.ok(Math.max(...sizes) <= FRAME_TARGET_BYTES, `frames of ${sizes.join(', ')} bytes`);
    const graphs = frames.flat().filter((m) => m.type === 'update-graph');
    assert.ok(graphs.length >= 5, `${graphs.length} update-graphs: GRAPH_MESSAGE_MAX_BYTES splits them too`);
    for (const g of graphs) {
      assert.ok(g.type === 'update-graph' && g.tasks.length <= GRAPH_MESSAGE_MAX_TASKS);
      const here = new Set(g.tasks.map((t) => t.key));
      assert.deepEqual(g.wants, [...here], 'a message wants exactly its own tasks');
    }
    for (const g of graphs) assert.ok(g.type === 'update-graph' && g.fns.length === (g.tasks.length > 0 ? 1 : 0), 'the function once in each message with tasks');
    assert.equal(new Set(graphs.flatMap((g) => (g.type === 'update-graph' ? g.tasks.map((t) => t.key) : []))).size, n);
    const values = await client.gather(futures.slice(-3));
    assert.deepEqual(values, [1_000, 1_000, 1_000]);
    for (const f of futures) f.release();
  });

  it('asks for a large gather in messages of at most GATHER_MESSAGE_MAX_KEYS keys', async () => {
    const before = fake.of('gather').length;
    const n = GATHER_MESSAGE_MAX_KEYS + 10;
    const futures = client.map(inc, Array.from({ length: n }, (_, i) => i + 1e6));
    const values = await client.gather(futures);
    assert.equal(values.length, n);
    assert.equal(values[n - 1], n - 1 + 1e6 + 1);
    const gathers = fake.of('gather').slice(before);
    assert.ok(gathers.length >= 2, `${gathers.length} gather messages`);
    for (const g of gathers) assert.ok(g.keys.length <= GATHER_MESSAGE_MAX_KEYS);
    for (const f of futures) f.release();
  });

  it('zips several iterables in map', async () => {
    const x = client.submit(inc, 9);
    assert.deepEqual(await client.gather(client.map(add, [1, 2, 3], [x, 20])), [11, 22]);
  });

  it('lists one want per new Future, and sends a task once per key', async () => {
    const before = fake.received.length;
    const mul = (a: number, b: number): number => a * b;
    client.submit(mul, 6, 7);
    client.submit(mul, 6, 7);
    await turn();
    const graphs = fake.received.slice(before).filter((m) => m.type === 'update-graph');
    assert.equal(graphs.length, 1);
    const g = graphs[0];
    assert.ok(g?.type === 'update-graph');
    assert.equal(g.tasks.length, 1);
    assert.equal(g.wants.length, 2);
  });
});
