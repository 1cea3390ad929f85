/**
 * Task functions are kept while tasks use them: a source no task uses any more is freed, and a
 * graph's functions that none of its tasks uses are never stored (sources sent without tasks, or
 * with tasks that finish, used to stay until the scheduler stopped).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Harness } from './harness.js';

const fn = (id: string): { id: string; name: string; source: string } => ({
  id,
  name: id,
  source: `(x) => x /* ${id} */`,
});
const task = (key: string, fnId: string, deps: string[] = []) => ({
  key,
  fn: fnId,
  args: new Uint8Array([1]),
  deps,
  priority: 0,
  retries: 0,
});

function setUp(): Harness {
  const h = new Harness();
  h.worker('a');
  h.client('c');
  return h;
}

test("a function's source is freed once the tasks that use it are released and forgotten", () => {
  const h = setUp();
  h.s.updateGraph('c', {
    type: 'update-graph',
    fns: [fn('f')],
    tasks: [task('x', 'f'), task('y', 'f')],
    wants: ['x', 'y'],
  });
  h.check();
  assert.equal(h.s.fns.get('f')?.tasks, 2);
  for (const key of h.drain('a')) h.finish('a', key);
  assert.ok(h.s.workers.get('a')?.fnsSent.has('f'));
  h.s.releaseKeys('c', ['x']);
  h.check();
  assert.ok(h.s.fns.has('f'), 'y still uses it');
  h.s.releaseKeys('c', ['y']);
  h.check();
  assert.equal(h.s.fns.has('f'), false);
  assert.equal(h.s.workers.get('a')?.fnsSent.has('f'), false, 'the worker is sent the source again next time');
});

test('functions a graph sends that none of its new tasks uses are not kept', () => {
  const h = setUp();
  const sources = Array.from({ length: 100 }, (_, i) => fn(`unused-${i}`));
  h.s.updateGraph('c', { type: 'update-graph', fns: sources, tasks: [], wants: [] });
  h.check();
  assert.equal(h.s.fns.size, 0);
  h.s.updateGraph('c', { type: 'update-graph', fns: [fn('f'), fn('g')], tasks: [task('x', 'f')], wants: ['x'] });
  h.check();
  assert.deepEqual([...h.s.fns.keys()], ['f']);
  // A task the scheduler already has does not keep the function sent with it again.
  h.s.updateGraph('c', { type: 'update-graph', fns: [fn('g')], tasks: [{ ...task('x', 'g') }], wants: ['x'] });
  h.check();
  assert.deepEqual([...h.s.fns.keys()], ['f']);
});

test("a client's functions go when it leaves, its tasks released with it", () => {
  const h = setUp();
  h.s.updateGraph('c', {
    type: 'update-graph',
    fns: [fn('f'), fn('g')],
    tasks: [task('x', 'f'), task('y', 'g', ['x'])],
    wants: ['y'],
  });
  h.check();
  assert.equal(h.s.fns.size, 2);
  h.s.removeClient('c');
  h.check();
  assert.equal(h.s.fns.size, 0);
  assert.equal(h.s.tasks.size, 0);
});

test('a function freed and sent again with a later graph runs again, its source sent to the worker anew', () => {
  const h = setUp();
  h.s.updateGraph('c', { type: 'update-graph', fns: [fn('f')], tasks: [task('x', 'f')], wants: ['x'] });
  for (const key of h.drain('a')) h.finish('a', key);
  h.s.releaseKeys('c', ['x']);
  h.check();
  assert.equal(h.s.fns.has('f'), false);
  h.toWorkers.set('a', []);
  h.s.updateGraph('c', { type: 'update-graph', fns: [fn('f')], tasks: [task('x2', 'f')], wants: ['x2'] });
  h.check();
  const sent = (h.toWorkers.get('a') ?? []).find((m) => m.type === 'compute-task' && m.key === 'x2');
  assert.ok(sent?.type === 'compute-task' && sent.source === fn('f').source);
});

test('a task whose function was never sent fails and holds no function, even one sent later', () => {
  const h = setUp();
  h.s.updateGraph('c', { type: 'update-graph', fns: [], tasks: [task('bad', 'f')], wants: ['bad'] });
  h.check();
  assert.equal(h.status('bad'), 'erred');
  h.s.updateGraph('c', { type: 'update-graph', fns: [fn('f')], tasks: [task('good', 'f')], wants: ['good'] });
  h.check();
  h.s.releaseKeys('c', ['bad']);
  h.check();
  assert.equal(h.s.fns.get('f')?.tasks, 1, "forgetting the failed task does not take the other's use");
});

test('a worker that leaves is forgotten by the functions it was sent', () => {
  const h = setUp();
  h.worker('b');
  h.s.updateGraph('c', {
    type: 'update-graph',
    fns: [fn('f')],
    tasks: [task('x', 'f'), task('y', 'f')],
    wants: ['x', 'y'],
  });
  h.check();
  assert.equal(h.s.fns.get('f')?.sentTo.size, 2);
  h.s.removeWorker('b');
  h.check();
  assert.equal(h.s.fns.get('f')?.sentTo.size, 1);
});
