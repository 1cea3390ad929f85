/** A real Node worker against the fake scheduler: run, modules, steal, cancel, scatter, memory, tasks of tasks. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FutureRef, decodeValue, encodeValue, valueHash } from '@meshwork/protocol';
import { PeerSession } from '@meshwork/datalink';
import { dialLink } from '@meshwork/datalink/node';
import { startWorker, type WorkerHandle } from '../src/node/index.js';
import { FakeScheduler, type FakeWorkerConn, type Msg } from './fake-scheduler.js';

let scheduler: FakeScheduler;
let a: WorkerHandle;
let b: WorkerHandle;
let ca: FakeWorkerConn;
let cb: FakeWorkerConn;
const MEMORY_LIMIT = 4_000_000;

before(async () => {
  scheduler = await FakeScheduler.start();
  const clientModule = new URL('./fake-task-client.ts', import.meta.url).href;
  a = await startWorker({
    scheduler: scheduler.address,
    threads: 1,
    memoryLimit: MEMORY_LIMIT,
    token: 'tok',
    clientModule,
  });
  b = await startWorker({ scheduler: scheduler.address, threads: 1 });
  ca = await scheduler.conn(a.id);
  cb = await scheduler.conn(b.id);
});
after(async () => {
  await Promise.all([a.close(), b.close()]);
  await scheduler.close();
});

let n = 0;
function task(key: string, source: string, args: unknown[], extra: Partial<Msg> = {}): Msg {
  return {
    type: 'compute-task',
    key,
    fn: `fn-${++n}`,
    fnName: 'f',
    source,
    args: encodeValue(args).bytes,
    deps: [],
    ...extra,
  };
}
const SPIN = '() => { for (;;); }';

test('run-function answers with the Node version, even while the task thread is busy', async () => {
  ca.send(task('busy-1', SPIN, [], { timeoutMs: 3_000 }));
  const source = '() => globalThis.navigator?.userAgent ?? process.version';
  ca.send({ type: 'run-function', id: 1, fn: 'r1', fnName: 'lambda', source, args: encodeValue([]).bytes });
  const reply = await ca.next((m) => m.type === 'run-result');
  assert.equal(reply.id, 1);
  // Node 21+ has navigator.userAgent ('Node.js/22'); Node 20 does not.
  assert.equal(decodeValue(reply.value as Uint8Array), globalThis.navigator?.userAgent ?? process.version);
  ca.send({
    type: 'run-function',
    id: 2,
    fn: 'r2',
    fnName: 'boom',
    source: '() => { throw new RangeError("no") }',
    args: encodeValue([]).bytes,
  });
  const erred = await ca.next((m) => m.type === 'run-result');
  assert.deepEqual(
    [erred.id, (erred.error as Msg).name, (erred.error as Msg).message, (erred.error as Msg).workerId],
    [2, 'RangeError', 'no', a.id],
  );
  ca.send({ type: 'free-keys', keys: ['busy-1'] });
});

test('free-keys (a client cancelled) abandons a running task silently; the worker carries on', async () => {
  ca.send(task('spin-cancel', SPIN, []));
  await new Promise((r) => setTimeout(r, 100));
  ca.send({ type: 'free-keys', keys: ['spin-cancel'] });
  ca.send(task('after-cancel', '(x) => x * 3', [5]));
  const m = await ca.forKey('after-cancel');
  assert.equal(decodeValue(m.value as Uint8Array), 15);
  assert.ok(!ca.inbox.some((x) => x.key === 'spin-cancel'), 'nothing is reported for the cancelled task');
});

test('steal-request: a queued task is given back; the running one is not', async () => {
  ca.send(task('steal-run', SPIN, [], { timeoutMs: 1_000 }), task('steal-queued', '() => 1', []));
  await new Promise((r) => setTimeout(r, 50));
  ca.send({ type: 'steal-request', key: 'steal-queued' }, { type: 'steal-request', key: 'steal-run' });
  assert.deepEqual(await ca.forKey('steal-queued'), { type: 'steal-response', key: 'steal-queued', ok: true });
  assert.deepEqual(await ca.forKey('steal-run'), { type: 'steal-response', key: 'steal-run', ok: false });
  assert.equal((await ca.forKey('steal-run')).type, 'task-erred', 'it ran to its timeout');
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(!ca.inbox.some((x) => x.key === 'steal-queued'), 'the stolen task never ran');
});

test('an uploaded module: compute-task runs its export; a missing export errs naming module and export', async () => {
  const hash = scheduler.upload('kernels', 'export const mandel = (x, y) => x * 100 + y;');
  const mod = { module: { name: 'kernels', hash } };
  const first = task('mod-1', 'mandel', [3, 4], mod);
  ca.send(first);
  assert.equal(decodeValue((await ca.forKey('mod-1')).value as Uint8Array), 304);
  const again: Msg = { ...first, key: 'mod-2', args: encodeValue([5, 6]).bytes };
  delete again.source;
  ca.send(again, task('mod-3', 'nope', [], mod));
  assert.equal(decodeValue((await ca.forKey('mod-2')).value as Uint8Array), 506, 'the function is remembered by id');
  const erred = await ca.forKey('mod-3');
  assert.equal(erred.type, 'task-erred');
  assert.match(
    (erred.error as Msg).message as string,
    /module 'kernels' \(version [0-9a-f]+\) has no export 'nope'; its exports: mandel/,
  );
  ca.send({
    type: 'run-function',
    id: 3,
    fn: 'r3',
    fnName: 'mandel',
    source: 'mandel',
    module: mod.module,
    args: encodeValue([1, 1]).bytes,
  });
  assert.equal(decodeValue((await ca.next((m) => m.type === 'run-result' && m.id === 3)).value as Uint8Array), 101);
  assert.equal(
    scheduler.moduleHits.get('kernels'),
    1,
    'fetched once by the worker process, for the task thread and the run thread',
  );
});

test('put-data stores a value peers can fetch; memory is reported at once; over the limit is refused', async () => {
  const conn = new PeerSession(await dialLink(a.dataAddress), {
    localId: 'test-client',
    peerId: a.dataAddress,
    role: 'ask',
    path: 'tcp',
  });
  try {
    const value = new Float64Array(125_000).fill(1.5); // 1 MB: 25% of the limit
    const bytes = encodeValue(value).bytes;
    const opts = { signal: new AbortController().signal, timeoutMs: 10_000 };
    const y = encodeValue('y').bytes;
    // What the scheduler announces with a scatter plan: a worker stores no other put.
    const expected = [
      ['scattered-x', bytes],
      ['too-big', new Uint8Array(MEMORY_LIMIT)],
      ['scattered-y', y],
    ] as const;
    ca.send({
      type: 'expect-put',
      items: await Promise.all(
        expected.map(async ([key, b]) => ({ key, nbytes: b.byteLength, hash: await valueHash(b) })),
      ),
    });
    await conn.putData('scattered-x', bytes, opts);
    const hb = await ca.next((m) => m.type === 'heartbeat' && (m.memoryUsed as number) >= bytes.byteLength, 300);
    assert.ok((hb.memoryUsed as number) < MEMORY_LIMIT);
    cb.send(
      task('use-scattered', '(xs) => xs.length * xs[0]', [new FutureRef('scattered-x')], {
        deps: [{ key: 'scattered-x', holders: [{ id: a.id, address: a.dataAddress }] }],
      }),
    );
    assert.equal(decodeValue((await cb.forKey('use-scattered')).value as Uint8Array), 187_500);
    await assert.rejects(
      conn.putData('too-big', new Uint8Array(MEMORY_LIMIT), opts),
      /refused the request \(BAD_REQUEST\): a value of 4000000 bytes is over this worker's remaining memory/,
    );
    await assert.rejects(conn.putData('empty', new Uint8Array(0), opts), /no value/);
    // The connection is still good.
    await conn.putData('scattered-y', y, opts);
    ca.send({ type: 'free-keys', keys: ['scattered-x', 'scattered-y'] });
    await ca.next((m) => m.type === 'heartbeat' && (m.memoryUsed as number) < bytes.byteLength, 300);
  } finally {
    conn.close();
  }
});

test('a task that submits a sub-task and awaits it completes on a 1-thread worker (secede / rejoin)', async () => {
  const parent = `async (x) => { const c = globalThis.meshwork.client(); return (await c.compute((y) => y * 2, x)) + 1; }`;
  ca.send(task('parent', parent, [20], { capability: 'cap-of-parent' }));
  assert.deepEqual(await ca.forKey('parent'), { type: 'task-seceded', key: 'parent' });
  const client = await scheduler.connWhere((h) => h.role === 'task-client');
  assert.equal(client.hello.capability, 'cap-of-parent', "the task's client says hello with the task's capability");
  const sub = await client.next((m) => m.type === 'sub-submit');
  ca.send(task('child', sub.source as string, decodeValue(sub.args as Uint8Array) as unknown[]));
  const child = await ca.forKey('child');
  assert.equal(child.type, 'task-finished');
  assert.equal(child.thread, 1, 'the child ran on an extra thread');
  client.send({ type: 'sub-result', value: child.value });
  assert.deepEqual(await ca.forKey('parent'), { type: 'task-rejoined', key: 'parent' });
  const done = await ca.forKey('parent');
  assert.equal(done.type, 'task-finished');
  assert.equal(decodeValue(done.value as Uint8Array), 41);
});
