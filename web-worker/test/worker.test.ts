import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FutureRef, INLINE_VALUE_MAX_BYTES, PROTOCOL_VERSION, decodeValue, encodeValue } from '@meshwork/protocol';
import { startWorker, type WorkerHandle } from '../src/node/index.js';
import { FakeScheduler, type FakeWorkerConn, type Msg } from './fake-scheduler.js';

let scheduler: FakeScheduler;
let a: WorkerHandle;
let b: WorkerHandle;
let ca: FakeWorkerConn;
let cb: FakeWorkerConn;

before(async () => {
  scheduler = await FakeScheduler.start();
  a = await startWorker({
    scheduler: scheduler.address,
    threads: 1,
    name: 'alpha',
    resources: { gpu: 1 },
    token: 'secret',
    memoryLimit: 1e9,
  });
  b = await startWorker({ scheduler: scheduler.address, threads: 2 });
  ca = await scheduler.conn(a.id);
  cb = await scheduler.conn(b.id);
});
after(async () => {
  await Promise.all([a.close(), b.close()]);
  await scheduler.close();
});

const fns = new Map<string, string>();
/** A compute-task message; the function's source rides along the first time per worker. */
function task(
  conn: FakeWorkerConn,
  key: string,
  fn: (...a: never[]) => unknown,
  args: unknown[],
  deps: { key: string; holders: { id: string; address: string }[] }[] = [],
  extra: Partial<Msg> = {},
): Msg {
  const source = fn.toString();
  const fnId = `fn-${source.length}-${fn.name}`;
  const seen = fns.get(`${conn.id}/${fnId}`);
  fns.set(`${conn.id}/${fnId}`, source);
  return {
    type: 'compute-task',
    key,
    fn: fnId,
    fnName: fn.name || 'lambda',
    args: encodeValue(args).bytes,
    deps,
    ...(seen ? {} : { source }),
    ...extra,
  };
}

test('hello carries what the scheduler needs', () => {
  const h = ca.hello;
  assert.equal(h.type, 'hello');
  assert.equal(h.role, 'worker');
  assert.equal(h.kind, 'node');
  assert.equal(h.protocolVersion, PROTOCOL_VERSION);
  assert.equal(h.threads, 1);
  assert.equal(h.name, 'alpha');
  assert.equal(h.token, 'secret');
  assert.equal(h.memoryLimit, 1e9);
  assert.deepEqual(h.resources, { gpu: 1 });
  assert.equal(h.agent, process.version);
  assert.equal(h.dataAddress, a.dataAddress);
  assert.match(a.dataAddress, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(cb.hello.memoryLimit, null);
});

test('a task runs and its small result comes back inline', async () => {
  const inc = (x: number) => x + 1;
  ca.send(task(ca, 'inc-1', inc, [1]));
  const m = await ca.forKey('inc-1');
  assert.equal(m.type, 'task-finished');
  assert.equal(decodeValue(m.value as Uint8Array), 2);
  assert.equal(m.nbytes, (m.value as Uint8Array).byteLength);
  assert.equal(m.thread, 0);
  assert.ok((m.startedAt as number) <= (m.stoppedAt as number));
  // Same function again: no source this time.
  ca.send(task(ca, 'inc-2', inc, [41]));
  assert.equal(decodeValue((await ca.forKey('inc-2')).value as Uint8Array), 42);
});

test('a dependency held by another worker is fetched over the data link; big results stay off the control channel', async () => {
  const make = (n: number) => new Float64Array(n).fill(2);
  ca.send(task(ca, 'big', make, [100_000]));
  const done = await ca.forKey('big');
  assert.equal(done.type, 'task-finished');
  assert.ok((done.nbytes as number) > INLINE_VALUE_MAX_BYTES);
  assert.equal(done.value, undefined);
  const sum = (xs: Float64Array, k: number) => xs.reduce((s, x) => s + x, 0) * k;
  cb.send(
    task(
      cb,
      'sum-1',
      sum,
      [new FutureRef('big'), 10],
      [{ key: 'big', holders: [{ id: a.id, address: a.dataAddress }] }],
    ),
  );
  const m = await cb.forKey('sum-1');
  assert.equal(m.type, 'task-finished', JSON.stringify(m));
  assert.equal(decodeValue(m.value as Uint8Array), 2_000_000);
});

test('a dependency no holder has gives dep-missing and the task is dropped', async () => {
  const ident = (x: unknown) => x;
  cb.send(
    task(
      cb,
      'needs-nope',
      ident,
      [new FutureRef('nope')],
      [{ key: 'nope', holders: [{ id: a.id, address: a.dataAddress }] }],
    ),
  );
  const m = await cb.forKey('needs-nope');
  assert.deepEqual(m, { type: 'dep-missing', key: 'needs-nope', dep: 'nope', holder: a.id });
});

test('free-keys drops stored data: a later fetch of it misses', async () => {
  const mk = () => 'payload';
  ca.send(task(ca, 'to-free', mk, []));
  assert.equal((await ca.forKey('to-free')).type, 'task-finished');
  ca.send({ type: 'free-keys', keys: ['to-free'] });
  const ident = (x: unknown) => x;
  // Give the free-keys a turn to land before B asks.
  await new Promise((r) => setTimeout(r, 50));
  cb.send(
    task(
      cb,
      'after-free',
      ident,
      [new FutureRef('to-free')],
      [{ key: 'to-free', holders: [{ id: a.id, address: a.dataAddress }] }],
    ),
  );
  assert.equal((await cb.forKey('after-free')).type, 'dep-missing');
});

test('a thrower gives task-erred with the remote error, key and worker id', async () => {
  const fail = () => {
    throw new RangeError('out of range');
  };
  ca.send(task(ca, 'fail-1', fail, []));
  const m = await ca.forKey('fail-1');
  assert.equal(m.type, 'task-erred');
  const e = m.error as Record<string, string>;
  assert.equal(e.code, 'REMOTE_ERROR');
  assert.equal(e.name, 'RangeError');
  assert.equal(e.message, 'out of range');
  assert.equal(e.key, 'fail-1');
  assert.equal(e.workerId, a.id);
});

test('a task past its timeoutMs errs with TIMEOUT and the worker carries on', async () => {
  const spin = () => {
    for (;;);
  };
  ca.send(task(ca, 'spin', spin, [], [], { timeoutMs: 100 }));
  const m = await ca.forKey('spin');
  assert.equal(m.type, 'task-erred');
  assert.equal((m.error as { code: string }).code, 'TIMEOUT');
  const inc = (x: number) => x + 1;
  ca.send(task(ca, 'inc-after-timeout', inc, [1]));
  assert.equal(decodeValue((await ca.forKey('inc-after-timeout')).value as Uint8Array), 2);
});

test('heartbeats report memory including the stored bytes', async () => {
  // The first heartbeats (sent at start) report nothing stored; a later one has 'big'.
  const hb = await ca.next((m) => m.type === 'heartbeat' && (m.memoryUsed as number) >= 800_000, 3_000);
  assert.ok(
    (hb.memoryUsed as number) < 1_000_000,
    `memoryUsed ${String(hb.memoryUsed)}: the bytes of values held, not the process's`,
  );
});

test('a malformed message is refused without harm', async () => {
  ca.send({ type: 'compute-task', key: 'bad' }, { type: 'made-up' });
  const inc = (x: number) => x + 1;
  ca.send(task(ca, 'inc-after-bad', inc, [2]));
  assert.equal(decodeValue((await ca.forKey('inc-after-bad')).value as Uint8Array), 3);
});

test('a refused token fails startup with a clear error', async () => {
  const s = await FakeScheduler.start();
  s.refuse = () => ({ type: 'error', code: 'AUTH_FAILED', message: 'bad token' });
  await assert.rejects(
    startWorker({ scheduler: s.address, threads: 1, token: 'wrong' }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'AUTH');
      assert.match(e.message, /token.*bad token/);
      return true;
    },
  );
  s.refuse = () => ({ type: 'error', code: 'VERSION_MISMATCH', message: 'scheduler speaks 99' });
  await assert.rejects(
    startWorker({ scheduler: s.address, threads: 1 }),
    new RegExp(`protocol version ${PROTOCOL_VERSION}: scheduler speaks 99`),
  );
  const gone = s.address;
  await s.close();
  // Nothing listens: it tries for rejoinTimeoutMs (a scheduler may be starting), then fails saying why.
  await assert.rejects(startWorker({ scheduler: gone, threads: 1, rejoinTimeoutMs: 300 }), /could not connect to the scheduler/);
});

test('when the scheduler goes away a worker told not to rejoin closes, saying why', async () => {
  const s = await FakeScheduler.start();
  const w = await startWorker({ scheduler: s.address, threads: 1, rejoinTimeoutMs: 0 });
  await s.close();
  const stopped = await w.closed;
  assert.match(stopped.reason, /scheduler connection closed/);
  assert.equal(stopped.error, undefined);
});

test('a worker rejoins a scheduler that comes back on its address: a new id, and its old data dropped', async () => {
  const s1 = await FakeScheduler.start();
  const port = Number(new URL(s1.address).port);
  const w = await startWorker({ scheduler: s1.address, threads: 1, rejoinTimeoutMs: 30_000 });
  try {
    const c1 = await s1.conn(w.id);
    c1.send(task(c1, 'kept-1', (x: number) => x + 1, [1]));
    assert.equal((await c1.forKey('kept-1')).type, 'task-finished');
    assert.ok(w.store.has('kept-1'));
    await s1.close();
    await new Promise((r) => setTimeout(r, 300)); // a few failed attempts: nothing listens
    const s2 = await FakeScheduler.start(port);
    try {
      const c2 = await s2.connWhere(() => true);
      assert.equal(c2.hello.dataAddress, w.dataAddress, 'the same worker, joining anew');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(w.id, c2.id, 'the id the new scheduler gave');
      assert.equal(w.store.has('kept-1'), false, 'what the old scheduler knew of is dropped');
      const doubleAfterRejoin = (x: number): number => x * 2;
      c2.send(task(c2, 'after-1', doubleAfterRejoin, [21]));
      const m = await c2.forKey('after-1');
      assert.equal(decodeValue(m.value as Uint8Array), 42, 'it runs tasks for the new scheduler');
    } finally {
      await w.close();
      await s2.close();
    }
  } finally {
    await w.close();
  }
});

test('a worker that cannot rejoin within rejoinTimeoutMs stops with an error saying so', async () => {
  const s = await FakeScheduler.start();
  const w = await startWorker({ scheduler: s.address, threads: 1, rejoinTimeoutMs: 500 });
  await s.close();
  const stopped = await w.closed;
  assert.match(stopped.error?.message ?? '', /could not rejoin the scheduler at ws:\/\/127\.0\.0\.1:\d+ within 500 ms/);
});

test('a worker started before its scheduler waits for it: it joins once the scheduler listens', async () => {
  const probe = await FakeScheduler.start();
  const port = Number(new URL(probe.address).port);
  await probe.close(); // nothing listens on the port now
  const starting = startWorker({ scheduler: `ws://127.0.0.1:${port}`, threads: 1, rejoinTimeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 300)); // a few failed attempts
  const s = await FakeScheduler.start(port);
  try {
    const w = await starting;
    try {
      const c = await s.connWhere(() => true);
      assert.equal(w.id, c.id);
    } finally {
      await w.close();
    }
  } finally {
    await s.close();
  }
});
