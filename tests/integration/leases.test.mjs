// Leases against a real cluster: a worker that takes tasks and never answers (or answers each one
// with task-seceded) holds them only until their lease ends; then they run elsewhere, every task
// completes, and the black hole is excluded once it lost many races and finished none. An honest
// worker that stops mid-task (a frozen process) is overtaken: the first result wins and the late
// copy is cancelled.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalCluster } from '@meshwork/server';
import { encodeFrame } from '@meshwork/protocol';
import { Client } from '@meshwork/client';
import { eventually, getJson, onTasks, rawWorker, workerNamed } from './helpers.mjs';

/** Past this the leases have surely failed, in milliseconds (the test takes ~8 s). */
const TEST_TIMEOUT_MS = 60_000;
/** Short leases, so the test does not wait the defaults (10 s at least, 30 s for a group with no finished run). */
const LEASES = { leaseMinMs: 500, leaseUnknownMs: 1_500 };
const TASKS = 40;
const inc = (x) => x + 1;

for (const [what, answer] of [
  ['never answers (declaring 1,024 threads)', undefined],
  ['secedes every task', (m) => ({ type: 'task-seceded', key: m.key })],
]) {
  test(
    `a worker that ${what} holds tasks only until their lease ends; every task completes elsewhere`,
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const cluster = await LocalCluster.start({ workers: 1, threadsPerWorker: 1, ...LEASES });
      const client = await Client.connect(cluster.address);
      const hole = await rawWorker(cluster.address, { name: 'hole', threads: answer ? 1 : 1024 });
      // Alive in the scheduler's eyes (a silent one would be dropped, its tasks redone anyway).
      const beat = setInterval(
        () => hole.ws.send(encodeFrame([{ type: 'heartbeat', memoryUsed: 0, traffic: [] }])),
        1_000,
      );
      try {
        const got = onTasks(hole, answer);
        const futures = client.map(
          inc,
          Array.from({ length: TASKS }, (_, i) => i),
        );
        const results = await client.gather(futures);
        assert.deepEqual(
          results,
          Array.from({ length: TASKS }, (_, i) => i + 1),
        );
        assert.ok(got.length > 0, 'the hole took tasks');
        const state = await workerNamed(cluster, 'hole');
        assert.ok(state.racesLost > 0, 'overtaken');
        assert.equal(state.suspicions, 0, 'a lost race is no suspicion');
        // Excluded once it lost RACES_LOST_TO_EXCLUDE (8) races and more than it finished (none).
        assert.equal(state.excluded, state.racesLost >= 8, `overtaken on ${state.racesLost} tasks`);
        const metrics = await (await fetch(`${cluster.httpUrl}/metrics`)).text();
        assert.match(metrics, /meshwork_tasks_speculated_total [1-9]/);
        console.log(`# the hole took ${got.length} of ${TASKS} tasks; all ran elsewhere`);
      } finally {
        clearInterval(beat);
        hole.ws.close();
        await client.close();
        await cluster.close();
      }
    },
  );
}

test(
  'a worker frozen mid-task is overtaken: the copy elsewhere wins, the frozen one is cancelled and lost a race',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const cluster = await LocalCluster.start({ workers: 2, threadsPerWorker: 1, ...LEASES });
    const client = await Client.connect(cluster.address);
    try {
      const sleepy = async (ms) => {
        await new Promise((r) => setTimeout(r, ms));
        return ms;
      };
      // The group's time becomes known (~50 ms): the lease is then the minimum.
      assert.deepEqual(await client.gather(client.map(sleepy, [50, 51])), [50, 51]);
      const f = client.with({ pure: false }).submit(sleepy, 300);
      const holder = await eventually(
        async () => (await getJson(`${cluster.httpUrl}/api/dump`)).workers.find((w) => w.processing.includes(f.key)),
        { what: 'the task on a worker' },
      );
      const frozen = [...cluster.processes].find((p) => p.spawnargs.includes(holder.name));
      frozen.kill('SIGSTOP');
      try {
        assert.equal(await f.result({ timeoutMs: 10_000 }), 300);
        const dump = await getJson(`${cluster.httpUrl}/api/dump`);
        const other = dump.workers.find((w) => w.id !== holder.id);
        assert.deepEqual(dump.tasks.find((t) => t.key === f.key).whoHas, [other.id], 'the copy elsewhere won');
        assert.equal(dump.workers.find((w) => w.id === holder.id).racesLost, 1, 'the frozen worker lost a race');
      } finally {
        frozen.kill('SIGCONT');
      }
      // Thawed, it gets the cancel: it keeps no copy, and the cluster goes on with both workers.
      assert.deepEqual(await client.gather(client.map(inc, [1, 2, 3, 4])), [2, 3, 4, 5]);
      const dump = await getJson(`${cluster.httpUrl}/api/dump`);
      assert.deepEqual(dump.tasks.find((t) => t.key === f.key).whoHas.length, 1);
      assert.equal(dump.workers.length, 2);
    } finally {
      await client.close();
      await cluster.close();
    }
  },
);
