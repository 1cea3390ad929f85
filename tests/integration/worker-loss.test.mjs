// A worker process killed with SIGKILL: its running tasks run elsewhere, its results are
// recomputed from lineage, and the user's result() still returns the right value.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getJson, eventually, withCluster } from './helpers.mjs';

const slowSquare = async (x) => {
  await new Promise((r) => setTimeout(r, 1500));
  return x * x;
};

test('a worker killed in the middle of a task: the task re-runs on another worker', async () => {
  await withCluster({ workers: 2 }, async (cluster, client) => {
    const f = client.submit(slowSquare, 12);
    const state = await eventually(async () => {
      const s = await getJson(`${cluster.httpUrl}/api/state`);
      return s.workers.find((w) => w.tasks.running > 0) ? s : null;
    }, { what: 'task running' });
    const busy = state.workers.find((w) => w.tasks.running > 0);
    const victim = [...cluster.processes].find((p) => p.spawnargs.includes(busy.name));
    assert.ok(victim, 'found the process of the busy worker');
    victim.kill('SIGKILL');
    assert.equal(await f.result({ timeoutMs: 20_000 }), 144);
    const after = await getJson(`${cluster.httpUrl}/api/state`);
    assert.equal(after.workers.length, 1);
  });
});

test('results lost with their worker are recomputed from lineage', async () => {
  await withCluster({ workers: 2 }, async (cluster, client) => {
    const a = client.with({ workers: ['local-0'], allowOtherWorkers: true, pure: false }).submit((n) => Array.from({ length: n }, (_, i) => i), 1000);
    const b = client.with({ workers: ['local-0'], allowOtherWorkers: true }).submit((xs) => xs.reduce((s, v) => s + v, 0), a);
    assert.equal(await b.result(), 499500);
    const victim = [...cluster.processes].find((p) => p.spawnargs.includes('local-0'));
    victim.kill('SIGKILL');
    await eventually(async () => (await getJson(`${cluster.httpUrl}/api/state`)).workers.length === 1, { what: 'worker removed' });
    // b's data was only on local-0: asking for it recomputes a and b on local-1.
    assert.equal(await b.result({ timeoutMs: 20_000 }), 499500);
    const c = client.submit((x) => x + 1, b);
    assert.equal(await c.result({ timeoutMs: 20_000 }), 499501);
  });
});
