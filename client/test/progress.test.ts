/** client.progress against a fake scheduler (tasks of `held*` functions wait until the test settles them). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, ConnectionError, TimeoutError, type Future, type ProgressState } from '../src/index.js';
import { platform } from '../src/platform.node.js';
import { FakeScheduler } from './fake-scheduler.js';

const inc = (x: number): number => x + 1;
const held = (x: number): number => x * 10;
const boom = (x: number): number => {
  throw new Error(`boom ${x}`);
};

let fake: FakeScheduler;
let client: Client;
before(async () => {
  fake = await FakeScheduler.start({ hold: ['held'] });
  client = await Client.connect(fake.address, { platform });
});
after(async () => {
  await client.close();
  await fake.close();
});

/** Tells the client that `f` finished (the fake scheduler's way of a worker completing it). */
function finish(f: Future<unknown>): void {
  for (const ws of fake.sockets) fake.send(ws, [{ type: 'key-finished', key: f.key }]);
}

const state = (done: number, total: number, erred = 0): ProgressState => ({ done, total, erred });

describe('progress', () => {
  it('yields the current counts first, then one step per change, and ends when all have settled', async () => {
    const fs = client.map(held, [1, 2, 3]);
    await fake.until(() => fake.received.some((m) => m.type === 'update-graph'));
    const p = client.progress(fs);
    assert.deepEqual((await p.next()).value, state(0, 3));
    finish(fs[1]!);
    assert.deepEqual((await p.next()).value, state(1, 3));
    finish(fs[0]!);
    assert.deepEqual((await p.next()).value, state(2, 3));
    finish(fs[2]!);
    assert.deepEqual((await p.next()).value, state(3, 3));
    assert.deepEqual(await p.next(), { value: undefined, done: true });
    assert.deepEqual(await p.next(), { value: undefined, done: true }, 'stays ended');
    fake.runHeld(); // the values, for the gather
    assert.deepEqual(await client.gather(fs), [10, 20, 30]);
  });

  it('counts errors and cancellations in `erred` (and in `done`)', async () => {
    const ok = client.submit(inc, 100);
    const bad = client.submit(boom, 101);
    const cancelled = client.submit(held, 102);
    const steps: ProgressState[] = [];
    const all = client.progress([ok, bad, cancelled]).forEach((s) => steps.push(s));
    await assert.rejects(bad.result());
    await client.cancel(cancelled);
    const last = await all;
    assert.deepEqual(last, state(3, 3, 2));
    assert.deepEqual(steps.at(-1), last);
    for (let i = 1; i < steps.length; i++) assert.ok(steps[i]!.done > steps[i - 1]!.done, 'each step is a change');
  });

  it('reports futures that settle while the consumer is busy together, with current counts', async () => {
    const fs = client.map(held, [11, 12, 13, 14]);
    const p = client.progress(fs);
    assert.deepEqual((await p.next()).value, state(0, 4));
    for (const f of fs.slice(0, 3)) finish(f);
    await client.wait(fs.slice(0, 3));
    assert.deepEqual((await p.next()).value, state(3, 4));
    finish(fs[3]!);
    assert.deepEqual((await p.next()).value, state(4, 4));
    assert.equal((await p.next()).done, true);
  });

  it('futures already settled (or none) give one step and end', async () => {
    const fs = client.map(inc, [200, 201]);
    await client.wait(fs);
    const seen: ProgressState[] = [];
    for await (const s of client.progress(fs)) seen.push(s);
    assert.deepEqual(seen, [state(2, 2)]);
    const none: ProgressState[] = [];
    for await (const s of client.progress([])) none.push(s);
    assert.deepEqual(none, [state(0, 0)]);
  });

  it('timeoutMs throws TimeoutError, a signal stops it with its reason, break stops following', async () => {
    const stuck = client.submit(held, 300);
    const timed = client.progress([stuck], { timeoutMs: 50 });
    assert.deepEqual((await timed.next()).value, state(0, 1));
    await assert.rejects(timed.next(), TimeoutError);

    const controller = new AbortController();
    const aborted = client.progress([stuck], { signal: controller.signal });
    await aborted.next();
    const pending = aborted.next();
    const reason = new Error('stop');
    controller.abort(reason);
    await assert.rejects(pending, (e) => e === reason);

    let steps = 0;
    for await (const _ of client.progress([stuck])) {
      steps++;
      break;
    }
    assert.equal(steps, 1);
    fake.runHeld();
    assert.equal(await stuck.result(), 3000);
  });

  it('fails with ConnectionError when the client goes away', async () => {
    const other = await Client.connect(fake.address, { platform });
    const f = other.submit(held, 400);
    const p = other.progress([f]);
    await p.next();
    const failed = assert.rejects(p.next(), ConnectionError);
    await other.close();
    await failed;
  });
});
