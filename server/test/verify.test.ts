// `verify: k` against one attacker: only the worker a replica is processing on votes, an error is a
// vote, and nothing a worker declares of itself (threads, kind) buys it replicas. Pure state machine.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Harness } from './harness.js';
import { addressGroup } from '../src/state/replicas.js';
import { AGREED_VOTES_PER_TRUSTED_THREAD } from '../src/state/verify.js';
import { WORKER_QUEUE_EXTRA } from '@meshwork/protocol';

const finish = (h: Harness, w: string, key: string, answer: string): void => {
  h.s.taskFinished(w, {
    type: 'task-finished',
    key,
    nbytes: 8,
    hash: answer.repeat(64),
    startedAt: 0,
    stoppedAt: 1,
    thread: 0,
  });
  h.check();
};
const err = (h: Harness, w: string, key: string, message = 'boom'): void => {
  h.s.taskErred(w, {
    type: 'task-erred',
    key,
    error: { code: 'REMOTE_ERROR', name: 'Error', message },
    startedAt: 0,
    stoppedAt: 1,
    thread: 0,
  });
  h.check();
};
const on = (h: Harness, key: string): string | undefined => h.s.tasks.get(key)?.processingOn?.id;
const erred = (h: Harness, key: string) => {
  const m = h.clientMessages('c').find((x) => x.type === 'key-erred' && x.key === key);
  return m?.type === 'key-erred' ? m.error : undefined;
};

test('a replica given back (paused, dep-missing) and then "finished" in one frame is no vote: refused, the worker suspected', () => {
  const h = new Harness();
  h.worker('liar', 1, { memoryLimit: 1000 });
  h.client('c');
  h.submit('c', [['x', []]], { verify: 2 });
  assert.equal(on(h, 'x'), 'liar');
  h.s.heartbeat('liar', 2000); // paused: the replica cannot come back to it
  h.s.depMissing('liar', { key: 'x', dep: 'nothing' });
  finish(h, 'liar', 'x', 'b');
  assert.equal(h.status('x'), 'queued', 'the lie is not stored');
  assert.equal(h.s.workers.get('liar')?.suspicions, 1, 'a result for a replica it gave back is forged');
  assert.ok(
    h.toWorkers.get('liar')?.some((m) => m.type === 'free-keys' && m.keys.includes('x')),
    'and it is told to drop it',
  );
  h.worker('n1');
  h.worker('n2');
  for (let i = 0; i < 2; i++) finish(h, on(h, 'x') as string, 'x', 'a');
  assert.equal(h.status('x'), 'memory');
  assert.equal(h.s.tasks.get('x')?.hash, 'a'.repeat(64));
});

test('a verified replica taken back by the scheduler (its input lost) and finished late is ignored, without suspicion', () => {
  const h = new Harness();
  h.worker('a');
  h.client('c');
  h.submit('c', [['d', []]]);
  h.finish('a', 'd');
  h.worker('b');
  h.submit('c', [['x', ['d']]], { verify: 2, workers: ['b'] });
  assert.equal(on(h, 'x'), 'b');
  h.s.removeWorker('a'); // d's only copy is gone: x waits for it again
  h.check();
  assert.equal(h.status('x'), 'waiting');
  finish(h, 'b', 'x', 'a');
  assert.equal(h.status('x'), 'waiting', 'no vote from a worker it is not processing on');
  assert.equal(h.s.workers.get('b')?.suspicions, 0, 'a late result is not a forged one');
});

test("one worker's error does not fail a verified task: it runs elsewhere, and the agreeing results win", () => {
  const h = new Harness();
  for (const w of ['a', 'b', 'c']) h.worker(w);
  h.client('c');
  h.submit('c', [['x', []]], { verify: 2 });
  const first = on(h, 'x') as string;
  err(h, first, 'x');
  assert.notEqual(h.status('x'), 'erred', 'one error is one vote');
  assert.equal(erred(h, 'x'), undefined);
  for (let i = 0; i < 2; i++) {
    const w = on(h, 'x') as string;
    assert.notEqual(w, first);
    finish(h, w, 'x', 'a');
  }
  assert.equal(h.status('x'), 'memory');
  assert.equal(h.s.workers.get(first)?.suspicions, 0, 'an error is not held against a worker');
});

test('a verified task fails once k workers report the same error (after its retries), with that error', () => {
  const h = new Harness();
  for (const w of ['a', 'b', 'c', 'd']) h.worker(w);
  h.client('c');
  h.submit('c', [['x', []]], { verify: 2, retries: 1 });
  err(h, on(h, 'x') as string, 'x', 'one');
  err(h, on(h, 'x') as string, 'x', 'two');
  assert.equal(h.status('x'), 'processing', 'two different errors do not agree');
  err(h, on(h, 'x') as string, 'x', 'two');
  assert.equal(h.status('x'), 'processing', 'an agreed error takes a retry first');
  err(h, on(h, 'x') as string, 'x', 'two');
  err(h, on(h, 'x') as string, 'x', 'two');
  assert.equal(h.status('x'), 'erred');
  assert.equal(erred(h, 'x')?.code, 'REMOTE_ERROR');
  assert.equal(erred(h, 'x')?.message, 'two');
});

test('an error with no further worker to run the task fails it with a VerifyError saying what each run reported', () => {
  const h = new Harness();
  h.worker('a');
  h.worker('b');
  h.client('c');
  h.submit('c', [['x', []]], { verify: 2 });
  err(h, on(h, 'x') as string, 'x');
  assert.equal(h.status('x'), 'processing');
  finish(h, on(h, 'x') as string, 'x', 'a');
  assert.equal(h.status('x'), 'erred');
  assert.equal(erred(h, 'x')?.name, 'VerifyError');
  assert.match(erred(h, 'x')?.message ?? '', /no 2 agreeing runs.*1 × Error: boom; 1 × a result/);
});

test('declared threads buy no replicas: a worker is trusted with 1 thread at first, more as its votes agree with verdicts', () => {
  const h = new Harness({ random: () => 0 });
  h.worker('big', 8);
  h.client('c');
  const keys = Array.from({ length: 6 }, (_, i) => `x${i}`);
  h.submit(
    'c',
    keys.map((k) => [k, []]),
    { verify: 2 },
  );
  assert.equal(
    h.s.workers.get('big')?.replicas,
    1 + WORKER_QUEUE_EXTRA,
    'one thread and its queue, though it declared 8 threads',
  );
  h.submit('c', [['plain', []]]);
  assert.equal(on(h, 'plain'), 'big', 'tasks without verify still use its threads');
  h.worker('n1', 1);
  h.worker('n2', 1);
  // Everyone computes right until big has agreed often enough.
  for (let i = 0; i < 50 && (h.s.workers.get('big')?.agreed ?? 0) < AGREED_VOTES_PER_TRUSTED_THREAD; i++) {
    for (const w of ['big', 'n1', 'n2']) {
      const t = [...(h.s.workers.get(w)?.processing ?? [])].find((x) => x.verify > 1);
      if (t) finish(h, w, t.key, 'a');
    }
  }
  assert.equal(h.s.workers.get('big')?.agreed, AGREED_VOTES_PER_TRUSTED_THREAD);
  h.submit(
    'c',
    Array.from({ length: 8 }, (_, i) => [`y${i}`, []]),
    { verify: 2 },
  );
  assert.equal(h.s.workers.get('big')?.replicas, 2 + WORKER_QUEUE_EXTRA, 'trusted with a second thread');
});

test('a replica prefers an address that has not voted: it waits for a busy worker there rather than let one address vote twice', () => {
  const h = new Harness({ workerQueueExtra: 0 });
  h.worker('a1', 1, { address: '10.0.0.1' });
  h.worker('b', 1, { address: '10.0.0.2' });
  h.client('c');
  h.submit('c', [['busy', []]], { workers: ['b'] });
  h.submit('c', [['x', []]], { verify: 2 });
  finish(h, 'a1', 'x', 'a');
  h.worker('a2', 1, { address: '10.0.0.1' });
  assert.equal(h.status('x'), 'queued', "a2 shares a1's address: x waits for b");
  h.finish('b', 'busy');
  assert.equal(on(h, 'x'), 'b');
  finish(h, 'b', 'x', 'a');
  assert.equal(h.status('x'), 'memory');
  // On one address (loopback) the address tells nothing: it runs on another worker there.
  h.submit('c', [['y', []]], { verify: 2, workers: ['a1', 'a2'] });
  finish(h, on(h, 'y') as string, 'y', 'a');
  assert.ok(['a1', 'a2'].includes(on(h, 'y') as string));
});

test('addresses are counted by IPv4 address and by IPv6 /64', () => {
  assert.equal(addressGroup('::ffff:127.0.0.2'), '127.0.0.2');
  assert.equal(addressGroup('203.0.113.9'), '203.0.113.9');
  assert.equal(addressGroup('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(addressGroup('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
  assert.equal(addressGroup('::1'), '0:0:0:0::/64');
  assert.equal(addressGroup(undefined), '');
});
