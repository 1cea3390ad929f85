/** client.get: dask-style graphs, refusals before anything is sent, keys, one update-graph. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, GraphError, RemoteError, SerializationError, type Future } from '../src/index.js';
import { compileGraph } from '../src/graph.js';
import { platform } from '../src/platform.node.js';
import { defaultOptions } from '../src/tasks.js';
import { FakeScheduler } from './fake-scheduler.js';

const inc = (x: number): number => x + 1;
const add = (a: number, b: number): number => a + b;
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const div = (a: number, b: number): number => {
  if (b === 0) throw new RangeError('division by zero');
  return a / b;
};
const turn = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

describe('compileGraph (no connection)', () => {
  it('refuses a cycle, naming its keys', () => {
    assert.throws(
      () => compileGraph({ a: [inc, 'b'], b: [inc, 'c'], c: [inc, 'a'] }, 'a', defaultOptions),
      (e: unknown) => e instanceof GraphError && e.code === 'GRAPH' && /'a' -> 'b' -> 'c' -> 'a'/.test(e.message),
    );
    assert.throws(() => compileGraph({ a: [inc, 'a'] }, 'a', defaultOptions), /cycle: 'a' -> 'a'/);
  });

  it('refuses requested keys that are not in the graph, naming them', () => {
    assert.throws(
      () => compileGraph({ a: 1 }, ['a', ['z', 'y']], defaultOptions),
      (e: unknown) => e instanceof GraphError && /'z', 'y'/.test(e.message),
    );
  });

  it('refuses a function outside the head of a task, and values that cannot travel, with their path', () => {
    assert.throws(() => compileGraph({ a: inc }, 'a', defaultOptions), (e: unknown) => e instanceof GraphError && /graph\.a/.test(e.message));
    assert.throws(() => compileGraph({ a: [add, 1, inc] }, 'a', defaultOptions), /graph\.a\[2\]: a function may only stand first/);
    assert.throws(
      () => compileGraph({ a: [inc, { cb: Symbol('s') }] }, 'a', defaultOptions),
      (e: unknown) => e instanceof SerializationError && e.path === 'graph.a[1].cb',
    );
    assert.throws(
      () => compileGraph({ a: [Math.max, 1] }, 'a', defaultOptions),
      (e: unknown) => e instanceof SerializationError && e.path === 'graph.a[0]',
    );
  });

  it('keys hash the subgraph: the same user keys over different graphs differ, identical graphs agree', () => {
    const g1 = compileGraph({ x: 1, y: [inc, 'x'] }, 'y', defaultOptions);
    const g2 = compileGraph({ x: 2, y: [inc, 'x'] }, 'y', defaultOptions);
    const g3 = compileGraph({ x: 1, y: [inc, 'x'], unrelated: 5 }, 'y', defaultOptions);
    assert.notEqual(g1.wanted[0], g2.wanted[0]);
    assert.equal(g1.wanted[0], g3.wanted[0]);
    assert.match(g1.wanted[0] ?? '', /^y-[0-9a-f]{32}$/);
    assert.equal(g3.tasks.length, 2, 'unrequested keys are culled');
    assert.deepEqual(g1.tasks[1]?.task.deps, [g1.tasks[0]?.task.key]);
  });

  it('lifts nested tasks and resolves keys inside lists', () => {
    const g = compileGraph({ a: 1, b: [sum, ['a', [inc, 'a'], 10]] }, 'b', defaultOptions);
    assert.equal(g.tasks.length, 3);
    assert.equal(g.tasks.at(-1)?.task.deps.length, 2);
  });
});

describe('client.get', () => {
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

  it("computes API.md's graph: 3", async () => {
    assert.equal(await client.get({ a: 1, b: [inc, 'a'], c: [add, 'a', 'b'] }, 'c'), 3);
  });

  it('sends the whole graph in one update-graph wanting only the requested keys, then releases them', async () => {
    const before = fake.of('update-graph').length;
    const out = await client.get({ p: 5, q: [inc, 'p'], r: [add, 'p', 'q'], s: [sum, ['p', 'q', 'r']] }, ['s', ['q']]);
    assert.deepEqual(out, [5 + 6 + 11, [6]]);
    const graphs = fake.of('update-graph').slice(before);
    assert.equal(graphs.length, 1);
    assert.equal(graphs[0]?.tasks.length, 4);
    assert.equal(graphs[0]?.wants.length, 2);
    await turn();
    for (const key of graphs[0]?.wants ?? []) assert.equal(fake.refcount(key), 0);
  });

  it('throws GraphError synchronously and sends nothing', async () => {
    await turn();
    const frames = fake.frames.length;
    assert.throws(() => client.get({ a: [inc, 'b'], b: [inc, 'a'] }, 'a'), GraphError);
    assert.throws(() => client.get({ a: 1 }, 'nope'), GraphError);
    await turn();
    assert.equal(fake.frames.length, frames);
  });

  it('raises the task error; returns [] for no keys; aliases and plain values', async () => {
    await assert.rejects(client.get({ x: [div, 1, 0], y: [inc, 'x'] }, 'y'), (e: unknown) => e instanceof RemoteError && e.remoteName === 'RangeError');
    assert.deepEqual(await client.get({}, []), []);
    assert.deepEqual(await client.get({ a: 'text', b: 'a', c: ['a', 'b', 'zz'], d: { k: 'a' } }, ['b', 'c', 'd']), [
      'text',
      ['text', 'text', 'zz'],
      { k: 'a' },
    ]);
  });

  it('with sync: false returns futures in the shape of the keys', async () => {
    const f = client.get({ x: [inc, 1] }, 'x', { sync: false });
    assert.equal(await f.result(), 2);
    const fs = client.get({ x: [inc, 1] }, ['x'], { sync: false });
    assert.deepEqual(await client.gather(fs), [2]);
    (fs[0] as Future<unknown>).release();
    f.release();
  });

  it('takes futures inside the graph', async () => {
    const ten = client.submit(inc, 9);
    assert.equal(await client.get({ a: [add, ten, 5] }, 'a'), 15);
  });
});
