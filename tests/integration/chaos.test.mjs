// Soak under chaos: a 10,000-task graph with dependencies runs while a random worker process is
// SIGKILLed every 1–3 s and replaced. Every task's result is checked against a serial
// computation in this process: nothing lost, nothing computed wrong, nothing stuck. Then the
// same with 4 more clients submitting ~1,000 cheap tasks/s between them, each result checked.
//
// Replay a run with CHAOS_SEED=<the seed it printed>.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from '@meshwork/client';
import { LocalCluster } from '@meshwork/server';
import { getJson, eventually } from './helpers.mjs';
import {
  chaosGraph,
  chaosNode,
  chaosSeed,
  sameResult,
  seededRandom,
  serialResults,
  sleep,
  workerKiller,
} from './chaos-graph.mjs';

const WORKERS = 3;
const THREADS_PER_WORKER = 2;
/** 100 blocks × 5 layers × 20 tasks: 10,000 tasks (see chaosGraph). */
const BLOCKS = 100;
const LAYERS = 5;
const WIDTH = 20;
/** Each graph task sleeps this long (no CPU), so the graph outlasts several kills. */
const TASK_SLEEP_MS = 8;
/** The graph must be done by then, or the test fails (nothing stuck), in milliseconds. */
const GRAPH_DEADLINE_MS = 140_000;
/**
 * The extra clients of the loaded run, and how many cheap tasks each submits per tick: 120 tasks/s
 * in all. Clients take turns for workers, so the graph's client gets what the 4 others leave of
 * what this cluster finishes while workers are killed (~300 tasks/s on 2 cores); a load near that
 * would leave the graph a fifth of the turns (fairness, not a fault) and its deadline would
 * measure the machine.
 */
const LOAD_CLIENTS = 4;
const LOAD_TICK_MS = 100;
const LOAD_PER_TICK = 3; // 4 clients × 3 per 100 ms = 120 tasks/s

const log = (line) => console.log(`# ${line}`);

/** Submits the graph, checks each result as it settles, releases it. Resolves with the counts. */
async function runGraph(client, tasks, expected) {
  const futures = [];
  for (const t of tasks) futures.push(client.submit(chaosNode, t.spec, ...t.deps.map((d) => futures[d])));
  const counts = { checked: 0, wrong: 0, lost: 0, errors: new Map() };
  const checks = [];
  const byKey = new Map(futures.map((f, i) => [f, i]));
  for await (const f of client.asCompleted(futures)) {
    const i = byKey.get(f);
    checks.push(
      f.result().then(
        (value) => {
          counts.checked++;
          if (!sameResult(value, expected[i])) {
            counts.wrong++;
            if (counts.wrong <= 5) log(`wrong result for task ${i} (${f.key})`);
          }
          f.release();
        },
        (e) => {
          counts.lost++;
          const code = e.code ?? e.name;
          counts.errors.set(code, (counts.errors.get(code) ?? 0) + 1);
          if (counts.lost <= 5) log(`task ${i} (${f.key}) failed: ${e.code} ${e.message}`);
          f.release();
        },
      ),
    );
  }
  await Promise.all(checks);
  return counts;
}

/** One extra client: `LOAD_PER_TICK` cheap tasks every tick until `stop`, each result checked. */
async function loadClient(address, n, stop) {
  const client = await Client.connect(address, { name: `load-${n}` });
  const counts = { submitted: 0, checked: 0, wrong: 0, lost: 0 };
  const pending = [];
  try {
    let i = 0;
    const start = Date.now();
    while (!stop.done) {
      // Distinct arguments per client, so every task is a key of its own.
      const args = Array.from({ length: LOAD_PER_TICK }, () => n * 1e9 + i++);
      const fs = client.map((x) => x * 3 + 1, args);
      counts.submitted += fs.length;
      pending.push(
        client
          .gather(fs)
          .then(
            (values) => {
              for (const [k, v] of values.entries()) {
                counts.checked++;
                if (v !== args[k] * 3 + 1) counts.wrong++;
              }
            },
            (e) => {
              counts.lost += fs.length;
              log(`load client ${n}: ${e.code} ${e.message}`);
            },
          )
          .finally(() => fs.forEach((f) => f.release())),
      );
      // Keep the pace of the clock, not of the loop: a slow turn is made up by the next one.
      const next = start + (i / LOAD_PER_TICK) * LOAD_TICK_MS;
      await sleep(Math.max(0, next - Date.now()));
    }
    await Promise.all(pending);
    return counts;
  } finally {
    await client.close();
  }
}

async function soak({ load }) {
  const seed = chaosSeed(load ? 'soak under load' : 'soak');
  const random = seededRandom(seed);
  const tasks = chaosGraph({ blocks: BLOCKS, layers: LAYERS, width: WIDTH, seed, sleepMs: TASK_SLEEP_MS });
  const expected = await serialResults(tasks);
  const cluster = await LocalCluster.start({ workers: WORKERS, threadsPerWorker: THREADS_PER_WORKER });
  const client = await Client.connect(cluster.address, { name: 'soak' });
  const killer = workerKiller(cluster, random, { log });
  const stop = { done: false };
  const loaders = load ? Array.from({ length: LOAD_CLIENTS }, (_, n) => loadClient(cluster.address, n + 1, stop)) : [];
  const started = Date.now();
  const progress = setInterval(() => {
    const c = cluster.scheduler.state.statusCounts();
    log(
      `${((Date.now() - started) / 1000).toFixed(0)} s: ${JSON.stringify(c)} workers ${cluster.scheduler.state.workers.size}`,
    );
  }, 10_000);
  let timer;
  try {
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the graph was not done within ${GRAPH_DEADLINE_MS} ms`)),
        GRAPH_DEADLINE_MS,
      );
    });
    let counts;
    try {
      counts = await Promise.race([runGraph(client, tasks, expected), deadline]);
    } catch (e) {
      const dump = await getJson(`${cluster.httpUrl}/api/dump?limit=20`);
      log(
        `stuck: counts ${JSON.stringify(dump.counts)}; first tasks ${JSON.stringify(dump.tasks.filter((t) => t.status !== 'memory').slice(0, 5))}`,
      );
      throw e;
    } finally {
      stop.done = true;
      clearTimeout(timer);
    }
    const graphSeconds = (Date.now() - started) / 1000;
    await killer.stop();
    const loadCounts = await Promise.all(loaders);
    const seconds = (Date.now() - started) / 1000;
    const loadTotals = loadCounts.reduce(
      (a, c) => ({
        submitted: a.submitted + c.submitted,
        checked: a.checked + c.checked,
        wrong: a.wrong + c.wrong,
        lost: a.lost + c.lost,
      }),
      { submitted: 0, checked: 0, wrong: 0, lost: 0 },
    );
    log(
      `graph: ${tasks.length} tasks in ${graphSeconds.toFixed(1)} s; workers killed ${killer.stats.killed}; tasks checked ${counts.checked}; wrong ${counts.wrong}; lost ${counts.lost}` +
        (counts.errors.size > 0 ? ` (${[...counts.errors].map(([c, n]) => `${c} ×${n}`).join(', ')})` : ''),
    );
    if (load) {
      log(
        `load: ${LOAD_CLIENTS} clients submitted ${loadTotals.submitted} tasks (${(loadTotals.submitted / graphSeconds).toFixed(0)}/s while the graph ran); checked ${loadTotals.checked}; wrong ${loadTotals.wrong}; lost ${loadTotals.lost}; total ${seconds.toFixed(1)} s`,
      );
    }
    assert.equal(counts.lost, 0, 'no result lost (no task failed)');
    assert.equal(counts.wrong, 0, 'no result computed wrong');
    assert.equal(counts.checked, tasks.length, 'every task checked');
    assert.ok(killer.stats.killed >= 3, `the chaos struck (${killer.stats.killed} kills)`);
    if (load) {
      assert.equal(loadTotals.lost, 0, 'no load result lost');
      assert.equal(loadTotals.wrong, 0, 'no load result wrong');
      assert.equal(loadTotals.checked, loadTotals.submitted, 'every load task checked');
    }
    // Nothing leaked or broken: every key was released, and the state machine is consistent.
    const dump = await eventually(
      async () => {
        const d = await getJson(`${cluster.httpUrl}/api/dump?limit=5`);
        return d.taskCount === 0 ? d : null;
      },
      { timeoutMs: 20_000, what: 'every task released' },
    );
    assert.deepEqual(dump.invariants, []);
  } finally {
    stop.done = true;
    clearInterval(progress);
    await killer.stop();
    await Promise.allSettled(loaders);
    await client.close();
    await cluster.close();
  }
}

test('soak: a 10,000-task graph while worker processes are killed and replaced', async () => {
  await soak({ load: false });
});

test('soak under load: the same, with 4 more clients submitting 120 tasks/s', async () => {
  await soak({ load: true });
});
