/** End to end against a fake scheduler: handshake, results, errors, reference counting, close. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  AuthError,
  Client,
  ConnectionError,
  ProtocolError,
  RemoteError,
  TimeoutError,
  type Future,
} from '../src/index.js';
import { PROTOCOL_VERSION } from '@meshwork/protocol';
import { platform } from '../src/platform.node.js';
import { FakeScheduler } from './fake-scheduler.js';

const inc = (x: number): number => x + 1;
const add = (a: number, b: number): number => a + b;
const turn = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

describe('connect', () => {
  it('says hello and gets its id from welcome', async () => {
    const fake = await FakeScheduler.start();
    const client = await Client.connect(fake.address, { platform, name: 'tester', token: 's3cret' });
    assert.equal(client.id, 'client-1');
    assert.deepEqual(fake.of('hello')[0], {
      type: 'hello',
      protocolVersion: PROTOCOL_VERSION,
      role: 'client',
      name: 'tester',
      token: 's3cret',
    });
    await client.close();
    await fake.close();
  });

  it('throws AuthError when the scheduler answers AUTH_FAILED', async () => {
    const fake = await FakeScheduler.start({ hello: { code: 'AUTH_FAILED', message: 'bad token' } });
    await assert.rejects(Client.connect(fake.address, { platform, token: 'wrong' }), (e: unknown) => {
      assert.ok(e instanceof AuthError);
      assert.equal(e.code, 'AUTH');
      assert.match(e.message, /bad token/);
      return true;
    });
    await fake.close();
  });

  it('throws ProtocolError on VERSION_MISMATCH', async () => {
    const fake = await FakeScheduler.start({ hello: { code: 'VERSION_MISMATCH', message: 'want 2' } });
    await assert.rejects(Client.connect(fake.address, { platform }), ProtocolError);
    await fake.close();
  });

  it('throws TimeoutError when hello is never answered', async () => {
    const fake = await FakeScheduler.start({ hello: 'silent' });
    const started = Date.now();
    await assert.rejects(Client.connect(fake.address, { platform, timeoutMs: 150 }), (e: unknown) => {
      assert.ok(e instanceof TimeoutError);
      assert.equal(e.code, 'TIMEOUT');
      return true;
    });
    assert.ok(Date.now() - started < 1_000);
    await fake.close();
  });

  it('throws ConnectionError when nothing listens', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    await assert.rejects(Client.connect(`ws://127.0.0.1:${port}`, { platform }), ConnectionError);
    await assert.rejects(Client.connect('ftp://x', { platform }), ConnectionError);
  });

  it(
    'finds its platform through #platform (needs the built client)',
    { skip: !existsSync(new URL('../dist/platform.node.js', import.meta.url)) },
    async () => {
      const fake = await FakeScheduler.start();
      const client = await Client.connect(fake.address);
      assert.equal(await client.submit(inc, 1).result(), 2);
      await client.close();
      await fake.close();
    },
  );
});

describe('results', () => {
  let fake: FakeScheduler;
  let client: Client;
  before(async () => {
    fake = await FakeScheduler.start({ hold: ['slow'] });
    client = await Client.connect(fake.address, { platform });
  });
  after(async () => {
    await client.close();
    await fake.close();
  });

  it('returns results inline, through futures passed as arguments', async () => {
    const x = client.submit(inc, 1);
    const y = client.submit(add, x, 10);
    assert.equal(await y.result(), 12);
    assert.equal(y.status, 'finished');
    assert.equal(x.status, 'finished');
    assert.deepEqual(await client.gather(client.map(inc, [1, 2, 3])), [2, 3, 4]);
  });

  it('gathers nested arrays and objects, passing the rest through, in one gather message', async () => {
    const before = fake.of('gather').length;
    const [a, b] = client.map(inc, [40, 50]) as [Future<number>, Future<number>];
    const m = new Map([['k', 1]]);
    const out = await client.gather({ list: [a, [b, 'x']], n: 7, m, deep: { f: a } });
    assert.deepEqual(out, { list: [41, [51, 'x']], n: 7, m, deep: { f: 41 } });
    assert.equal(fake.of('gather').length - before, 1);
  });

  it('returns binary values intact, and serves a second result() from the cache', async () => {
    const make = (n: number): Float64Array => Float64Array.from({ length: n }, (_, i) => i / 2);
    const f = client.submit(make, 100);
    const first = await f.result();
    assert.ok(first instanceof Float64Array);
    assert.equal(first[99], 49.5);
    const gathers = fake.of('gather').length;
    first[0] = 123;
    const second = await f.result();
    assert.equal(second[0], 0, 'each result() gets its own copy');
    assert.equal(fake.of('gather').length, gathers, 'no second gather');
    const bytes = client.submit((n: number): Uint8Array => new Uint8Array(n).fill(7), 64);
    const b1 = await bytes.result();
    b1.fill(0);
    assert.equal((await bytes.result())[0], 7);
  });

  it('stops waiting when the signal aborts', async () => {
    const slow = (x: number): number => x;
    const ac = new AbortController();
    const waiting = assert.rejects(client.submit(slow, 77).result({ signal: ac.signal }), /stop/);
    ac.abort(new Error('stop'));
    await waiting;
  });

  it('turns key-erred into a RemoteError with the remote stack', async () => {
    const boom = (x: number): number => {
      throw new TypeError(`boom ${x}`);
    };
    const f = client.submit(boom, 3);
    const calls: string[] = [];
    f.onDone((g) => calls.push(g.status));
    await assert.rejects(f.result(), (e: unknown) => {
      assert.ok(e instanceof RemoteError);
      assert.equal(e.code, 'REMOTE_ERROR');
      assert.equal(e.remoteName, 'TypeError');
      assert.equal(e.message, 'boom 3');
      assert.match(e.remoteStack ?? '', /TypeError: boom 3/);
      assert.equal(e.key, f.key);
      assert.equal(e.workerId, 'worker-a');
      return true;
    });
    assert.equal(f.status, 'error');
    assert.ok((await f.exception()) instanceof RemoteError);
    const late: string[] = [];
    f.onDone((g) => late.push(g.key));
    await turn();
    assert.deepEqual(calls, ['error']);
    assert.deepEqual(late, [f.key]);
    // A dependent fails with the same error.
    await assert.rejects(client.submit(inc, f).result(), RemoteError);
  });

  it('times out result() and stays usable', async () => {
    const slow = (x: number): number => x * 3;
    const f = client.submit(slow, 5);
    let done = 0;
    f.onDone(() => done++);
    await assert.rejects(f.result({ timeoutMs: 50 }), TimeoutError);
    assert.equal(f.status, 'pending');
    assert.equal(await f.exception({ timeoutMs: 10 }).catch((e: Error) => e.name), 'TimeoutError');
    fake.runHeld();
    assert.equal(await f.result({ timeoutMs: 1_000 }), 15);
    assert.equal(f.status, 'finished');
    assert.equal(await f.exception(), null);
    assert.equal(done, 1);
  });
});

describe('reference counting and closing', () => {
  it('sends release-keys once per Future; another Future for the key stays usable', async () => {
    const fake = await FakeScheduler.start();
    const client = await Client.connect(fake.address, { platform });
    const a = client.submit(inc, 7);
    const b = client.submit(inc, 7);
    await turn();
    assert.equal(fake.refcount(a.key), 2);
    a.release();
    a.release();
    await turn();
    assert.deepEqual(
      fake.of('release-keys').flatMap((m) => m.keys),
      [a.key],
    );
    assert.equal(fake.refcount(a.key), 1);
    assert.equal(await b.result(), 8);
    b.release();
    await turn();
    assert.equal(fake.refcount(a.key), 0);
    // A new Future for a released key asks for it again.
    const c = client.submit(inc, 7);
    assert.equal(await c.result(), 8);
    assert.equal(fake.refcount(c.key), 1);
    await client.close();
    await fake.close();
  });

  it('close() releases every key, fails pending waits with ConnectionError, and is idempotent', async () => {
    const fake = await FakeScheduler.start({ hold: ['slow'] });
    const client = await Client.connect(fake.address, { platform });
    const slow = (x: number): number => x;
    const f = client.submit(slow, 1);
    const g = client.submit(slow, 1);
    const pending = assert.rejects(f.result(), ConnectionError);
    await turn();
    await Promise.all([client.close(), client.close()]);
    await pending;
    await assert.rejects(g.result(), ConnectionError);
    assert.throws(() => client.submit(inc, 1), ConnectionError);
    await fake.until(() => fake.refcount(f.key) === 0);
    assert.deepEqual(
      fake.of('release-keys').flatMap((m) => m.keys),
      [f.key, f.key],
    );
    g.release(); // after close: nothing to do, no throw
    await fake.close();
  });

  it('fails pending waits with ConnectionError when the scheduler goes away (and reconnecting is off)', async () => {
    const fake = await FakeScheduler.start({ hold: ['slow'] });
    const client = await Client.connect(fake.address, { platform, reconnectTimeoutMs: 0 });
    const slow = (x: number): number => x;
    const f = client.submit(slow, 1);
    const waits = [assert.rejects(f.result(), ConnectionError), assert.rejects(f.exception(), ConnectionError)];
    await turn();
    await fake.close();
    await Promise.all(waits);
    assert.equal(client.connected, false);
    await client.close();
  });

  it('releases a Future that is garbage-collected', async (t) => {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (() => void) | undefined;
    if (typeof gc !== 'function') return t.skip('no gc() in this runtime');
    const fake = await FakeScheduler.start();
    const client = await Client.connect(fake.address, { platform });
    const key = ((): string => client.submit(inc, 99).key)();
    await turn();
    assert.equal(fake.refcount(key), 1);
    for (let i = 0; i < 50 && fake.refcount(key) !== 0; i++) {
      gc();
      await turn();
    }
    assert.equal(fake.refcount(key), 0);
    await client.close();
    await fake.close();
  });
});
