/** A thread's job queue and the messages that feed it (core/job-queue.ts), over a real MessageChannel. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { encodeValue } from '@meshwork/protocol';
import {
  JOBS,
  JobQueue,
  TAKE_BACK,
  ThreadCalls,
  serveJobs,
  type QueuedReply,
  type QueuedRequest,
} from '../src/core/job-queue.js';
import type { TaskReply } from '../src/core/task-runner.js';

const req = (seq: number): QueuedRequest => ({ seq, fn: 'f', fnName: 'f', args: encodeValue([seq]).bytes, deps: [] });
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A runner that answers each job when the test says so, and records the order jobs started in. */
function manual() {
  const started: number[] = [];
  const finish = new Map<number, () => void>();
  const runOne = (r: QueuedRequest): Promise<TaskReply> =>
    new Promise((resolve) => {
      started.push(r.seq);
      finish.set(r.seq, () => resolve({ ok: true, bytes: encodeValue(r.seq).bytes, startedAt: 0, stoppedAt: 0 }));
    });
  return { started, finish, queue: new JobQueue(runOne, turn) };
}

test('jobs run one at a time, in order; a queued job taken back answers takenBack and never starts', async () => {
  const { started, finish, queue } = manual();
  const [r1, r2, r3] = [1, 2, 3].map((seq) => queue.run(req(seq))) as [
    Promise<QueuedReply>,
    Promise<QueuedReply>,
    Promise<QueuedReply>,
  ];
  assert.deepEqual(started, [1]);
  assert.equal(queue.takeBack([2, 1]), 1, 'the running one is not taken');
  assert.deepEqual(await r2, { ok: false, takenBack: true });
  finish.get(1)?.();
  assert.equal((await r1).ok, true);
  await turn();
  assert.deepEqual(started, [1, 3]);
  finish.get(3)?.();
  assert.equal((await r3).ok, true);
});

test('jobs given in one turn reach the thread in one message; a take-back follows the jobs it names', async () => {
  const { port1, port2 } = new MessageChannel();
  const seen: { type: string; n: number }[] = [];
  const { started, finish, queue } = manual();
  const serve = serveJobs(queue, (msg, transfer) => port2.postMessage(msg, transfer));
  port2.on('message', (m: { type: string; reqs?: unknown[]; seqs?: unknown[] }) => {
    seen.push({ type: m.type, n: (m.reqs ?? m.seqs ?? []).length });
    serve(m);
  });
  const calls = new ThreadCalls(
    (msg, transfer) => port1.postMessage(msg, transfer),
    (reason) => assert.fail(reason),
  );
  port1.on('message', (m: unknown) => calls.onMessage(m));
  const [r1, r2, r3] = [1, 2, 3].map((seq) => calls.run(req(seq), [])) as [
    Promise<QueuedReply>,
    Promise<QueuedReply>,
    Promise<QueuedReply>,
  ];
  calls.takeBack([3]);
  while (seen.length < 2) await turn();
  assert.deepEqual(seen, [
    { type: JOBS, n: 3 },
    { type: TAKE_BACK, n: 1 },
  ]);
  assert.deepEqual(await r3, { ok: false, takenBack: true });
  finish.get(1)?.();
  await r1;
  while (started.length < 2) await turn();
  finish.get(2)?.();
  assert.deepEqual((await r2).ok, true);
  assert.deepEqual(started, [1, 2]);
  port1.close();
});
