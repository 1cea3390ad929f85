// A dependency a worker could not get (dep-missing): whose copy is dropped, who is suspected,
// where the value is made again, and what a failed link leaves alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Harness } from './harness.js';

/** Two workers; x (1 MB, with `hash`) finished on one of them, and y(x) sent out: who holds x, who runs y. */
function yNeedsX(hash?: string): { h: Harness; xOn: string; yOn: string } {
  const h = new Harness();
  h.worker('a');
  h.worker('b');
  h.client('c');
  h.submit('c', [['x', []]], {});
  const xOn = h.s.tasks.get('x')?.processingOn?.id as string;
  h.s.taskFinished(xOn, { type: 'task-finished', key: 'x', nbytes: 1e6, ...(hash ? { hash } : {}), startedAt: 0, stoppedAt: 1, thread: 0 });
  h.check();
  h.drain(xOn);
  h.submit('c', [['y', ['x']]]);
  return { h, xOn, yOn: h.s.tasks.get('y')?.processingOn?.id as string };
}

test('a dependency missing on its holder (or with bytes that fail its hash) is dropped there, recomputed, and the task re-planned', () => {
  const hash = 'ab'.repeat(32);
  const { h, xOn, yOn } = yNeedsX(hash);
  const sent = h.toWorkers.get(yOn)?.find((m) => m.type === 'compute-task' && m.key === 'y');
  assert.ok(sent?.type === 'compute-task');
  if (xOn !== yOn) assert.deepEqual(sent.deps, [{ key: 'x', holders: [{ id: xOn, address: `tcp://${xOn}` }], nbytes: 1e6, hash }], 'the fetcher is told the size and hash to check');
  h.s.depMissing(yOn, { key: 'y', dep: 'x', holder: xOn });
  h.check();
  assert.ok(
    h.toWorkers.get(xOn)?.some((m) => m.type === 'free-keys' && m.keys.includes('x')),
    'the holder drops its copy, so a recompute there is not answered from it',
  );
  if (xOn !== yOn) {
    assert.notEqual(h.status('x'), 'memory');
    assert.equal(h.status('y'), 'waiting');
  }
});

test('a holder blamed with certainty is suspected once per distinct peer, excluded after two, and the value is made again elsewhere', () => {
  const h = new Harness();
  for (const w of ['a', 'b', 'c', 'd']) h.worker(w);
  h.client('c1');
  h.submit('c1', [['x', []]]);
  const xOn = h.s.tasks.get('x')?.processingOn?.id as string;
  h.finish(xOn, 'x');
  const peers = ['a', 'b', 'c', 'd'].filter((w) => w !== xOn);
  h.submit('c1', [['y1', ['x']]], { workers: [peers[0] as string] });
  h.s.depMissing(peers[0] as string, { key: 'y1', dep: 'x', holder: xOn });
  h.check();
  const w = h.s.workers.get(xOn);
  assert.equal(w?.suspicions, 1);
  assert.notEqual(h.s.tasks.get('x')?.processingOn?.id, xOn, 'x is made again on another worker');
  const again = h.s.tasks.get('x')?.processingOn?.id as string;
  h.finish(again, 'x');
  // The same peer blaming again counts no more; a second peer excludes the holder.
  assert.equal(w?.excluded, false);
  h.submit('c1', [['y2', ['x']]], { workers: [peers[1] as string] });
  const t = h.s.tasks.get('x');
  if (t && w) {
    t.whoHas.add(w);
    w.hasWhat.add(t);
    w.bytesStored += t.nbytes;
  }
  h.s.depMissing(peers[1] as string, { key: 'y2', dep: 'x', holder: xOn });
  h.check();
  assert.equal(w?.suspicions, 2);
  assert.equal(w?.excluded, true, 'two distinct peers found its copies missing: no more tasks');
});

test('dep-missing naming no holder (a failed link) plans the task again and keeps every copy', () => {
  const { h, xOn, yOn } = yNeedsX();
  assert.equal(h.s.totals.tasksReplanned, 0);
  h.s.depMissing(yOn, { key: 'y', dep: 'x' });
  h.check();
  assert.equal(h.s.totals.tasksReplanned, 1, 'counted for /metrics');
  assert.equal(h.status('x'), 'memory', 'not made again');
  assert.deepEqual([...(h.s.tasks.get('x')?.whoHas ?? [])].map((w) => w.id), [xOn]);
  assert.ok(!h.toWorkers.get(xOn)?.some((m) => m.type === 'free-keys'), 'the holder keeps its copy');
  assert.equal(h.status('y'), 'processing', 'y is sent out again');
});

test('dep-missing from a worker not running the task, or about a key that is not its input, drops no copy', () => {
  const { h, xOn, yOn } = yNeedsX();
  const other = yOn === 'a' ? 'b' : 'a';
  h.s.depMissing(other, { key: 'y', dep: 'x', holder: xOn });
  h.s.depMissing(yOn, { key: 'y', dep: 'y', holder: xOn });
  h.s.depMissing(yOn, { key: 'x', dep: 'x', holder: xOn });
  h.check();
  assert.equal(h.status('x'), 'memory');
  assert.deepEqual([...(h.s.tasks.get('x')?.whoHas ?? [])].map((w) => w.id), [xOn]);
  assert.equal(h.s.tasks.get('y')?.processingOn?.id, yOn);
});

test("one peer's blames count once: a lying worker alone cannot get an honest holder excluded", () => {
  const h = new Harness();
  for (const w of ['a', 'b']) h.worker(w);
  h.client('c1');
  h.submit('c1', [['x1', []], ['x2', []]], { workers: ['a'] });
  h.finish('a', 'x1');
  h.finish('a', 'x2');
  h.submit('c1', [['y1', ['x1']], ['y2', ['x2']]], { workers: ['b'] });
  h.s.depMissing('b', { key: 'y1', dep: 'x1', holder: 'a' });
  h.s.depMissing('b', { key: 'y2', dep: 'x2', holder: 'a' });
  h.check();
  assert.equal(h.s.workers.get('a')?.suspicions, 1, 'the same reporter counts once');
  assert.equal(h.s.workers.get('a')?.excluded, false);
});
