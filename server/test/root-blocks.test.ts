/** Co-assignment of root tasks: neighbours in submission order run on one worker (root-blocks.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Harness } from './harness.js';
import { COMPACT_AFTER, RootBlocks } from '../src/state/root-blocks.js';
import type { WorkerState } from '../src/state/types.js';

const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => `r${String(i).padStart(2, '0')}`);

/** Runs every task sent until none is left; `stuck` workers never finish theirs. Returns key → worker. */
function runAll(h: Harness, workers: string[], stuck: string[] = []): Map<string, string> {
  const where = new Map<string, string>();
  for (let progress = true; progress;) {
    progress = false;
    for (const w of workers) {
      const sent = h.drain(w);
      for (const k of sent) where.set(k, w);
      if (stuck.includes(w)) continue;
      for (const k of sent) {
        h.finish(w, k, 8e6);
        progress = true;
      }
    }
  }
  return where;
}

/** Two one-thread workers, a and b, and client c's `n` root tasks r00… submitted at once. */
function rootsOnTwo(n = 16): { h: Harness; rs: string[] } {
  const h = new Harness({ workerQueueExtra: 1 });
  h.worker('a', 1);
  h.worker('b', 1);
  h.client('c');
  const rs = keys(n);
  h.submit(
    'c',
    rs.map((k) => [k, []]),
  );
  return { h, rs };
}

test('sixteen root tasks on two one-thread workers: the first eight on one, the last eight on the other', () => {
  const { h, rs } = rootsOnTwo();
  const where = runAll(h, ['a', 'b']);
  const first = where.get('r00');
  const last = where.get('r15');
  assert.notEqual(first, last);
  assert.deepEqual(
    rs.map((k) => where.get(k)),
    rs.map((_, i) => (i < 8 ? first : last)),
  );
  // So each pair a reduction adds first sits on one worker: adding them moves nothing.
  const adds: [string, string[]][] = [];
  for (let i = 0; i < 16; i += 2) adds.push([`add${i}`, [rs[i] as string, rs[i + 1] as string]]);
  h.submit('c', adds);
  const placed = runAll(h, ['a', 'b']);
  for (const [k, [x]] of adds) assert.equal(placed.get(k), where.get(x as string), `${k} runs where its inputs are`);
});

test('fourteen root tasks on two workers: blocks of eight and six, not seven, so no pair is split', () => {
  const { h, rs } = rootsOnTwo(14);
  const where = runAll(h, ['a', 'b']);
  for (let i = 0; i < 14; i += 2)
    assert.equal(where.get(rs[i] as string), where.get(rs[i + 1] as string), `r${i} and r${i + 1}`);
});

test('a worker whose block is done takes the back half of the block still waiting elsewhere', () => {
  const { h, rs } = rootsOnTwo();
  // b holds its first two tasks and never finishes them; a runs its own eight, then b's waiting
  // six (r10…r15), taken from the back: half (r12…r15: one more, to start at an even place),
  // then the rest.
  const where = runAll(h, ['a', 'b'], ['b']);
  const onB = rs.filter((k) => where.get(k) === 'b');
  assert.deepEqual(onB, ['r08', 'r09']);
  // Each half taken starts at an even place, so the pairs a reduction adds stay together.
  const stolen = [...where].filter(([k, w]) => w === 'a' && k > 'r07').map(([k]) => k);
  assert.deepEqual(stolen, ['r12', 'r13', 'r14', 'r15', 'r10', 'r11']);
  assert.equal(where.size, 16, 'every task was sent to a worker');
  for (const k of rs.slice(10)) assert.equal(h.status(k), 'memory');
});

test('a few root tasks go out in submission order, as before: too few to cut blocks', () => {
  const h = new Harness({ workerQueueExtra: 0 });
  h.worker('a', 1);
  h.worker('b', 1);
  h.client('c');
  h.submit('c', [
    ['x', []],
    ['y', []],
    ['z', []],
  ]);
  assert.deepEqual([...h.drain('a'), ...h.drain('b')].sort(), ['x', 'y']);
});

test('blocks are cut per tenant: the ready queue still gives clients turns', () => {
  const h = new Harness({ workerQueueExtra: 0 });
  h.worker('a', 1);
  h.worker('b', 1);
  h.client('c');
  h.client('d');
  h.submit(
    'c',
    keys(8).map((k) => [`c-${k}`, []]),
  );
  h.submit(
    'd',
    keys(8).map((k) => [`d-${k}`, []]),
  );
  // b keeps its first task; a runs everything else, one at a time. After the first (b took the
  // other client's turn), whose task a gets alternates while both have tasks queued; d's blocks
  // hand a a later task of d's than the one whose turn it was, and the entry left behind for that
  // task must not cost d a turn when it comes up.
  const sentToA: string[] = [];
  for (let i = 0; i < 20; i++) {
    const [k] = h.drain('a');
    if (k === undefined) break;
    sentToA.push(k.slice(0, 1));
    h.finish('a', k, 8e6);
  }
  const lead = sentToA.slice(1, 13).join('');
  assert.ok(!/cc|dd/.test(lead), `clients took turns on a: ${sentToA.join('')}`);
});

test('a tenant trickling root tasks one at a time leaves a bounded list behind, with or without blocks', () => {
  for (const clusterThreads of [1, 2]) {
    const h = new Harness();
    h.client('c');
    h.submit(
      'c',
      Array.from({ length: 10_000 }, (_, i): [string, string[]] => [`t${i}`, []]),
    );
    h.worker('a', 1);
    h.worker('b', 1);
    const a = h.s.workers.get('a') as WorkerState;
    const blocks = new RootBlocks();
    let most = 0;
    for (const t of h.s.tasks.values()) {
      if (t.status !== 'queued') continue;
      blocks.add(t);
      const picked = blocks.pick(t, a, clusterThreads);
      assert.equal(picked, t, 'the only task queued in its run is the one handed out');
      t.status = 'processing'; // as the dispatcher's assign does
      most = Math.max(most, blocks.held);
    }
    assert.ok(most <= 2 * COMPACT_AFTER + 1, `held at most ${most} task references (threads ${clusterThreads})`);
  }
});

for (const how of ['leaves', 'pauses'] as const)
  test(`the rest of a block whose worker ${how} goes out before any later task of its run`, () => {
    const h = new Harness({ workerQueueExtra: 0 });
    h.worker('a', 1);
    h.worker('b', 1, { memoryLimit: 100 });
    h.client('c');
    h.submit(
      'c',
      Array.from({ length: 40 }, (_, i): [string, string[]] => [`r${i}`, []]),
    );
    const [first] = h.drain('b');
    assert.equal(first, 'r20', 'b took the second block, r20…r39');
    if (how === 'leaves') h.s.removeWorker('b');
    else h.s.heartbeat('b', 99); // above MEMORY_PAUSE_FRACTION of its limit: it takes nothing now
    h.check();
    // A steady stream of new tasks keeps coming; b's block must not wait behind it.
    let n = 40;
    const ranOnA: string[] = [];
    for (let i = 0; i < 200; i++) {
      h.submit('c', [[`r${n++}`, []]]);
      for (const k of h.drain('a')) {
        ranOnA.push(k);
        h.finish('a', k, 8);
        h.s.releaseKeys('c', [k]);
      }
    }
    const left = Array.from({ length: 40 }, (_, i) => `r${i}`).filter((k) => h.status(k) === 'queued');
    assert.deepEqual(left, [], 'every task of the first 40 ran');
    assert.ok(
      ranOnA.indexOf('r39') < ranOnA.indexOf('r45'),
      `b's block before later tasks: ${ranOnA.slice(0, 45).join(' ')}`,
    );
  });

test('once no root task of a run is queued, the blocks hold no task: finished, cancelled or released ones are let go', () => {
  const h = new Harness({ workerQueueExtra: 0 });
  h.worker('a', 1);
  h.worker('b', 1);
  h.client('c');
  // Each task its own priority: a run each, as a client that sends any number may make.
  for (let i = 0; i < 500; i++) h.submit('c', [[`p${i}`, []]], { priority: i });
  for (let progress = true; progress;) {
    progress = false;
    for (const w of ['a', 'b'])
      for (const k of h.drain(w)) {
        h.finish(w, k, 8);
        h.s.releaseKeys('c', [k]);
        progress = true;
      }
  }
  h.s.removeWorker('a');
  h.s.removeWorker('b');
  h.submit(
    'c',
    Array.from({ length: 300 }, (_, i): [string, string[]] => [`q${i}`, []]),
  );
  assert.ok(h.s.rootTasksHeld >= 300, 'queued with no worker: held');
  h.s.cancel(
    'c',
    Array.from({ length: 300 }, (_, i) => `q${i}`),
  );
  h.check();
  assert.equal(h.s.rootTasksHeld, 0);
});
