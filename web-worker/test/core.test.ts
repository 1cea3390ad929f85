import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FutureRef, decode, encodeFrame, encodeValue, valueHash, type Holder } from '@meshwork/protocol';
import type { FetchResult, PeerFetcher } from '../src/core/interfaces.js';
import { WorkerCore } from '../src/core/worker-core.js';
import { ManualExecutor } from './manual-executor.js';

type Msg = Record<string, unknown> & { type: string };

class FakeFetcher implements PeerFetcher {
  calls: { holders: readonly Holder[]; keys: readonly string[]; resolve(r: FetchResult): void }[] = [];
  fetch(holders: readonly Holder[], keys: readonly string[]): Promise<FetchResult> {
    return new Promise((resolve) => this.calls.push({ holders, keys, resolve }));
  }
  close(): void {}
}

function setup() {
  const sent: Msg[] = [];
  const executor = new ManualExecutor(1, false);
  const fetcher = new FakeFetcher();
  const core = new WorkerCore({
    workerId: 'me',
    send: (frame) => sent.push(...(decode(frame) as Msg[])),
    executor,
    fetcher,
    heartbeatIntervalMs: 60_000,
    schedule: (cb) => queueMicrotask(cb),
  });
  const feed = (...messages: Msg[]) => core.handleFrame(encodeFrame(messages));
  const settle = () => new Promise((r) => setTimeout(r, 5));
  const of = (key: string) => sent.filter((m) => m.key === key);
  return { sent, executor, fetcher, core, feed, settle, of };
}

const task = (key: string, deps: string[] = [], extra: Partial<Msg> = {}): Msg => ({
  type: 'compute-task',
  key,
  fn: 'f',
  fnName: 'f',
  source: '(...a) => a',
  args: encodeValue(deps.map((d) => new FutureRef(d))).bytes,
  deps: deps.map((d) => ({ key: d, holders: [{ id: 'peer', address: 'tcp://127.0.0.1:1' }] })),
  ...extra,
});

test('one fetch per dependency even when several tasks wait for it; tasks run one per thread', async () => {
  const { executor, fetcher, core, feed, settle, of } = setup();
  feed(task('t1', ['d']), task('t2', ['d']));
  await settle();
  assert.equal(fetcher.calls.length, 1);
  fetcher.calls[0]?.resolve({ values: new Map([['d', encodeValue(5).bytes]]), missing: [] });
  await settle();
  assert.equal(executor.jobs.length, 1, 'one thread: one job at a time');
  assert.equal(executor.jobs[0]?.job.deps.size, 1);
  executor.jobs[0]?.finish({});
  await settle();
  assert.equal(of('t1')[0]?.type, 'task-finished');
  assert.equal(executor.jobs.length, 2);
  executor.jobs[1]?.finish({});
  await settle();
  assert.equal(of('t2')[0]?.type, 'task-finished');
  assert.equal(core.stats.tasks, 0);
  core.close();
});

test('free-keys cancels queued and running tasks silently and drops stored data', async () => {
  const { executor, core, feed, settle, of, sent } = setup();
  feed(task('a'), task('b'));
  await settle();
  assert.equal(executor.jobs.length, 1);
  feed({ type: 'free-keys', keys: ['a', 'b'] });
  await settle();
  assert.ok(executor.jobs[0]?.signal.aborted);
  assert.deepEqual([...of('a'), ...of('b')], []);
  assert.equal(executor.jobs.length, 1, 'the queued task never ran');
  feed(task('c'));
  await settle();
  executor.jobs[1]?.finish({});
  await settle();
  assert.ok(core.store.has('c'));
  feed({ type: 'free-keys', keys: ['c'] });
  assert.ok(!core.store.has('c'));
  assert.ok(sent.every((m) => m.type !== 'task-erred'));
  core.close();
});

test('a key already stored runs again (stored bytes are no result: a client may have put them); an unknown function errs; duplicates are ignored', async () => {
  const { executor, core, feed, settle, of } = setup();
  const put = new Uint8Array([6, 6, 6]);
  feed({ type: 'expect-put', items: [{ key: 'x', nbytes: 3, hash: await valueHash(put) }] });
  assert.deepEqual(await core.putData('x', put), { ok: true });
  feed(task('x'));
  await settle();
  assert.equal(executor.jobs.length, 1, 'bytes a client put under the key are not reported as its result');
  executor.jobs[0]?.finish({});
  await settle();
  feed(task('x'), task('y', [], { fn: 'never-sent', source: undefined }));
  await settle();
  assert.equal(executor.jobs.length, 2, 'asked again, it runs again');
  executor.jobs[1]?.finish({});
  await settle();
  assert.deepEqual(
    of('x').map((m) => m.type),
    ['task-finished', 'task-finished'],
  );
  assert.equal(of('y')[0]?.type, 'task-erred');
  assert.match((of('y')[0]?.error as { message: string }).message, /no source for function/);
  feed(task('z'), task('z'));
  await settle();
  assert.equal(executor.jobs.length, 3);
  core.close();
});

test('messages of one turn leave in one frame', async () => {
  const frames: Msg[][] = [];
  const executor = new ManualExecutor(1, false);
  const core = new WorkerCore({
    workerId: 'me',
    send: (f) => frames.push(decode(f) as Msg[]),
    executor,
    fetcher: new FakeFetcher(),
    heartbeatIntervalMs: 60_000,
  });
  core.handleFrame(
    encodeFrame([task('p', [], { fn: 'g', source: undefined }), task('q', [], { fn: 'g', source: undefined })]),
  );
  await new Promise((r) => setTimeout(r, 5));
  // The heartbeat sent at start and the two refusals, all in one frame.
  assert.equal(frames.length, 1);
  assert.deepEqual(
    frames[0]?.map((m) => m.type),
    ['heartbeat', 'task-erred', 'task-erred'],
  );
  core.close();
});

test('acquire fetches what is not here, stores it (counted in memory) and answers with sizes and what is missing', async () => {
  const { fetcher, core, feed, settle, sent } = setup();
  core.store.put('here', new Uint8Array(10));
  const tab = [{ id: 'tab-1', address: 'webrtc' }];
  const other = [{ id: 'tab-2', address: 'webrtc' }];
  feed({
    type: 'acquire',
    id: 7,
    items: [
      { key: 'here', holders: tab },
      { key: 'a', holders: tab },
      { key: 'b', holders: tab },
      { key: 'c', holders: other },
      { key: 'd', holders: other },
    ],
  });
  await settle();
  // One fetch per distinct holder list: tabs share an address, so ids tell them apart.
  assert.deepEqual(
    fetcher.calls.map((c) => [c.holders.map((h) => h.id), c.keys]),
    [
      [['tab-1'], ['a', 'b']],
      [['tab-2'], ['c', 'd']],
    ],
  );
  fetcher.calls[0]?.resolve({
    values: new Map([['a', new Uint8Array(100)]]),
    missing: [{ key: 'b', holder: 'tab-1', absent: true }],
  });
  fetcher.calls[1]?.resolve({
    values: new Map([['c', new Uint8Array(1000)]]),
    missing: [{ key: 'd', holder: 'tab-2' }],
  });
  await settle();
  const reply = sent.find((m) => m.type === 'acquired');
  assert.deepEqual(reply, {
    type: 'acquired',
    id: 7,
    items: [
      { key: 'here', nbytes: 10 },
      { key: 'a', nbytes: 100 },
      { key: 'c', nbytes: 1000 },
    ],
    // b: tab-1 said it lacks it (blamed); d: tab-2's link failed (no one blamed: it may be alive).
    missing: [{ key: 'b', holder: 'tab-1' }, { key: 'd' }],
  });
  assert.ok(core.store.has('a') && core.store.has('c') && !core.store.has('b'));
  assert.equal(core.memoryUsed, 1110);
  core.close();
});

test('a dependency fetch groups holders by id, not by address (every tab is "webrtc")', async () => {
  const { fetcher, core, feed, settle } = setup();
  const dep = (key: string, id: string) => ({ key, holders: [{ id, address: 'webrtc' }] });
  feed(
    task('t', [], {
      deps: [dep('x', 'tab-1'), dep('y', 'tab-2')],
      args: encodeValue([new FutureRef('x'), new FutureRef('y')]).bytes,
    }),
  );
  await settle();
  assert.deepEqual(
    fetcher.calls.map((c) => c.holders[0]?.id),
    ['tab-1', 'tab-2'],
  );
  core.close();
});

test('dep-missing names the holder only when it said it lacks the value; a failed link names no one', async () => {
  const { fetcher, core, feed, settle, of } = setup();
  const dep = (key: string, id: string) => ({ key, holders: [{ id, address: 'tcp://127.0.0.1:1' }] });
  feed(task('lacks', [], { deps: [dep('x', 'w1')], args: encodeValue([new FutureRef('x')]).bytes }));
  feed(task('unreachable', [], { deps: [dep('y', 'w2')], args: encodeValue([new FutureRef('y')]).bytes }));
  await settle();
  fetcher.calls[0]?.resolve({ values: new Map(), missing: [{ key: 'x', holder: 'w1', absent: true }] });
  fetcher.calls[1]?.resolve({ values: new Map(), missing: [{ key: 'y', holder: 'w2' }] });
  await settle();
  assert.deepEqual(of('lacks'), [{ type: 'dep-missing', key: 'lacks', dep: 'x', holder: 'w1' }]);
  assert.deepEqual(of('unreachable'), [{ type: 'dep-missing', key: 'unreachable', dep: 'y' }]);
  core.close();
});

test('an acquire still fetching when the worker closes is not answered', async () => {
  const { fetcher, core, feed, settle, sent } = setup();
  feed({ type: 'acquire', id: 1, items: [{ key: 'k', holders: [{ id: 'tab', address: 'webrtc' }] }] });
  await settle();
  core.close();
  fetcher.calls[0]?.resolve({ values: new Map([['k', new Uint8Array(4)]]), missing: [] });
  await settle();
  assert.ok(!sent.some((m) => m.type === 'acquired'));
});

test('inputs are fetched (and the connection to their holder opened) when a task is assigned, while the threads are still busy', async () => {
  const { executor, fetcher, feed, settle, of, core } = setup();
  feed(task('busy'));
  await settle();
  assert.equal(executor.jobs.length, 1, 'the only thread is taken');
  feed(task('next', ['x']));
  await settle();
  assert.deepEqual(
    fetcher.calls.map((c) => c.keys),
    [['x']],
    'the fetch started ahead of need: before any thread was free',
  );
  fetcher.calls[0]?.resolve({ values: new Map([['x', encodeValue(1).bytes]]), missing: [] });
  await settle();
  assert.equal(executor.jobs.length, 1, 'still waiting for the thread');
  executor.jobs[0]?.finish({});
  await settle();
  assert.equal(executor.jobs.length, 2);
  assert.equal(executor.jobs[1]?.job.deps.size, 1, 'its input was already here');
  executor.jobs[1]?.finish({});
  await settle();
  assert.ok(of('next').some((m) => m.type === 'task-finished'));
  core.close();
});

test('timeoutMs counts from when the job has a thread (onStart), then aborts it with TimeoutError', async () => {
  const { executor, core, feed, settle } = setup();
  try {
    feed(task('t', [], { timeoutMs: 30 }));
    await settle();
    const run = executor.jobs[0];
    assert.ok(run);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(run.signal.aborted, false, 'waiting for a thread does not count');
    run.hooks.onStart?.();
    await new Promise((r) => run.signal.addEventListener('abort', r, { once: true }));
    assert.equal((run.signal.reason as { code?: string }).code, 'TIMEOUT');
    assert.match(String((run.signal.reason as Error).message), /task 't' ran past its timeout of 30 ms/);
  } finally {
    core.close();
  }
});

test('the worker tells the scheduler which announced puts it took (puts-stored), also when it held the same bytes already; not a refused one', async (t) => {
  const { sent, core, feed, settle } = setup();
  t.after(() => core.close());
  const put = new Uint8Array([4, 5, 6]);
  const hash = await valueHash(put);
  feed({ type: 'expect-put', items: ['p1', 'p2', 'p3'].map((key) => ({ key, nbytes: 3, hash })) });
  assert.deepEqual(await core.putData('p1', put), { ok: true });
  assert.deepEqual(await core.putData('p2', put), { ok: true });
  assert.equal((await core.putData('p3', new Uint8Array([9, 9, 9]))).ok, false, 'not the announced bytes');
  await settle();
  const reported = () => sent.flatMap((m) => (m.type === 'puts-stored' ? (m.keys as string[]) : []));
  assert.deepEqual(reported(), ['p1', 'p2'], 'the scheduler stops counting them against this worker');
  // Announced again though already stored here (a client scattering the same value twice).
  feed({ type: 'expect-put', items: [{ key: 'p1', nbytes: 3, hash }] });
  assert.deepEqual(await core.putData('p1', put), { ok: true });
  await settle();
  assert.deepEqual(reported(), ['p1', 'p2', 'p1'], 'its announcement is used up too');
});
