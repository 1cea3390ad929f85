// Bad input from users: each gives a clear error with a stable code, and other work goes on.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LocalCluster } from '@meshwork/server';
import { Client, RemoteError, SerializationError } from '@meshwork/client';

let cluster;
let client;
before(async () => {
  cluster = await LocalCluster.start({ workers: 2 });
  client = await Client.connect(cluster.address);
});
after(async () => {
  await client?.close();
  await cluster?.close();
});

test('a task that throws gives RemoteError with the remote name, stack, key and worker', async () => {
  function explode(x) {
    throw new TypeError(`bad ${x}`);
  }
  const f = client.submit(explode, 7);
  const err = await f.result().then(
    () => assert.fail('should throw'),
    (e) => e,
  );
  assert.ok(err instanceof RemoteError);
  assert.equal(err.code, 'REMOTE_ERROR');
  assert.equal(err.remoteName, 'TypeError');
  assert.equal(err.message, 'bad 7');
  assert.match(err.remoteStack, /explode/);
  assert.equal(err.key, f.key);
  assert.equal(typeof err.workerId, 'string');
  assert.equal(f.status, 'error');
  assert.equal((await f.exception()).code, 'REMOTE_ERROR');
  // Its dependents fail with the same error; other work is unaffected.
  const g = client.submit((x) => x + 1, f);
  await assert.rejects(g.result(), (e) => e.code === 'REMOTE_ERROR' && e.message === 'bad 7');
  assert.equal(await client.submit((x) => x * 2, 21).result(), 42);
});

test('a function reading a variable from its enclosing scope fails naming that variable', async () => {
  const offset = 5;
  const f = client.submit((x) => x + offset, 1);
  await assert.rejects(f.result(), (e) => e.code === 'REMOTE_ERROR' && /offset/.test(e.message) && /self-contained/.test(e.message));
});

test('unserialisable arguments are refused at submit, naming the path; nothing is sent', async () => {
  const id = (x) => x;
  const counts = async () => (await (await fetch(`${cluster.httpUrl}/api/state`)).json()).tasks;
  const before = await counts();
  const cases = [
    [[1, { cb: () => 1 }], /args\[1\]\.cb/],
    [[new (class Point { constructor() { this[Symbol('s')] = 1; } })()], /args\[0\]/],
    [[new WeakMap()], /args\[0\]/],
    [[(() => { const o = { a: 1 }; o.self = o; return o; })()], /args\[0\]\.self/],
    [[Symbol('x')], /args\[0\]/],
  ];
  for (const [args, path] of cases) {
    assert.throws(
      () => client.submit(id, ...args),
      (e) => e instanceof SerializationError && e.code === 'SERIALIZATION' && path.test(e.message),
    );
  }
  assert.throws(() => client.map(id, [1, () => 2]), (e) => e.code === 'SERIALIZATION');
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(await counts(), before, 'nothing reached the scheduler');
});

test('a task returning something unserialisable fails with a clear error', async () => {
  const f = client.submit(() => ({ ok: 1, cb: () => 2 }));
  await assert.rejects(f.result(), (e) => e.code === 'REMOTE_ERROR' && /result\.cb/.test(e.message) && /function/.test(e.message));
});

test('async task functions are awaited', async () => {
  const f = client.submit(async (x) => {
    await new Promise((r) => setTimeout(r, 10));
    return x * 3;
  }, 5);
  assert.equal(await f.result(), 15);
});
