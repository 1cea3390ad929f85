// Leases (leases.ts): a task held past its lease runs elsewhere too; the first result wins, the
// other copy is cancelled, and a worker overtaken on a task it held past its lease is suspected.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Harness } from './harness.js';
import { LEASE_DURATIONS, LEASE_TIMEOUT_GRACE_MS, MAX_SPECULATIONS, SECEDED_PER_THREAD } from '../src/state/leases.js';
import { SUSPICIONS_TO_EXCLUDE } from '../src/state/verify.js';

const MIN = 1_000;
const UNKNOWN = 5_000;

/** A harness whose clock the test moves; leases of MIN ms at least, UNKNOWN ms while a group's time is unknown. */
function clocked(): { h: Harness; at: (ms: number) => void } {
  let now = 0;
  const h = new Harness({ now: () => now, leaseMinMs: MIN, leaseUnknownMs: UNKNOWN });
  return {
    h,
    at: (ms) => {
      now = ms;
      h.s.checkLeases();
      h.check();
    },
  };
}

const freed = (h: Harness, worker: string): string[] =>
  h.workerMessages(worker).flatMap((m) => (m.type === 'free-keys' ? m.keys : []));

test('a task held past its lease runs elsewhere too; the later copy wins, and the holder is suspected', () => {
  const { h, at } = clocked();
  h.worker('slow');
  h.client('c');
  h.submit('c', [['x', []]]);
  assert.deepEqual(h.drain('slow'), ['x']);
  h.worker('fast');
  at(UNKNOWN - 1);
  assert.deepEqual(h.drain('fast'), [], 'not before its lease ends');
  at(UNKNOWN);
  assert.deepEqual(h.drain('fast'), ['x'], 'a copy on the other worker');
  assert.equal(h.s.workers.get('slow')?.overdue, 1, 'the first copy still holds a thread there');
  assert.equal(h.s.workers.get('slow')?.suspicions, 0, 'not suspected while it may still win');
  h.finish('fast', 'x');
  assert.equal(h.status('x'), 'memory');
  assert.deepEqual(freed(h, 'slow'), ['x'], 'the overtaken copy is cancelled');
  assert.equal(h.s.workers.get('slow')?.suspicions, 1);
  assert.equal(h.s.workers.get('slow')?.overdue, 0);
  assert.equal(h.s.speculation.racesLost, 1);
});

test('a late copy that finishes first wins: the other copy is cancelled and no one is suspected', () => {
  const { h, at } = clocked();
  h.worker('a');
  h.client('c');
  h.submit('c', [['x', []]]);
  h.drain('a');
  h.worker('b');
  at(UNKNOWN);
  assert.deepEqual(h.drain('b'), ['x']);
  h.finish('a', 'x');
  assert.equal(h.status('x'), 'memory');
  assert.deepEqual(
    [...(h.s.tasks.get('x')?.whoHas ?? [])].map((w) => w.id),
    ['a'],
  );
  assert.deepEqual(freed(h, 'b'), ['x'], 'the copy on b is cancelled');
  assert.deepEqual(freed(h, 'a'), [], 'the winner keeps its value');
  assert.equal(h.s.workers.get('a')?.suspicions, 0);
  assert.equal(h.s.workers.get('b')?.processing.size, 0);
  h.finish('b', 'x'); // its result, sent before the cancel arrived, is refused
  assert.deepEqual(
    [...(h.s.tasks.get('x')?.whoHas ?? [])].map((w) => w.id),
    ['a'],
  );
});

test("a lease is LEASE_DURATIONS × the group's mean per turn of the threads, at least the minimum, bounded by timeoutMs", () => {
  const { h } = clocked();
  h.worker('w', 2);
  h.client('c');
  const t = (key: string) => h.s.tasks.get(key) as NonNullable<ReturnType<typeof h.s.tasks.get>>;
  const w = h.s.workers.get('w') as NonNullable<ReturnType<typeof h.s.workers.get>>;
  h.submit('c', [['k0', []]]);
  assert.equal(h.s.leaseMs(t('k0'), w), UNKNOWN, 'no run of the group finished: the unknown lease');
  // Each run reports 1 s: the mean becomes 1 s.
  h.s.taskFinished('w', { type: 'task-finished', key: 'k0', nbytes: 8, startedAt: 0, stoppedAt: 1_000, thread: 0 });
  h.submit('c', [['k1', []]], { unwanted: [] });
  assert.equal(h.s.leaseMs(t('k1'), w), LEASE_DURATIONS * 1_000, 'one turn: 4 × 1 s');
  h.submit('c', [
    ['k2', []],
    ['k3', []],
    ['k4', []],
  ]);
  h.submit('c', [['k5', []]]);
  // k5 is queued at the scheduler; on w it would wait behind the 4 tasks w holds: 3 turns of 2 threads.
  assert.equal(w.processing.size, 4);
  assert.equal(h.s.leaseMs(t('k5'), w), LEASE_DURATIONS * 1_000 * 3);
  h.submit('c', [['k6', []]], { timeoutMs: 500 });
  assert.equal(h.s.leaseMs(t('k6'), w), 500 * 3 + LEASE_TIMEOUT_GRACE_MS, 'a timeout bounds it');
});

test('each further copy gets twice the lease, and at most MAX_SPECULATIONS copies run beyond the first', () => {
  const { h, at } = clocked();
  for (const id of ['a', 'b', 'c', 'd']) h.worker(id);
  h.client('u');
  h.submit('u', [['x', []]]);
  const copies = () => ['a', 'b', 'c', 'd'].filter((id) => h.drain(id).includes('x'));
  const first = copies();
  assert.equal(first.length, 1);
  at(UNKNOWN);
  assert.equal(copies().length, 1, 'the second copy');
  at(2 * UNKNOWN);
  assert.equal(copies().length, 0, 'the second copy has twice the lease');
  at(3 * UNKNOWN);
  assert.equal(copies().length, 1, 'the third');
  at(100 * UNKNOWN);
  assert.equal(copies().length, 0, `no more than ${MAX_SPECULATIONS} beyond the first`);
  assert.equal(h.s.tasks.get('x')?.stragglers?.length, MAX_SPECULATIONS);
});

test('with no other worker that may run it, a task stays; a worker that joins takes a copy', () => {
  const { h, at } = clocked();
  h.worker('a');
  h.client('c');
  h.submit('c', [['x', []]]);
  h.drain('a');
  at(UNKNOWN * 3);
  assert.equal(h.s.tasks.get('x')?.processingOn?.id, 'a');
  assert.equal(h.s.tasks.get('x')?.stragglers, null);
  h.worker('b');
  at(UNKNOWN * 3 + MIN);
  assert.deepEqual(h.drain('b'), ['x']);
});

test("a verified task's replica past its lease is taken back: that worker cannot vote on it", () => {
  const { h, at } = clocked();
  h.worker('a', 1, { address: '10.0.0.1' });
  h.client('c');
  h.submit('c', [['v', []]], { verify: 2 });
  assert.deepEqual(h.drain('a'), ['v']);
  h.worker('b', 1, { address: '10.0.0.2' });
  h.worker('d', 1, { address: '10.0.0.3' });
  at(UNKNOWN);
  assert.deepEqual(freed(h, 'a'), ['v'], 'taken back at once');
  const next = ['b', 'd'].find((id) => h.drain(id).includes('v')) as string;
  const same = 'a'.repeat(64);
  h.finish('a', 'v', 8, same); // too late: no vote
  h.finish(next, 'v', 8, same);
  assert.notEqual(h.status('v'), 'memory', 'one vote is not two');
  const third = ['b', 'd'].find((id) => id !== next) as string;
  assert.deepEqual(h.drain(third), ['v']);
  h.finish(third, 'v', 8, same);
  assert.equal(h.status('v'), 'memory');
  assert.equal(h.s.workers.get('a')?.suspicions, 1, 'overtaken');
});

test('a straggler whose copy errs races no more; the copy elsewhere goes on', () => {
  const { h, at } = clocked();
  h.worker('a');
  h.client('c');
  h.submit('c', [['x', []]]);
  h.drain('a');
  h.worker('b');
  at(UNKNOWN);
  h.drain('b');
  h.err('a', 'x');
  assert.equal(h.status('x'), 'processing');
  assert.equal(h.s.workers.get('a')?.overdue, 0);
  assert.equal(h.s.tasks.get('x')?.stragglers, null);
  h.finish('b', 'x');
  assert.equal(h.status('x'), 'memory');
  assert.equal(h.s.workers.get('a')?.suspicions, 0);
});

test('a task released while a straggler runs it is cancelled there too', () => {
  const { h, at } = clocked();
  h.worker('a');
  h.client('c');
  h.submit('c', [['x', []]]);
  h.drain('a');
  h.worker('b');
  at(UNKNOWN);
  h.s.releaseKeys('c', ['x']);
  h.check();
  assert.deepEqual(freed(h, 'a'), ['x']);
  assert.deepEqual(freed(h, 'b'), ['x']);
  assert.equal(h.s.workers.get('a')?.overdue, 0);
});

test('a worker that never finishes is excluded after losing SUSPICIONS_TO_EXCLUDE races; every task completes', () => {
  const { h, at } = clocked();
  h.worker('hole', 1024);
  h.worker('honest', 1);
  h.client('c');
  h.submit(
    'c',
    Array.from({ length: 40 }, (_, i): [string, string[]] => [`t${i}`, []]),
  );
  let now = 0;
  for (let round = 0; round < 200 && h.s.counts.memory < 40; round++) {
    for (const key of h.drain('honest')) h.finish('honest', key);
    h.drain('hole');
    now += MIN;
    at(now);
  }
  assert.equal(h.s.counts.memory, 40, 'all 40 done by the honest worker');
  assert.ok((h.s.workers.get('hole')?.suspicions ?? 0) >= SUSPICIONS_TO_EXCLUDE);
  assert.equal(h.s.workers.get('hole')?.excluded, true);
});

test(`a worker's seceded tasks past ${SECEDED_PER_THREAD} per thread keep their threads`, () => {
  const { h } = clocked();
  h.worker('w', 1);
  h.client('c');
  const n = SECEDED_PER_THREAD + 3;
  h.submit(
    'c',
    Array.from({ length: n }, (_, i): [string, string[]] => [`s${i}`, []]),
  );
  for (let i = 0; i < n; i++) {
    for (const key of h.drain('w')) h.s.taskSeceded('w', key);
    h.check();
  }
  const w = h.s.workers.get('w');
  assert.equal(w?.seceded.size, SECEDED_PER_THREAD);
  assert.ok((w?.processing.size ?? 0) >= 1, 'the rest hold its thread');
});
