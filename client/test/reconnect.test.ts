/** A client whose scheduler goes away: it reconnects by itself, gives up in time, and never hangs. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, ConnectionError, LostError } from '../src/index.js';
import { platform } from '../src/platform.node.js';
import { FakeScheduler } from './fake-scheduler.js';

const inc = (x: number): number => x + 1;
const slow = (x: number): number => x;
const portOf = (address: string): number => Number(new URL(address).port);

describe('reconnecting', () => {
  it('reconnects to a scheduler that comes back: held futures fail with LostError, new work runs', async () => {
    const first = await FakeScheduler.start({ hold: ['slow'] });
    const port = portOf(first.address);
    const client = await Client.connect(first.address, { platform });
    const done = client.submit(inc, 1);
    assert.equal(await done.result(), 2);
    const pending = client.submit(slow, 7);
    const outcome = pending.result().then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await first.until(() => first.of('update-graph').length === 2);
    await first.close();
    const error = await outcome;
    assert.ok(error instanceof LostError, `pending future failed with LostError, not ${String(error)}`);
    assert.match(error.message, /lost with the connection to the scheduler.*restarted.*submit the task again/);
    assert.equal(pending.status, 'lost');
    assert.equal(client.connected, true, 'still usable: reconnecting');
    // Submitted while no scheduler listens: queued, sent once reconnected.
    const during = client.submit(inc, 41);
    const second = await FakeScheduler.start({ port });
    try {
      assert.equal(await during.result({ timeoutMs: 10_000 }), 42);
      assert.equal(await done.result(), 2, 'a finished future keeps its cached value');
      // The same pure task again: a new submission with its function, not a bare want.
      const again = client.submit(inc, 1);
      assert.equal(again.key, done.key);
      assert.equal(await again.result(), 2);
      const graphs = second.of('update-graph');
      assert.ok(
        graphs.some((g) => g.tasks.some((t) => t.key === done.key)),
        'the task was sent anew',
      );
      assert.ok(
        graphs.every((g) => !g.wants.includes(pending.key)),
        'the lost key is not claimed again',
      );
      assert.equal(second.of('hello').length, 1);
      pending.release();
      done.release();
      await new Promise((r) => setTimeout(r, 20));
      assert.ok(
        second.of('release-keys').every((m) => !m.keys.includes(pending.key)),
        'releasing a lost future sends nothing',
      );
    } finally {
      await client.close();
      await second.close();
    }
    assert.equal((await client.closed).message, 'the client was closed');
  });

  it('asCompleted and wait see the held futures settle as lost, without waiting for the reconnect', async () => {
    const fake = await FakeScheduler.start({ hold: ['slow'] });
    const client = await Client.connect(fake.address, { platform });
    const f = client.submit(slow, 1);
    const ac = client.asCompleted([f]);
    const waited = client.wait([f], { timeoutMs: 10_000 });
    await fake.until(() => fake.of('update-graph').length === 1);
    await fake.close();
    assert.equal((await ac.next()).value, f);
    assert.deepEqual((await waited).done, [f]);
    assert.equal(f.status, 'lost');
    await client.close();
  });

  it('gives up after reconnectTimeoutMs: closed resolves with why, waits fail with ConnectionError', async () => {
    const fake = await FakeScheduler.start();
    const client = await Client.connect(fake.address, { platform, reconnectTimeoutMs: 400 });
    await fake.close();
    const why = await client.closed;
    assert.ok(why instanceof ConnectionError);
    assert.match(why.message, /could not reconnect within 400 ms/);
    assert.equal(client.connected, false);
    assert.throws(() => client.submit(inc, 1), ConnectionError);
  });

  it('with reconnectTimeoutMs 0 the first drop ends the client', async () => {
    const fake = await FakeScheduler.start();
    const client = await Client.connect(fake.address, { platform, reconnectTimeoutMs: 0 });
    await fake.close();
    assert.match((await client.closed).message, /lost the connection to the scheduler/);
    assert.equal(client.connected, false);
  });

  it('stops at once when the scheduler refuses the new hello', async () => {
    const first = await FakeScheduler.start();
    const port = portOf(first.address);
    const client = await Client.connect(first.address, { platform, reconnectTimeoutMs: 30_000 });
    await first.close();
    const second = await FakeScheduler.start({
      port,
      hello: { code: 'AUTH_FAILED', message: 'bad token' },
    });
    try {
      const why = await client.closed;
      assert.match(why.message, /could not reconnect.*refused this client: bad token/);
    } finally {
      await second.close();
    }
  });

  it('close() while reconnecting stops the attempts', async () => {
    const fake = await FakeScheduler.start();
    const client = await Client.connect(fake.address, { platform });
    await fake.close();
    await new Promise((r) => setTimeout(r, 50));
    await client.close();
    assert.equal((await client.closed).message, 'the client was closed');
    assert.equal(client.connected, false);
  });
});
