/** The client a task finds at globalThis.meshwork: usable at once, cached, and reporting its waits. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TASK_GLOBAL } from '@meshwork/protocol';
import { Client, ConnectionError, installTaskGlobal } from '../src/index.js';
import { FakeScheduler } from './fake-scheduler.js';

const inc = (x: number): number => x + 1;
const slow = (x: number): number => x * 2;

describe('installTaskGlobal', () => {
  let fake: FakeScheduler;
  const events: boolean[] = [];
  let installed: ReturnType<typeof installTaskGlobal>;
  before(async () => {
    fake = await FakeScheduler.start({ hold: ['slow'] });
    (globalThis as Record<string, unknown>)[TASK_GLOBAL] = { other: 1 };
    installed = installTaskGlobal({ address: fake.address, onWait: (w) => events.push(w) });
  });
  after(async () => {
    await installed.close();
    await fake.close();
    delete (globalThis as Record<string, unknown>)[TASK_GLOBAL];
  });

  const taskGlobal = (): { client(): Client; other?: number } =>
    (globalThis as unknown as Record<string, { client(): Client; other?: number }>)[TASK_GLOBAL] as {
      client(): Client;
      other?: number;
    };

  it('gives a Client at once (queued until connected), the same one each time, merged into meshwork', async () => {
    const g = taskGlobal();
    assert.equal(g.other, 1);
    const c = g.client();
    assert.ok(c instanceof Client);
    assert.equal(c, g.client());
    // eslint-disable-next-line @typescript-eslint/await-thenable -- what task code writes: `await meshwork.client()`
    assert.equal(await g.client(), c, 'await meshwork.client() works too');
    const f = c.submit(inc, 1); // before the handshake is done
    assert.equal(await f.result(), 2);
    assert.equal(c.id, 'client-1');
    assert.equal(fake.of('hello').length, 1);
    assert.equal(fake.of('hello')[0]?.name, 'task-client');
  });

  it('reports waits: true when the first starts, false when the last ends (nested waits count once)', async () => {
    const c = taskGlobal().client();
    events.length = 0;
    const a = c.submit(slow, 1);
    const b = c.submit(slow, 2);
    const both = c.gather([a, b]);
    const one = a.result();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(events, [true]);
    fake.runHeld();
    assert.deepEqual(await both, [2, 4]);
    assert.equal(await one, 2);
    assert.deepEqual(events, [true, false]);
    // Already settled and cached: no wait at all.
    await a.result();
    assert.deepEqual(events, [true, false]);
    const w = c.submit(slow, 3);
    await new Promise((r) => setTimeout(r, 20));
    setTimeout(() => fake.runHeld(), 20);
    await c.wait([w]);
    assert.deepEqual(events, [true, false, true, false]);
  });

  it("connects with the running task's capability: one client per capability, the previous one closed", async () => {
    let capability: string | undefined = 'cap-a';
    const scoped = installTaskGlobal({ address: fake.address, capability: () => capability });
    try {
      const a = scoped.client();
      assert.equal(scoped.client(), a, 'the same task: the same client');
      assert.equal(await a.submit(inc, 1).result(), 2);
      capability = 'cap-b';
      const b = scoped.client();
      assert.notEqual(b, a, "another client's task gets a client of its own");
      assert.equal(await b.submit(inc, 2).result(), 3);
      assert.equal(a.connected, false, "the earlier task's client is closed");
      assert.deepEqual(
        fake.of('hello').slice(-2).map((h) => h.capability),
        ['cap-a', 'cap-b'],
      );
    } finally {
      await scoped.close();
      await installed.close(); // its client stays open otherwise, and keeps the process alive
      installed = installTaskGlobal({ address: fake.address, onWait: (w) => events.push(w) });
    }
  });

  it('a client that cannot connect fails its waits with ConnectionError; the next call makes a new one', async () => {
    const dead = installTaskGlobal({ address: 'ws://127.0.0.1:1' });
    const c = dead.client();
    await assert.rejects(c.submit(inc, 1).result(), ConnectionError);
    assert.equal(c.connected, false);
    assert.notEqual(dead.client(), c);
    await dead.close();
    installed = installTaskGlobal({ address: fake.address, onWait: (w) => events.push(w) });
  });
});

describe('Client.connectInBackground', () => {
  it('closing before the scheduler answers closes the socket and fails waits', async () => {
    const fake = await FakeScheduler.start({ hello: 'silent' });
    const c = Client.connectInBackground(fake.address);
    const f = c.submit(inc, 1);
    const waiting = assert.rejects(f.result(), ConnectionError);
    await fake.until(() => fake.sockets.size === 1);
    await c.close();
    await waiting;
    await fake.until(() => fake.sockets.size === 0);
    assert.equal(fake.of('update-graph').length, 0, 'nothing queued was sent');
    await fake.close();
  });
});
