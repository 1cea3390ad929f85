// Fuzzing the scheduler's edge: over 10,000 random and mutated frames (fuzz-frames.mjs) sent on
// raw WebSockets that said a valid hello, as a client and as a worker, while a real client keeps
// submitting and checking real work. Every frame the protocol's own parser finds bad must get an
// `error` reply before the answer to the probe that follows it (or, for a frame over the size
// limit, a closed connection); the state's invariants must hold throughout; the scheduler (in
// this process) must keep its memory. Reproduce a run with FUZZ_SEED=<the seed it printed>.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket from 'ws';
import { LocalCluster, checkInvariants } from '@meshwork/server';
import { Client } from '@meshwork/client';
import {
  ClientChannel,
  HELLO_TIMEOUT_MS,
  PROTOCOL_VERSION,
  WorkerChannel,
  decode,
  encode,
  parseFrame,
  typesOf,
} from '@meshwork/protocol';
import { getJson } from './helpers.mjs';
import { Pool, fuzzFrame, oversizedFrame, prng } from './fuzz-frames.mjs';

const FRAMES_PER_CHANNEL = Number(process.env.FUZZ_FRAMES ?? 5_500);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
/** Fuzzed frames in flight per connection. */
const WINDOW = 8;
const MiB = 1024 * 1024;

const channels = {
  client: { schema: ClientChannel.ClientToServer, types: typesOf(ClientChannel.ClientToServer) },
  worker: { schema: WorkerChannel.WorkerToServer, types: typesOf(WorkerChannel.WorkerToServer) },
};

/** What the scheduler knows of a task, for a failure message. */
function describeTask(state, key) {
  const t = state.tasks.get(key);
  if (!t) return `${key}: not in the scheduler`;
  const deps = t.deps.map((d) => `${d.key}=${d.status}@[${[...d.whoHas].map((w) => w.id)}]`);
  return `${key}: ${t.status} on ${t.processingOn?.id ?? '-'} waitingOn ${t.waitingOn} holders [${[...t.whoHas].map((w) => w.id)}] deps ${deps}`;
}

/** A raw connection that said hello as `role`, sending fuzzed frames each followed by a probe. */
async function fuzzer(address, role, pool) {
  const ws = new WebSocket(address, { perMessageDeflate: false, maxPayload: 256 * MiB });
  const inFlight = [];
  const stats = { frames: 0, expectedErrors: 0, errorReplies: 0, rateLimited: 0, closes: 0, valid: 0 };
  let closed = null;
  let welcomed;
  const welcome = new Promise((resolve) => (welcomed = resolve));
  let probeSeq = 1_000_000_000;
  const isProbeAnswer = (m, head) =>
    role === 'client'
      ? m.type === 'who-has-reply' && m.id === head.probe
      : m.type === 'relay' && m.from === `probe-${head.probe}`;
  ws.on('message', (data) => {
    for (const m of decode(data)) {
      if (m.type === 'welcome') {
        if (role === 'worker') pool.self = m.id;
        welcomed();
        continue;
      }
      if (m.type === 'compute-task') pool.addKey(m.key);
      const head = inFlight[0];
      if (!head) continue;
      if (m.type === 'error') {
        head.errors++;
        if (m.code === 'RATE_LIMITED') head.rateLimited = true;
      } else if (isProbeAnswer(m, head)) {
        inFlight.shift();
        head.done();
      }
    }
  });
  ws.on('close', (code) => {
    closed = code;
    for (const f of inFlight.splice(0)) f.done(code);
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  // A worker that is paused (memory over its limit) is given no tasks: real work stays with real workers.
  const hello =
    role === 'client'
      ? [{ type: 'hello', protocolVersion: PROTOCOL_VERSION, role: 'client', name: 'fuzzer' }]
      : [
          {
            type: 'hello',
            protocolVersion: PROTOCOL_VERSION,
            role: 'worker',
            name: 'fuzzer',
            kind: 'node',
            threads: 1,
            memoryLimit: 1000,
            resources: {},
            dataAddress: 'tcp://127.0.0.1:1',
            agent: 'fuzz',
          },
          { type: 'heartbeat', memoryUsed: 1e6 },
        ];
  ws.send(encode(hello));
  await welcome;

  const probe = (n) =>
    role === 'client'
      ? [{ type: 'who-has', id: n, keys: [] }]
      : [
          { type: 'relay', to: `probe-${n}` },
          { type: 'heartbeat', memoryUsed: 1e6 },
        ];

  /** Sends one frame and its probe; resolves once the probe is answered or the connection closed. */
  function send(frame) {
    const { errors } = frame.oversized
      ? { errors: [] }
      : parseFrame(frame.bytes, channels[role].schema, channels[role].types);
    const entry = { what: frame.what, expected: errors.length, errors: 0, rateLimited: false, probe: probeSeq++ };
    const settled = new Promise((resolve) => (entry.done = (closeCode) => resolve({ ...entry, closeCode })));
    inFlight.push(entry);
    ws.send(frame.bytes, { binary: !frame.text });
    ws.send(encode(probe(entry.probe)));
    return settled;
  }

  function check(result) {
    stats.frames++;
    if (result.closeCode !== undefined) {
      stats.closes++;
      assert.ok(
        result.oversized,
        `the scheduler closed the ${role} connection (${result.closeCode}) after: ${result.what}`,
      );
      return;
    }
    if (result.expected === 0) stats.valid++;
    stats.expectedErrors += result.expected > 0 ? 1 : 0;
    stats.errorReplies += result.errors;
    if (result.rateLimited) {
      stats.rateLimited++;
      return;
    }
    assert.ok(
      result.errors >= result.expected,
      `${role} frame '${result.what}': ${result.expected} bad messages, ${result.errors} error replies before the probe's answer`,
    );
  }

  return {
    stats,
    get closed() {
      return closed;
    },
    /** Sends `n` fuzzed frames, WINDOW at a time; `every(i)` runs between. */
    async run(r, n, every) {
      const pending = new Set();
      for (let i = 0; i < n; i++) {
        const p = send(fuzzFrame(r, role, pool)).then((res) => {
          pending.delete(p);
          check(res);
        });
        pending.add(p);
        if (pending.size >= WINDOW) await Promise.race(pending);
        await every?.(i);
      }
      await Promise.all(pending);
    },
    /** A frame over MAX_CONTROL_FRAME_BYTES: the connection must close, with code 1009. */
    async oversized(bytes) {
      const res = await send({ bytes, what: 'oversized frame', oversized: true });
      stats.frames++;
      stats.closes++;
      assert.equal(res.closeCode, 1009, `an oversized frame on the ${role} connection: ${JSON.stringify(res)}`);
    },
    close: () => ws.close(),
  };
}

test(`${2 * FRAMES_PER_CHANNEL} fuzzed frames as client and as worker: errors for each bad one, real work goes on, state and memory hold`, async () => {
  console.log(`# fuzz seed ${SEED} (FUZZ_SEED=${SEED} reproduces this run)`);
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  const oversized = oversizedFrame();
  const cluster = await LocalCluster.start({ workers: 2 });
  const checker = await Client.connect(cluster.address, { name: 'checker' });
  const victim = await Client.connect(cluster.address, { name: 'victim' });
  // Says nothing: must be closed after the default HELLO_TIMEOUT_MS.
  const silent = new WebSocket(cluster.address);
  const silentOpened = Date.now();
  const silentClosed = new Promise((resolve) =>
    silent.on('close', (code) => resolve({ code, afterMs: Date.now() - silentOpened })),
  );
  let checking = true;
  try {
    const real = checker.with({ workers: ['local-0', 'local-1'], allowOtherWorkers: false, pure: false });
    let rounds = 0;
    const checkRound = async () => {
      const xs = Array.from({ length: 8 }, (_, i) => rounds * 10 + i);
      const fs = real.map((x) => x * 3, xs);
      const ys = await Promise.all(fs.map((f) => f.result({ timeoutMs: 30_000 })));
      assert.deepEqual(
        ys,
        xs.map((x) => x * 3),
      );
      for (const f of fs) f.release();
      rounds++;
    };
    await checkRound();
    gc();
    const before = process.memoryUsage();

    // The victim's tasks are the keys the fuzzer's messages name: their futures must still settle.
    const sleepy = async (x) => {
      await new Promise((r) => setTimeout(r, 20 + (x % 50)));
      return x;
    };
    const roots = victim.map(
      sleepy,
      Array.from({ length: 150 }, (_, i) => i),
    );
    const victims = [...roots, ...roots.slice(0, 50).map((f) => victim.submit((x) => x + 1, f))];
    const pool = new Pool();
    for (const f of victims) pool.addKey(f.key);
    pool.workers.push(...cluster.scheduler.state.workers.keys());

    const checkerLoop = (async () => {
      while (checking) await checkRound();
    })();
    checkerLoop.catch(() => {}); // awaited below; this only keeps an early failure from being unhandled
    let invariantChecks = 0;
    const invariants = () => {
      invariantChecks++;
      assert.deepEqual(checkInvariants(cluster.scheduler.state), [], 'state invariants');
    };

    const started = Date.now();
    const r = prng(SEED);
    const asClient = await fuzzer(cluster.address, 'client', pool);
    const asWorker = await fuzzer(cluster.address, 'worker', pool);
    pool.workers.push(pool.self);
    const every = (i) => (i % 500 === 499 ? invariants() : undefined);
    await Promise.all([
      asClient.run(prng(r.int(2 ** 32)), FRAMES_PER_CHANNEL, every),
      asWorker.run(prng(r.int(2 ** 32)), FRAMES_PER_CHANNEL, every),
    ]);
    invariants();
    const fuzzedAt = Date.now();
    await asClient.oversized(oversized);
    await asWorker.oversized(oversized);
    checking = false;
    await checkerLoop;

    // Victims settle once the fuzzing worker is gone (what it held or ran is recomputed).
    const settling = Date.now();
    await victim.wait(victims, { timeoutMs: 60_000 }).catch(() => {}); // what is still pending is described below
    const settledMs = Date.now() - settling;
    const pending = victims
      .filter((f) => f.status === 'pending')
      .map((f) => describeTask(cluster.scheduler.state, f.key));
    assert.deepEqual(pending, [], 'every victim settles');
    await checkRound();
    invariants();
    const dump = await getJson(`${cluster.httpUrl}/api/dump?limit=0`);
    assert.deepEqual(dump.invariants, []);
    assert.ok(rounds >= 3, `the checker finished ${rounds} rounds of real work while fuzzing`);

    for (const f of victims) f.release();
    await new Promise((r) => setTimeout(r, 200));
    gc();
    const after = process.memoryUsage();
    const mib = (n) => Math.round((n / MiB) * 10) / 10;
    const totals = { client: asClient.stats, worker: asWorker.stats };
    const frames = asClient.stats.frames + asWorker.stats.frames;
    console.log(
      `# fuzz: ${frames} frames (${JSON.stringify(totals)}); ${rounds} checker rounds; ${invariantChecks} invariant checks; ` +
        `scheduler limits ${JSON.stringify(cluster.scheduler.limits)}; ` +
        `fuzzing ${fuzzedAt - started} ms, victims settled in ${settledMs} ms; rss ${mib(before.rss)} → ${mib(after.rss)} MiB, heap ${mib(before.heapUsed)} → ${mib(after.heapUsed)} MiB`,
    );
    assert.ok(frames >= 10_000 || process.env.FUZZ_FRAMES, `${frames} frames fuzzed`);
    assert.ok(
      asClient.stats.expectedErrors > FRAMES_PER_CHANNEL / 2 && asWorker.stats.expectedErrors > FRAMES_PER_CHANNEL / 2,
      'most frames were bad',
    );
    assert.ok(after.heapUsed - before.heapUsed < 64 * MiB, `heap grew ${mib(after.heapUsed - before.heapUsed)} MiB`);
    assert.ok(after.rss - before.rss < 512 * MiB, `rss grew ${mib(after.rss - before.rss)} MiB`);

    const silentEnd = await silentClosed;
    assert.equal(silentEnd.code, 1008, 'a connection that never said hello is closed');
    assert.ok(
      silentEnd.afterMs >= HELLO_TIMEOUT_MS - 100,
      `closed after ${silentEnd.afterMs} ms, not before the hello timeout`,
    );
    asClient.close();
  } finally {
    checking = false;
    silent.terminate();
    await checker.close();
    await victim.close();
    await cluster.close();
  }
});
