// The graph the chaos tests run, its serial twin, and the chaos itself (seeded randomness, a
// worker killer). Shared by tests/integration/chaos.test.mjs and tests/e2e/chaos.spec.ts.
import assert from 'node:assert/strict';

/**
 * One task of the graph. `spec` is [layer, index, seed, sleepMs]; `inputs` are results of the
 * previous layer. The result is `{ h }` (a 32-bit hash of the spec and of every byte of the
 * inputs), sometimes with `text` (100 B – 3 KB) or `big` (a Float64Array of 72–104 KB: over the
 * 64 KiB a value may ride inline, so it travels peer to peer). It sleeps `sleepMs` so that
 * the graph lasts long enough for the chaos to strike, without costing CPU. Self-contained: it
 * travels as source.
 */
export const chaosNode = async (spec, ...inputs) => {
  const [layer, index, seed, sleepMs] = spec;
  let h = (seed ^ Math.imul(layer + 1, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  for (const x of inputs) {
    h = Math.imul(h ^ x.h, 0x27d4eb2f) >>> 0;
    if (x.text !== undefined)
      for (let k = 0; k < x.text.length; k += 7) h = Math.imul(h ^ x.text.charCodeAt(k), 0x165667b1) >>> 0;
    if (x.big !== undefined) {
      let s = x.big.length;
      for (let k = 0; k < x.big.length; k++) s = (s * 31 + x.big[k]) % 2147483647;
      h = Math.imul(h ^ s, 0xc2b2ae35) >>> 0;
    }
  }
  if (sleepMs > 0) await new Promise((r) => setTimeout(r, sleepMs));
  const kind = h % 20;
  if (kind === 0) {
    const big = new Float64Array(9_000 + (h % 4_000));
    for (let k = 0; k < big.length; k++) big[k] = ((h + Math.imul(k, 2654435761)) >>> 0) % 1000;
    return { h, big };
  }
  if (kind < 6) {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    let text = '';
    for (let k = 0, n = 100 + (h % 3_000); k < n; k++) text += alphabet[(h + k * 7) % alphabet.length];
    return { h, text };
  }
  return { h };
};

/** The inputs of task `index` of a layer: itself and two others of the previous layer (so every task leads to the last layer). */
export function inputsOf(index, width) {
  return [...new Set([index, (index * 7 + 1) % width, (index * 13 + 5) % width])];
}

/**
 * Every task of the graph, deps before dependents: `{ id, spec, deps }` (deps are ids). The graph
 * is `blocks` blocks of `layers` × `width` tasks, each task combining up to three of the layer
 * before it in its block. Blocks keep lineage shallow: a result lost with a worker is recomputed
 * from at most `layers - 1` layers, so the graph can finish while workers keep dying (one deep
 * layered graph would lose, at every kill, results whose recomputation reaches back to its
 * first layer).
 */
export function chaosGraph({ blocks, layers, width, seed, sleepMs }) {
  const tasks = [];
  for (let block = 0; block < blocks; block++) {
    const base = block * layers * width;
    for (let layer = 0; layer < layers; layer++) {
      for (let i = 0; i < width; i++) {
        const deps = layer === 0 ? [] : inputsOf(i, width).map((j) => base + (layer - 1) * width + j);
        tasks.push({ id: base + layer * width + i, spec: [block * layers + layer, i, seed, sleepMs], deps });
      }
    }
  }
  return tasks;
}

/** The same graph computed here, in order, one task at a time: the truth to check against. */
export async function serialResults(tasks) {
  const values = [];
  for (const t of tasks) values.push(await chaosNode([...t.spec.slice(0, 3), 0], ...t.deps.map((d) => values[d])));
  return values;
}

/** Does a result from the cluster equal the serial one (every field, every byte)? */
export function sameResult(got, want) {
  if (got === null || typeof got !== 'object' || got.h !== want.h || got.text !== want.text) return false;
  if ((got.big === undefined) !== (want.big === undefined)) return false;
  if (want.big === undefined) return true;
  if (!(got.big instanceof Float64Array) || got.big.length !== want.big.length) return false;
  return (
    Buffer.compare(
      Buffer.from(got.big.buffer, got.big.byteOffset, got.big.byteLength),
      Buffer.from(want.big.buffer),
    ) === 0
  );
}

/** mulberry32: a small seeded generator, so a failing run can be replayed (CHAOS_SEED=...). */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: CHAOS_SEED when set, otherwise a fresh one; printed either way. */
export function chaosSeed(what) {
  const fromEnv = process.env.CHAOS_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
  console.log(`# ${what}: seed ${seed} (replay with CHAOS_SEED=${seed})`);
  return seed;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Kills a random worker process of a LocalCluster with SIGKILL every `minMs`–`maxMs` and starts a
 * replacement once the scheduler has noticed, until `stop()`. `killed` counts the kills.
 */
export function workerKiller(cluster, random, { minMs = 1_000, maxMs = 3_000, log = () => {} } = {}) {
  let stopped = false;
  let wake = () => {};
  const stats = { killed: 0 };
  const nameOf = (child) => child.spawnargs[child.spawnargs.indexOf('--name') + 1];
  const loop = (async () => {
    while (!stopped) {
      await new Promise((r) => {
        wake = r;
        setTimeout(r, minMs + random() * (maxMs - minMs));
      });
      if (stopped) break;
      const alive = [...cluster.processes].filter((p) => p.exitCode === null && p.signalCode === null);
      if (alive.length === 0) continue;
      const victim = alive[Math.floor(random() * alive.length)];
      const name = nameOf(victim);
      victim.kill('SIGKILL');
      stats.killed++;
      log(`killed worker ${name}`);
      const workers = cluster.scheduler.state.workers;
      const deadline = Date.now() + 30_000;
      while ([...workers.values()].some((w) => w.name === name)) {
        assert.ok(Date.now() < deadline, `the scheduler did not notice that ${name} died`);
        await sleep(20);
      }
      await cluster.addWorker();
    }
  })();
  return {
    stats,
    async stop() {
      stopped = true;
      wake();
      await loop;
    },
  };
}
