// Leases (leases.ts): a task held past its lease runs elsewhere too; the first result wins, the
// other copy is cancelled, and a worker overtaken on a task it held past its lease is suspected.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Harness } from './harness.js';
import type { SchedulerOptions } from '../src/state/scheduler-state.js';
import {
  LEASE_DURATIONS,
  LEASE_TIMEOUT_GRACE_MS,
  MAX_SPECULATIONS,
  RACES_LOST_TO_EXCLUDE,
  SECEDED_PER_THREAD,
} from '../src/state/leases.js';

const MIN = 1_000;
const UNKNOWN = 5_000;

/** A harness whose clock the test moves; leases of MIN ms at least, UNKNOWN ms while a group's time is unknown. */
function clocked(options: SchedulerOptions = {}): { h: Harness; at: (ms: number) => void } {
  let now = 0;
  const h = new Harness({ now: () => now, leaseMinMs: MIN, leaseUnknownMs: UNKNOWN, ...options });
  return {
    h,
    at: (ms) => {
      now = ms;
      h.s.checkLeases();
      h.check();
    },
  };
}

/** `x` sent to worker `a`, held past its lease, and its copy sent to `b` (those messages drained). */
function straggling(): { h: Harness; at: (ms: number) => void } {
  const c = clocked();
  c.h.worker('a');
  c.h.client('c');
  c.h.submit('c', [['x', []]]);
  assert.deepEqual(c.h.drain('a'), ['x']);
  c.h.worker('b');
  c.at(UNKNOWN);
  assert.deepEqual(c.h.drain('b'), ['x']);
  return c;
}

const freed = (h: Harness, worker: string): string[] =>
  h.workerMessages(worker).flatMap((m) => (m.type === 'free-keys' ? m.keys : []));

test('a task held past its lease runs elsewhere too; the later copy wins, and the holder lost a race', () => {
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
  assert.equal(h.s.workers.get('slow')?.overdue.size, 1, 'the first copy still holds a thread there');
  assert.equal(h.s.workers.get('slow')?.racesLost, 0, 'no race lost while it may still win');
  h.finish('fast', 'x');
  assert.equal(h.status('x'), 'memory');
  assert.deepEqual(freed(h, 'slow'), ['x'], 'the overtaken copy is cancelled');
  assert.equal(h.s.workers.get('slow')?.racesLost, 1);
  assert.equal(h.s.workers.get('slow')?.suspicions, 0, 'a lost race is no suspicion (those are for wrong bytes)');
  assert.equal(h.s.workers.get('slow')?.overdue.size, 0);
  assert.equal(h.s.speculation.racesLost, 1);
});

test('a late copy that finishes first wins: the other copy is cancelled and no one is suspected', () => {
  const { h } = straggling();
  h.finish('a', 'x');
  assert.equal(h.status('x'), 'memory');
  assert.deepEqual(
    [...(h.s.tasks.get('x')?.whoHas ?? [])].map((w) => w.id),
    ['a'],
  );
  assert.deepEqual(freed(h, 'b'), ['x'], 'the copy on b is cancelled');
  assert.deepEqual(freed(h, 'a'), [], 'the winner keeps its value');
  assert.equal(h.s.workers.get('a')?.racesLost, 0);
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

test('each further copy gets twice the lease; past 1 + MAX_SPECULATIONS copies the oldest is cancelled as a new one starts', () => {
  const { h, at } = clocked();
  const ids = ['a', 'b', 'c', 'd', 'e'];
  for (const id of ids) h.worker(id);
  h.client('u');
  h.submit('u', [['x', []]]);
  const copies = () => ids.filter((id) => h.drain(id).includes('x'));
  assert.equal(copies().length, 1);
  at(UNKNOWN);
  assert.equal(copies().length, 1, 'the second copy');
  at(3 * UNKNOWN - 1);
  assert.equal(copies().length, 0, 'the second copy has twice the lease');
  at(3 * UNKNOWN);
  assert.equal(copies().length, 1, 'the third');
  assert.equal(h.s.tasks.get('x')?.stragglers?.length, MAX_SPECULATIONS);
  const oldest = h.s.tasks.get('x')?.stragglers?.[0]?.id;
  at(7 * UNKNOWN);
  const cancelled = ids.filter((id) => freed(h, id).includes('x'));
  const [fourth] = copies();
  assert.ok(fourth, 'a fourth copy, with a lease of 4 × the first');
  assert.equal(h.s.tasks.get('x')?.stragglers?.length, MAX_SPECULATIONS, 'still 1 + MAX_SPECULATIONS copies at once');
  assert.equal(cancelled.length, 1, 'the oldest copy was cancelled');
  assert.equal(cancelled[0], oldest);
  assert.equal(h.s.workers.get(oldest as string)?.racesLost, 1);
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

test("a verified task's replica past its lease is taken back: that worker's late result is no vote", () => {
  const { h, at } = clocked();
  h.worker('a', 1, { address: '10.0.0.1' });
  h.client('c');
  h.submit('c', [['v', []]], { verify: 2 });
  assert.deepEqual(h.drain('a'), ['v']);
  h.worker('b', 1, { address: '10.0.0.2' });
  h.worker('d', 1, { address: '10.0.0.3' });
  at(UNKNOWN);
  assert.deepEqual(freed(h, 'a'), ['v'], 'taken back at once');
  // The next replica goes to a worker chosen at random among those that have not voted: `a` too.
  const next = ['a', 'b', 'd'].find((id) => h.drain(id).includes('v')) as string;
  const same = 'a'.repeat(64);
  if (next !== 'a') h.finish('a', 'v', 8, same); // too late: no vote
  h.finish(next, 'v', 8, same);
  assert.notEqual(h.status('v'), 'memory', 'one vote is not two');
  const third = ['a', 'b', 'd'].find((id) => h.drain(id).includes('v')) as string;
  assert.notEqual(third, next);
  h.finish(third, 'v', 8, same);
  assert.equal(h.status('v'), 'memory');
  assert.equal(
    h.s.workers.get('a')?.racesLost,
    next === 'a' || third === 'a' ? 0 : 1,
    'overtaken unless it ran a later replica',
  );
});

test('a straggler whose copy errs races no more; the copy elsewhere goes on', () => {
  const { h } = straggling();
  h.err('a', 'x');
  assert.equal(h.status('x'), 'processing');
  assert.equal(h.s.workers.get('a')?.overdue.size, 0);
  assert.equal(h.s.tasks.get('x')?.stragglers, null);
  h.finish('b', 'x');
  assert.equal(h.status('x'), 'memory');
  assert.equal(h.s.workers.get('a')?.racesLost, 0);
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
  assert.equal(h.s.workers.get('a')?.overdue.size, 0);
});

test('a worker that never finishes is excluded after losing RACES_LOST_TO_EXCLUDE races; every task completes', () => {
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
  assert.ok((h.s.workers.get('hole')?.racesLost ?? 0) >= RACES_LOST_TO_EXCLUDE);
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

// What a worker holding only the worker token might try, and honest cases that must not suffer.

test('three connections that never answer cannot hold a task by holding all its copies', () => {
  const { h, at } = clocked();
  for (const id of ['hole1', 'hole2', 'hole3']) h.worker(id, 1024);
  h.worker('honest', 1);
  h.client('c');
  h.submit('c', [['x', []]]);
  let now = 0;
  for (let i = 0; i < 100 && h.status('x') !== 'memory'; i++) {
    for (const k of h.drain('honest')) h.finish('honest', k);
    now += UNKNOWN;
    at(now);
  }
  assert.equal(h.status('x'), 'memory');
});

test('a straggler that could not fetch an input (dep-missing) stopped: it holds no thread and loses no race', () => {
  const { h, at } = clocked();
  h.worker('a');
  h.client('c');
  h.submit('c', [['d', []]]);
  h.finish('a', h.drain('a')[0] as string);
  h.submit('c', [['x', ['d']]]);
  assert.deepEqual(h.drain('a'), ['x']);
  h.worker('b');
  at(10 * MIN);
  assert.deepEqual(h.drain('b'), ['x']);
  h.s.depMissing('a', { key: 'x', dep: 'd' });
  h.check();
  assert.equal(h.s.workers.get('a')?.overdue.size, 0);
  h.finish('b', 'x');
  assert.equal(h.s.workers.get('a')?.racesLost, 0);
});

test('a straggler that gave its copy back (steal-response ok) loses no race', () => {
  const { h, at } = clocked();
  h.worker('a', 1);
  h.client('c');
  h.submit('c', [
    ['x0', []],
    ['x1', []],
  ]);
  h.drain('a');
  h.worker('b', 1);
  const steal = h.workerMessages('a').find((m) => m.type === 'steal-request') as { key: string } | undefined;
  assert.ok(steal, 'a steal-request went to a');
  h.worker('d', 4);
  at(100 * UNKNOWN);
  h.s.stealResponse('a', steal.key, true);
  h.check();
  const holder = ['b', 'd'].find((id) => h.drain(id).includes(steal.key)) as string;
  h.finish(holder, steal.key);
  assert.equal(h.s.workers.get('a')?.racesLost, 0);
});

test('verify: 2 on two workers: the worker whose replica was taken back may run the next one', () => {
  const { h, at } = clocked();
  h.worker('a', 1, { address: '10.0.0.1' });
  h.client('c');
  h.submit('c', [['v', []]], { verify: 2 });
  assert.deepEqual(h.drain('a'), ['v']);
  h.worker('b', 1, { address: '10.0.0.2' });
  at(UNKNOWN);
  // The replica goes to b, or back to a (chosen at random among workers that have not voted).
  const second = ['a', 'b'].find((id) => h.drain(id).includes('v')) as string;
  h.finish(second, 'v', 8, 'a'.repeat(64));
  at(100 * UNKNOWN);
  const third = second === 'a' ? 'b' : 'a';
  assert.deepEqual(h.drain(third), ['v'], 'the only worker left that may vote');
  h.finish(third, 'v', 8, 'a'.repeat(64));
  assert.equal(h.status('v'), 'memory');
});

test('leases a liar pinned to the floor (0 ms durations) do not exclude an honest slow voter', () => {
  let now = 0;
  const h = new Harness({ now: () => now, leaseMinMs: MIN, leaseUnknownMs: UNKNOWN, random: () => 0 });
  h.worker('liar', 1, { address: '10.0.0.1' });
  h.client('c');
  for (let i = 0; i < 30; i++) {
    h.submit('c', [[`p${i}`, []]]);
    for (const k of h.drain('liar'))
      h.s.taskFinished('liar', { type: 'task-finished', key: k, nbytes: 8, startedAt: 5, stoppedAt: 5, thread: 0 });
  }
  h.worker('slow', 1, { address: '10.0.0.3' });
  h.worker('other', 1, { address: '10.0.0.2' });
  const hash = 'b'.repeat(64);
  for (let i = 0; i < RACES_LOST_TO_EXCLUDE + 2; i++) {
    const k = `v${i}`;
    h.submit('c', [[k, []]], { verify: 2 });
    const on = h.s.tasks.get(k)?.processingOn?.id as string;
    h.drain(on);
    if (on !== 'slow') h.finish(on, k, 8, hash);
    if (h.s.tasks.get(k)?.processingOn?.id !== 'slow') continue;
    h.drain('slow');
    now += 2 * MIN; // slow takes twice the floor: taken back
    h.s.checkLeases();
    h.check();
    for (const id of ['liar', 'other']) for (const kk of h.drain(id)) h.finish(id, kk, 8, hash);
    h.drain('slow');
  }
  const slow = h.s.workers.get('slow');
  assert.equal(slow?.suspicions, 0, 'a lost race is no suspicion');
});

test('a straggler that leaves is no longer one', () => {
  const { h } = straggling();
  h.s.removeWorker('a');
  h.check();
  assert.equal(h.s.tasks.get('x')?.stragglers, null);
});

test('in a saturated cluster no copy runs ahead of work that never started', () => {
  let now = 0;
  const h = new Harness({ now: () => now, leaseMinMs: MIN, leaseUnknownMs: UNKNOWN, workerQueueExtra: 0 });
  h.worker('a');
  h.worker('b');
  h.client('c');
  h.submit('c', [
    ['t0', []],
    ['t1', []],
    ['t2', []],
    ['t3', []],
  ]);
  const onA = h.drain('a')[0] as string;
  const onB = h.drain('b')[0] as string;
  now = UNKNOWN;
  h.s.checkLeases();
  h.check();
  h.finish('a', onA);
  assert.notDeepEqual(h.drain('a'), [onB], 'the free thread runs work that never started');
  assert.equal(h.s.speculation.copies, 0);
});

test("a worker's room gets one copy per free slot, however many leases end at once", () => {
  const { h, at } = clocked({ workerQueueExtra: 0 });
  h.worker('busy', 3);
  h.client('c');
  h.submit('c', [
    ['x0', []],
    ['x1', []],
    ['x2', []],
  ]);
  assert.equal(h.drain('busy').length, 3);
  h.worker('idle', 1);
  at(UNKNOWN);
  assert.equal(h.drain('idle').length, 1);
  assert.equal(h.s.speculation.copies, 1, 'the other two wait for room');
});
