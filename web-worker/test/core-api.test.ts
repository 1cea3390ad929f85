/** The core's handling of steal-request, put-data, memory reports, run-function and secede/rejoin. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FutureRef, decode, decodeValue, encodeFrame, encodeValue, valueHash, type Holder } from '@meshwork/protocol';
import type { FetchResult, PeerFetcher } from '../src/core/interfaces.js';
import { WorkerCore } from '../src/core/worker-core.js';
import { ManualExecutor } from './manual-executor.js';

type Msg = Record<string, unknown> & { type: string };

class FakeFetcher implements PeerFetcher {
  calls: { keys: readonly string[]; signal: AbortSignal; resolve(r: FetchResult): void }[] = [];
  fetch(
    _holders: readonly Holder[],
    keys: readonly string[],
    { signal }: { signal: AbortSignal },
  ): Promise<FetchResult> {
    return new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason));
      this.calls.push({ keys, signal, resolve });
    });
  }
  close(): void {}
}

function setup(o: { threads?: number; memoryLimit?: number; run?: boolean } = {}) {
  const frames: Msg[][] = [];
  const executor = new ManualExecutor(o.threads);
  const runExecutor = new ManualExecutor();
  const fetcher = new FakeFetcher();
  const core = new WorkerCore({
    workerId: 'me',
    send: (frame) => frames.push(decode(frame) as Msg[]),
    executor,
    ...(o.run === false ? {} : { runExecutor }),
    fetcher,
    memoryLimit: o.memoryLimit ?? null,
    heartbeatIntervalMs: 60_000,
    schedule: (cb) => queueMicrotask(cb),
  });
  const feed = (...messages: Msg[]) => core.handleFrame(encodeFrame(messages));
  const settle = () => new Promise((r) => setTimeout(r, 5));
  const sent = () => frames.flat();
  const of = (key: string) => sent().filter((m) => m.key === key);
  return { frames, sent, executor, runExecutor, fetcher, core, feed, settle, of };
}

const task = (key: string, deps: string[] = []): Msg => ({
  type: 'compute-task',
  key,
  fn: 'f',
  fnName: 'f',
  source: '(...a) => a',
  args: encodeValue(deps.map((d) => new FutureRef(d))).bytes,
  deps: deps.map((d) => ({ key: d, holders: [{ id: 'peer', address: 'tcp://127.0.0.1:1' }] })),
});

test('steal-request: a queued task is given back and never runs; a running or unknown one is not', async () => {
  const { executor, core, feed, settle, of } = setup();
  feed(task('run'), task('queued'));
  await settle();
  assert.equal(executor.jobs.length, 1);
  feed(
    { type: 'steal-request', key: 'queued' },
    { type: 'steal-request', key: 'run' },
    { type: 'steal-request', key: 'never-seen' },
  );
  await settle();
  assert.deepEqual(of('queued'), [{ type: 'steal-response', key: 'queued', ok: true }]);
  assert.deepEqual(of('run'), [{ type: 'steal-response', key: 'run', ok: false }]);
  assert.deepEqual(of('never-seen'), [{ type: 'steal-response', key: 'never-seen', ok: false }]);
  executor.jobs[0]?.finish();
  await settle();
  assert.equal(executor.jobs.length, 1, 'the stolen task never ran');
  assert.equal(of('run').at(-1)?.type, 'task-finished');
  // Stolen back later: it runs as a new task.
  feed(task('queued'));
  await settle();
  assert.equal(executor.jobs[1]?.job.key, 'queued');
  core.close();
});

test('steal-request while fetching: the fetch is aborted once no task waits for it', async () => {
  const { fetcher, core, feed, settle, of } = setup();
  feed(task('t1', ['d']), task('t2', ['d']));
  await settle();
  assert.equal(fetcher.calls.length, 1);
  feed({ type: 'steal-request', key: 't1' });
  await settle();
  assert.equal(of('t1')[0]?.ok, true);
  assert.ok(!fetcher.calls[0]?.signal.aborted, 't2 still waits for the fetch');
  feed({ type: 'steal-request', key: 't2' });
  await settle();
  assert.equal(of('t2')[0]?.ok, true);
  assert.ok(fetcher.calls[0]?.signal.aborted, 'nobody waits: the fetch is aborted');
  // A new task for the same dependency starts a fresh fetch (not the aborted one) and no dep-missing is sent.
  feed(task('t3', ['d']));
  await settle();
  assert.equal(fetcher.calls.length, 2);
  assert.ok(!of('t3').some((m) => m.type === 'dep-missing'));
  core.close();
});

/** Announces puts to `feed` as the scheduler does with a scatter plan (expect-put: key, size, value hash). */
async function announce(feed: (...m: Msg[]) => void, items: Record<string, Uint8Array>): Promise<void> {
  const list = await Promise.all(
    Object.entries(items).map(async ([key, bytes]) => ({
      key,
      nbytes: bytes.byteLength,
      hash: await valueHash(bytes),
    })),
  );
  feed({ type: 'expect-put', items: list });
}

test('memory: a change over 5% of the limit is reported in the same batch; put-data over the limit is refused', async () => {
  const { frames: all, core, feed, settle, executor } = setup({ memoryLimit: 10_000 });
  await settle();
  all.length = 0;
  // What the worker reports of its memory (the puts it took are reported too: puts-stored).
  const reports = () => all.map((f) => f.filter((m) => m.type !== 'puts-stored')).filter((f) => f.length > 0);
  await announce(feed, { small: new Uint8Array(100), big: new Uint8Array(2_000), huge: new Uint8Array(7_000) });
  assert.deepEqual(await core.putData('small', new Uint8Array(100)), { ok: true });
  await settle();
  assert.equal(reports().length, 0, '100 bytes of 10 000 is under 5%: no report');
  assert.deepEqual(await core.putData('big', new Uint8Array(2_000)), { ok: true });
  feed(task('x'));
  await settle();
  assert.equal(reports().length, 1);
  assert.deepEqual(reports()[0], [{ type: 'heartbeat', memoryUsed: 2_100 }]);
  executor.jobs[0]?.finish({ bytes: new Uint8Array(1_000) });
  await settle();
  // The result and the heartbeat leave together.
  assert.deepEqual(
    reports()[1]?.map((m) => [m.type, m.memoryUsed]),
    [
      ['heartbeat', 3_100],
      ['task-finished', undefined],
    ],
  );
  const refused = await core.putData('huge', new Uint8Array(7_000));
  assert.equal(refused.ok, false);
  assert.match(
    (refused as { message: string }).message,
    /7000 bytes is over this worker's remaining memory \(6900 of 10000 bytes\)/,
  );
  assert.ok(!core.store.has('huge'));
  // A client never overwrites a stored value; the same bytes again are accepted.
  const over = await core.putData('big', new Uint8Array(2_000).fill(7));
  assert.equal(over.ok, false);
  assert.match((over as { message: string }).message, /cannot overwrite/);
  assert.equal(core.store.get('big')?.[0], 0, 'the stored value is untouched');
  assert.deepEqual(await core.putData('big', new Uint8Array(2_000)), { ok: true });
  feed({ type: 'free-keys', keys: ['big', 'x'] });
  await settle();
  assert.deepEqual(reports().at(-1), [{ type: 'heartbeat', memoryUsed: 100 }]);
  core.close();
});

test('put-data is stored only as the scheduler announced it: key, size and value hash, once; one that comes first waits for it', async () => {
  const { core, feed, settle } = setup();
  await settle();
  const value = new Uint8Array([1, 2, 3, 4]);
  // Planted: nothing announced under the key. Refused (after the wait), nothing stored.
  const planted = await core.putData('victim-key', value);
  assert.equal(planted.ok, false);
  assert.match((planted as { message: string }).message, /no scatter of 'victim-key' to this worker was announced/);
  assert.ok(!core.store.has('victim-key'));
  await announce(feed, { k: value });
  const wrongBytes = await core.putData('k', new Uint8Array([9, 9, 9, 9]));
  assert.match((wrongBytes as { message: string }).message, /not the announced value: hash [0-9a-f]{64} where the producer reported/);
  const wrongSize = await core.putData('k', new Uint8Array([1, 2, 3]));
  assert.match(
    (wrongSize as { message: string }).message,
    /not the announced value: 3 bytes where the producer reported 4/,
  );
  assert.ok(!core.store.has('k'), 'nothing stored from the bad puts');
  assert.deepEqual(await core.putData('k', value), { ok: true });
  assert.deepEqual([...(core.store.get('k') ?? [])], [1, 2, 3, 4]);
  // A put that arrives before its announcement (another connection) waits for it.
  const early = core.putData('late', value);
  await announce(feed, { late: value });
  assert.deepEqual(await early, { ok: true });
  core.close();
});

test('run-function runs on its own executor even while every task thread is busy', async () => {
  const { executor, runExecutor, core, feed, settle, sent } = setup();
  feed(task('busy'));
  await settle();
  const args = encodeValue([1, 2]).bytes;
  feed({ type: 'run-function', id: 7, fn: 'r', fnName: 'r', source: '(a, b) => a + b', args });
  await settle();
  assert.equal(executor.jobs.length, 1);
  assert.equal(runExecutor.jobs.length, 1);
  assert.equal(runExecutor.jobs[0]?.job.source, '(a, b) => a + b');
  runExecutor.jobs[0]?.finish({ bytes: encodeValue(3).bytes });
  await settle();
  const reply = sent().find((m) => m.type === 'run-result');
  assert.equal(reply?.id, 7);
  assert.equal(decodeValue(reply?.value as Uint8Array), 3);
  feed({ type: 'run-function', id: 8, fn: 'r', fnName: 'r', source: 'x', args });
  await settle();
  runExecutor.jobs[1]?.finish({ ok: false, error: { code: 'REMOTE_ERROR', name: 'TypeError', message: 'nope' } });
  await settle();
  const erred = sent().find((m) => m.type === 'run-result' && m.id === 8);
  assert.deepEqual(erred?.error, { code: 'REMOTE_ERROR', name: 'TypeError', message: 'nope', workerId: 'me' });
  core.close();
});

test('run-function without a run executor is answered with an error', async () => {
  const { core, feed, settle, sent } = setup({ run: false });
  feed({ type: 'run-function', id: 1, fn: 'r', fnName: 'r', source: '() => 1', args: encodeValue([]).bytes });
  await settle();
  const reply = sent().find((m) => m.type === 'run-result');
  assert.match((reply?.error as { message: string }).message, /does not run functions/);
  core.close();
});

test('secede: a waiting task lets one more run; rejoin sends task-rejoined and the extra slot goes', async () => {
  const { executor, core, feed, settle, of } = setup({ threads: 1 });
  feed(task('parent'), task('child'), task('third'));
  await settle();
  assert.equal(executor.jobs.length, 1);
  const parent = executor.jobs[0];
  parent?.hooks?.onWait?.(true);
  parent?.hooks?.onWait?.(true); // repeated: no second message
  await settle();
  assert.deepEqual(of('parent'), [{ type: 'task-seceded', key: 'parent' }]);
  assert.equal(executor.jobs.length, 2, 'child runs while parent waits');
  assert.equal(core.stats.seceded, 1);
  parent?.hooks?.onWait?.(false);
  await settle();
  assert.deepEqual(of('parent').at(-1), { type: 'task-rejoined', key: 'parent' });
  executor.jobs[1]?.finish();
  await settle();
  assert.equal(executor.jobs.length, 2, 'parent counts again: third waits for a free thread');
  parent?.finish();
  await settle();
  assert.equal(executor.jobs.length, 3);
  // A task that ends while seceded: its task-finished stands for the rejoin.
  executor.jobs[2]?.hooks?.onWait?.(true);
  executor.jobs[2]?.finish();
  await settle();
  assert.deepEqual(
    of('third').map((m) => m.type),
    ['task-seceded', 'task-finished'],
  );
  assert.equal(core.stats.seceded, 0);
  core.close();
});

test("an input already stored here is used only when its value hash is the scheduler's; else it is dropped and fetched from the holders", async () => {
  const { core, feed, settle, fetcher, executor } = setup();
  await settle();
  const withHash = (key: string, dep: string, hash: string): Msg => {
    const m = task(key, [dep]);
    return {
      ...m,
      deps: [
        {
          key: dep,
          nbytes: 1,
          hash,
          holders: [
            { id: 'me', address: 'tcp://me' },
            { id: 'peer', address: 'tcp://127.0.0.1:1' },
          ],
        },
      ],
    };
  };
  // A copy stored with one hash, while the scheduler knows the value by another (planted, or stale).
  core.store.put('stale', new Uint8Array([1]), 'a'.repeat(64));
  feed(withHash('t1', 'stale', 'b'.repeat(64)));
  await settle();
  assert.deepEqual(
    fetcher.calls.map((c) => c.keys),
    [['stale']],
    'fetched from the holders, not taken from the store',
  );
  assert.ok(!core.store.has('stale'), 'the copy that is not the value is dropped');
  // A copy stored with the scheduler's hash is the input at once.
  core.store.put('good', new Uint8Array([2]), 'c'.repeat(64));
  feed(withHash('t2', 'good', 'c'.repeat(64)));
  await settle();
  assert.equal(fetcher.calls.length, 1, 'no fetch for the good copy');
  assert.deepEqual([...(executor.jobs.find((j) => j.job.key === 't2')?.job.deps.get('good') ?? [])], [2]);
  core.close();
});
