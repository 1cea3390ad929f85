/** asCompleted, wait and cancel against a fake scheduler (tasks of `slow*` functions are held). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CancelledError, Client, ConnectionError, GraphError, LostError, RemoteError, TimeoutError, type Future } from '../src/index.js';
import { KeyState } from '../src/future.js';
import { platform } from '../src/platform.node.js';
import { retainedBy } from '../../tests/support/retained.mjs';
import { FakeScheduler } from './fake-scheduler.js';

const turn = (): Promise<void> => new Promise((r) => setTimeout(r, 20));
const inc = (x: number): number => x + 1;
const slow = (x: number): number => x * 10;
const slow2 = (x: number): number => x * 100;
const boom = (x: number): number => {
  throw new Error(`boom ${x}`);
};

let fake: FakeScheduler;
let client: Client;
before(async () => {
  fake = await FakeScheduler.start({ hold: ['slow', 'slow2'] });
  client = await Client.connect(fake.address, { platform });
});
after(async () => {
  await client.close();
  await fake.close();
});

/** Sends `key-finished` for a key the client holds (the fake ran it already). */
function finishLater(f: Future<unknown>, ms: number): void {
  setTimeout(() => {
    for (const ws of fake.sockets) fake.send(ws, [{ type: 'key-finished', key: f.key }]);
  }, ms);
}

describe('asCompleted', () => {
  it('yields futures in the order they settle, errors included', async () => {
    const a = client.submit(slow, 1);
    const b = client.submit(inc, 2);
    const c = client.submit(boom, 3);
    const seen: string[] = [];
    const ac = client.asCompleted([a, b, c]);
    assert.equal(ac.count(), 3);
    setTimeout(() => fake.runHeld(), 50);
    for await (const f of ac) seen.push(`${f.key === a.key ? 'a' : f.key === b.key ? 'b' : 'c'}:${f.status}`);
    assert.deepEqual(seen.slice(2), ['a:finished']);
    assert.deepEqual(new Set(seen.slice(0, 2)), new Set(['b:finished', 'c:error']));
    assert.ok(ac.isEmpty());
    await assert.rejects(c.result(), RemoteError);
  });

  it('takes more futures while iterating, and ends once all added are yielded', async () => {
    const first = client.submit(inc, 10);
    const later = client.submit(slow, 10);
    const ac = client.asCompleted([first]);
    const seen: Future<number>[] = [];
    for await (const f of ac) {
      seen.push(f);
      if (f === first) {
        ac.add(later);
        setTimeout(() => fake.runHeld(), 30);
      }
    }
    assert.deepEqual(seen, [first, later]);
    assert.equal(await later.result(), 100);
  });

  it('yields a cancelled future, and times out when nothing settles', async () => {
    const x = client.submit(slow, 20);
    const ac = client.asCompleted([x]);
    await client.cancel([x]);
    const step = await ac.next();
    assert.equal(step.value, x);
    assert.equal(x.status, 'cancelled');
    const stuck = client.submit(slow2, 21);
    await assert.rejects(client.asCompleted([stuck], { timeoutMs: 50 }).next(), TimeoutError);
  });
});

describe('wait', () => {
  it('ALL_COMPLETED returns every future done', async () => {
    const fs = client.map(inc, [1, 2, 3]);
    const { done, notDone } = await client.wait(fs);
    assert.deepEqual(done, fs);
    assert.deepEqual(notDone, []);
  });

  it('FIRST_COMPLETED returns once one is done', async () => {
    const quick = client.submit(inc, 40);
    const held = client.submit(slow, 40);
    const { done, notDone } = await client.wait([held, quick], { returnWhen: 'FIRST_COMPLETED', timeoutMs: 2_000 });
    assert.deepEqual(done, [quick]);
    assert.deepEqual(notDone, [held]);
  });

  it('throws TimeoutError if the time passes first', async () => {
    const held = client.submit(slow, 41);
    await assert.rejects(client.wait([held], { timeoutMs: 50 }), (e: unknown) => {
      assert.ok(e instanceof TimeoutError);
      assert.match(e.message, /1 of 1 future/);
      return true;
    });
    await assert.rejects(client.wait(held, { returnWhen: 'FIRST_COMPLETED', timeoutMs: 30 }), TimeoutError);
    assert.equal(held.status, 'pending');
  });

  it('FIRST_EXCEPTION returns on the first error, or when all are done', async () => {
    const held = client.submit(slow, 42);
    const bad = client.submit(boom, 42);
    const r = await client.wait([held, bad], { returnWhen: 'FIRST_EXCEPTION', timeoutMs: 2_000 });
    assert.deepEqual(r.done, [bad]);
    const ok = client.map(inc, [50, 51]);
    assert.equal((await client.wait(ok, { returnWhen: 'FIRST_EXCEPTION', timeoutMs: 2_000 })).done.length, 2);
  });

  it('counts a key listed twice once, and returns at once when an error is already in', async () => {
    const a = client.submit(inc, 60);
    const twice = await client.wait([a, a, client.submit(inc, 60)], { timeoutMs: 2_000 });
    assert.equal(twice.done.length, 3);
    assert.equal(twice.notDone.length, 0);
    const bad = client.submit(boom, 61);
    await assert.rejects(bad.result(), RemoteError);
    const held = client.submit(slow2, 61);
    const r = await client.wait([held, bad], { returnWhen: 'FIRST_EXCEPTION', timeoutMs: 2_000 });
    assert.deepEqual(r.done, [bad]);
    assert.deepEqual(r.notDone, [held]);
    const first = await client.wait([held, a], { returnWhen: 'FIRST_COMPLETED', timeoutMs: 2_000 });
    assert.deepEqual(first.done, [a]);
    await fake.until(() => fake.of('update-graph').some((m) => m.tasks.some((t) => t.key === held.key)));
    fake.runHeld();
    await held.result();
  });

  it('returns at once for no futures, and refuses an unknown returnWhen', async () => {
    assert.deepEqual(await client.wait([], { returnWhen: 'FIRST_COMPLETED' }), { done: [], notDone: [] });
    await assert.rejects(client.wait([], { returnWhen: 'SOMETIMES' as 'ALL_COMPLETED' }), GraphError);
  });

  it('wakes on key-finished pushes', async () => {
    const held = client.submit(slow2, 43);
    await turn();
    fake.runHeld(); // runs it and pushes key-finished
    const { done } = await client.wait([held], { timeoutMs: 1_000 });
    assert.deepEqual(done, [held]);
    finishLater(held, 0); // a second push changes nothing
  });
});

describe('cancel', () => {
  it('sends cancel, makes result() throw CancelledError, fires onDone, and sends no release-keys', async () => {
    const x = client.submit(slow, 60);
    const y = client.submit(inc, x);
    const calls: string[] = [];
    x.onDone((f) => calls.push(f.status));
    const pending = assert.rejects(x.result(), CancelledError);
    await turn();
    await x.cancel();
    assert.equal(x.status, 'cancelled');
    await fake.until(() => fake.of('cancel').some((m) => m.keys.includes(x.key)));
    assert.deepEqual(fake.of('cancel').at(-1), { type: 'cancel', keys: [x.key] });
    await pending;
    await assert.rejects(x.result(), (e: unknown) => e instanceof CancelledError && e.code === 'CANCELLED');
    assert.ok((await x.exception()) instanceof CancelledError);
    assert.deepEqual(calls, ['cancelled']);
    // The dependent is cancelled by the scheduler's key-cancelled push.
    await fake.until(() => y.status === 'cancelled');
    await assert.rejects(y.result(), CancelledError);
    // Only releases of x or y count: futures of earlier tests may be collected (and released) meanwhile.
    const ofXY = () => fake.of('release-keys').filter((m) => m.keys.includes(x.key) || m.keys.includes(y.key)).length;
    const releases = ofXY();
    x.release();
    y.release();
    await turn();
    assert.equal(ofXY(), releases, 'a cancelled key is not released');
  });

  it('a future made later for the same key is a new submission', async () => {
    const x = client.submit(slow, 61);
    await turn();
    await client.cancel(x);
    const again = client.submit(slow, 61);
    assert.equal(again.key, x.key);
    assert.equal(again.status, 'pending');
    await turn();
    const sent = fake.of('update-graph').flatMap((m) => m.tasks.map((t) => t.key));
    assert.equal(sent.filter((k) => k === x.key).length, 2);
    fake.runHeld();
    assert.equal(await again.result({ timeoutMs: 1_000 }), 610);
    assert.equal(x.status, 'cancelled');
  });

  it('a CANCELLED gather item for a key that was not cancelled is asked again', async () => {
    const other = client.submit(slow, 63);
    const value = other.result();
    await turn();
    const gather = fake.of('gather').findLast((g) => g.keys.includes(other.key));
    assert.ok(gather);
    const error = { code: 'CANCELLED', name: 'CancelledError', message: 'another key was cancelled' };
    for (const ws of fake.sockets) fake.send(ws, [{ type: 'gather-reply', id: gather.id, items: [{ key: other.key, error }] }]);
    await turn();
    assert.equal(other.status, 'pending');
    fake.runHeld();
    assert.equal(await value, 630);
  });

  it('cancels a finished future too', async () => {
    const f = client.submit(inc, 62);
    assert.equal(await f.result(), 63);
    await client.cancel([f]);
    assert.equal(f.status, 'cancelled');
    await assert.rejects(f.result(), CancelledError);
  });
});

describe('lost', () => {
  it("key-erred with code LOST gives status 'lost' and LostError", async () => {
    const f = client.submit(slow, 70);
    await turn();
    for (const ws of fake.sockets)
      fake.send(ws, [{ type: 'key-erred', key: f.key, error: { code: 'LOST', name: 'LostError', message: 'gone' } }]);
    await assert.rejects(f.result(), LostError);
    assert.equal(f.status, 'lost');
  });
});

describe('connection loss while waiting', () => {
  it('fails asCompleted and wait with ConnectionError (reconnecting off)', async () => {
    const own = await FakeScheduler.start({ hold: ['slow'] });
    const c = await Client.connect(own.address, { platform, reconnectTimeoutMs: 0 });
    const f = c.submit(slow, 1);
    const ac = c.asCompleted([f]);
    const waits = [assert.rejects(ac.next(), ConnectionError), assert.rejects(c.wait([f]), ConnectionError)];
    await turn();
    await own.close();
    await Promise.all(waits);
    await c.close();
  });
});

describe('what a key keeps for its waits', () => {
  it('nothing once the last wait on it is gone (a wait that timed out): no empty set per key', () => {
    const n = 20_000;
    const keys = Array.from({ length: n }, (_, i) => `inc-${i.toString(16).padStart(32, '0')}`);
    let states: KeyState[] = [];
    const perKey =
      retainedBy(() => {
        states = keys.map((key) => new KeyState(key, console));
        for (const s of states) s.addWaiter({ resolve: () => {}, reject: () => {} })();
      }) / n;
    assert.ok(perKey < 160, `${Math.round(perKey)} bytes a key`);
    assert.equal(states.length, n);
  });
});
