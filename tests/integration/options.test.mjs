// The options of client.with(...) and the failure semantics of dask, against a real cluster.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LocalCluster } from '@meshwork/server';
import { Client, KilledWorkerError, TimeoutError } from '@meshwork/client';
import { withCluster } from './helpers.mjs';

test('key: a chosen key; retries: a task that fails twice succeeds on the third run', async () => {
  await withCluster({}, async (_cluster, client) => {
    const f = client.with({ key: 'my-key' }).submit((x) => x * 2, 21);
    assert.equal(f.key, 'my-key');
    assert.equal(await f.result(), 42);
    const counter = join(mkdtempSync(join(tmpdir(), 'meshwork-')), 'runs');
    const flaky = async (path) => {
      const fs = await import('node:fs');
      const runs = fs.existsSync(path) ? Number(fs.readFileSync(path, 'utf8')) + 1 : 1;
      fs.writeFileSync(path, String(runs));
      if (runs < 3) throw new Error(`run ${runs} fails`);
      return runs;
    };
    assert.equal(await client.with({ retries: 2, pure: false }).submit(flaky, counter).result(), 3);
    const counter2 = `${counter}-2`;
    await assert.rejects(client.with({ retries: 1, pure: false }).submit(flaky, counter2).result(), /run 2 fails/);
  });
});

test('priority: among ready tasks, higher priority runs first', async () => {
  await withCluster({ workers: 1 }, async (_cluster, client) => {
    const stamp = async (ms) => {
      await new Promise((r) => setTimeout(r, ms));
      return Date.now();
    };
    const s = client.with({ pure: false });
    const blocker = s.submit(stamp, 300);
    await new Promise((r) => setTimeout(r, 100));
    const low = s.map(stamp, [20, 20, 20, 20, 20, 20]);
    await new Promise((r) => setTimeout(r, 50));
    const high = client.with({ pure: false, priority: 10 }).submit(stamp, 20);
    const [b, lows, h] = await Promise.all([blocker.result(), client.gather(low), high.result()]);
    assert.ok(b < h);
    const after = lows.filter((t) => t > h).length;
    assert.ok(after >= 3, `the high-priority task overtook the queued low ones (${after} of 6 ran after it)`);
  });
});

// Far longer than any task timeout below, so only the task's own timeout can end these waits.
const RESULT_WAIT_MS = 20_000;
// How long the sleeping task would run without its timeout, in milliseconds.
const SLEEP_MS = 15_000;

/** Asserts that `future` failed with its own task timeout, not with the wait's. */
async function rejectsWithTaskTimeout(future, timeoutMs) {
  await assert.rejects(future.result({ timeoutMs: RESULT_WAIT_MS }), (e) => {
    assert.ok(e instanceof TimeoutError, `${e}`);
    assert.equal(e.code, 'TIMEOUT');
    assert.match(e.message, new RegExp(`task '${future.key}' ran past its timeout of ${timeoutMs} ms`));
    return true;
  });
}

test('timeoutMs: a busy loop fails with TimeoutError, its thread is replaced and the worker serves the next task', async () => {
  await withCluster({ workers: 1, threadsPerWorker: 1 }, async (_cluster, client) => {
    const whereAmI = async () => [process.pid, (await import('node:worker_threads')).threadId];
    const [pid, thread] = await client.with({ pure: false }).submit(whereAmI).result({ timeoutMs: RESULT_WAIT_MS });
    const spin = client.with({ timeoutMs: 300, pure: false }).submit(() => {
      while (true) {
        // never yields: only terminating its thread ends it
      }
    });
    await rejectsWithTaskTimeout(spin, 300);
    // One worker with one thread: the next task runs only if that thread was replaced. Its own
    // timeout counts from when it has a thread, not while the replacement starts.
    const next = client.with({ timeoutMs: 300, pure: false }).submit(whereAmI);
    const [pidAfter, threadAfter] = await next.result({ timeoutMs: RESULT_WAIT_MS });
    assert.equal(pidAfter, pid, 'the same worker process');
    assert.notEqual(threadAfter, thread, 'on a new thread');
  });
});

test('timeoutMs is per task, for submit and map: only the run past it fails, long before it would have ended; a bad value is refused at submit', async () => {
  await withCluster({ workers: 1, threadsPerWorker: 1 }, async (_cluster, client) => {
    const sleep = (ms) => new Promise((r) => setTimeout(() => r(ms), ms));
    const timed = client.with({ timeoutMs: 300, pure: false });
    const started = Date.now();
    const [fast, slow] = timed.map(sleep, [10, SLEEP_MS]);
    assert.equal(await fast.result({ timeoutMs: RESULT_WAIT_MS }), 10);
    await rejectsWithTaskTimeout(slow, 300);
    assert.ok(Date.now() - started < SLEEP_MS / 2, 'the timeout ended the task, not its own end');
    assert.equal(await timed.submit(sleep, 20).result({ timeoutMs: RESULT_WAIT_MS }), 20);
    // Longer than 300 ms: without the option, the same call runs to its end.
    assert.equal(await client.with({ pure: false }).submit(sleep, 600).result({ timeoutMs: RESULT_WAIT_MS }), 600);
    for (const bad of [-1, NaN, '300']) {
      assert.throws(() => client.with({ timeoutMs: bad }).submit(sleep, 1), (e) => e.code === 'GRAPH' && /options\.timeoutMs/.test(e.message));
    }
  });
});

test('a task that kills every worker it runs on fails with KilledWorkerError after 3', async () => {
  await withCluster({ workers: 3 }, async (cluster, client) => {
    const f = client.with({ pure: false }).submit(() => process.kill(process.pid, 'SIGKILL'));
    await assert.rejects(f.result({ timeoutMs: 30_000 }), (e) => e instanceof KilledWorkerError && e.code === 'KILLED_WORKER');
    assert.equal(cluster.scheduler.state.workers.size, 0);
    await cluster.addWorker();
    assert.equal(await client.submit((x) => x + 1, 1).result({ timeoutMs: 10_000 }), 2, 'the cluster goes on');
  });
});

test('nothing waits forever: with no workers result({timeoutMs}) times out; a joining worker settles the future', async () => {
  const cluster = await LocalCluster.start({ workers: 0 });
  const client = await Client.connect(cluster.address);
  try {
    const f = client.submit((x) => x * 3, 3);
    await assert.rejects(f.result({ timeoutMs: 300 }), (e) => e.code === 'TIMEOUT');
    await cluster.addWorker();
    assert.equal(await f.result({ timeoutMs: 10_000 }), 9);
    // A task restricted to a worker that is not there waits for it to join.
    const g = client.with({ workers: ['later'] }).submit((x) => x + 1, 1);
    await assert.rejects(g.result({ timeoutMs: 300 }), (e) => e.code === 'TIMEOUT');
    await cluster.addWorker(['--name', 'later']);
    assert.equal(await g.result({ timeoutMs: 10_000 }), 2);
  } finally {
    await client.close();
    await cluster.close();
  }
});
