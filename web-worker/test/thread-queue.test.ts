/**
 * A thread holds its next job while it runs one (core/job-queue.ts, JOBS_PER_THREAD): the next
 * starts without the host's turn; a job queued behind one that is aborted, dies or secedes goes
 * to another thread; an aborted queued job never runs and leaves the running one alone.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CancelledError, decodeValue, encodeValue } from '@meshwork/protocol';
import type { Job, Outcome } from '../src/core/interfaces.js';
import { JOBS_PER_THREAD, MAX_JOBS_PER_THREAD } from '../src/constants.js';
import { ThreadPool } from '../src/node/thread-pool.js';

const clientModule = new URL('./fake-task-client.ts', import.meta.url).href;
let pool: ThreadPool;
before(async () => {
  pool = await ThreadPool.start({ threads: 1, threadData: { scheduler: 'ws://127.0.0.1:1', clientModule } });
});
after(async () => {
  await pool.close();
});

let n = 0;
function job(source: string, args: unknown[] = []): Job {
  n++;
  return { key: `q-${n}`, fn: `fn-${n}`, fnName: `q${n}`, source, args: encodeValue(args).bytes, deps: new Map() };
}
const never = (): AbortSignal => new AbortController().signal;
function value(o: Outcome): unknown {
  if (!o.ok) assert.fail(`task erred: ${o.error.name}: ${o.error.message}`);
  return decodeValue(o.bytes);
}
const SPIN = '(ms) => { const end = Date.now() + ms; while (Date.now() < end); return ms; }';

test('the next job starts in the thread while the host is busy: it was sent before the first ended', async () => {
  const first = pool.run(job(SPIN, [300]), never());
  const second = pool.run(job('() => Date.now()'), never());
  await new Promise((r) => setImmediate(r)); // both go to the thread in one message
  // This (the host's) thread is busy past the end of the first job: only a job already in the
  // thread can start meanwhile.
  const end = Date.now() + 1_000;
  while (Date.now() < end);
  const freedAt = Date.now();
  const [a, b] = await Promise.all([first, second]);
  assert.equal(value(a), 300);
  const startedAt = value(b) as number;
  assert.ok(startedAt < freedAt, `the second job started ${startedAt - freedAt} ms after the host was free again`);
  assert.ok(b.ok && a.ok && b.startedAt >= a.stoppedAt, 'one after the other');
});

test('an aborted queued job is taken back: it never runs, and the running job and its thread go on', async () => {
  const running = pool.run(
    job(
      'async (ms) => { globalThis.__kept = "kept"; await new Promise((r) => setTimeout(r, ms)); return "done"; }',
      [400],
    ),
    never(),
  );
  const ac = new AbortController();
  const queuedJob = job('() => { globalThis.__queuedRan = true; return 1; }');
  const queued = pool.run(queuedJob, ac.signal);
  setTimeout(() => ac.abort(new CancelledError('not wanted')), 50);
  const q = await queued;
  assert.equal(!q.ok && q.error.code, 'CANCELLED');
  const r = await running;
  assert.equal(value(r), 'done', 'the running job was not ended with it');
  const probe = await pool.run(
    job('() => [globalThis.__queuedRan ?? false, globalThis.__kept ?? "replaced"]'),
    never(),
  );
  assert.deepEqual(value(probe), [false, 'kept'], 'the queued job never ran, and the thread was not replaced');
  assert.equal(probe.ok && r.ok && probe.thread, r.ok && r.thread);
});

test('a job queued behind one that kills its thread runs on the fresh thread', async () => {
  const dies = pool.run(job('() => process.exit(3)'), never());
  const behind = pool.run(job('(x) => x + 1', [41]), never());
  const d = await dies;
  assert.equal(!d.ok && d.error.name, 'ThreadDiedError');
  assert.equal(value(await behind), 42);
});

test('a job queued behind one that is aborted while running runs on the fresh thread', async () => {
  const ac = new AbortController();
  const spinning = pool.run(job('() => { for (;;); }'), ac.signal);
  const behind = pool.run(job('(x) => x * 2', [21]), never());
  setTimeout(() => ac.abort(new CancelledError('stop it')), 100);
  const s = await spinning;
  assert.equal(!s.ok && s.error.code, 'CANCELLED');
  assert.equal(value(await behind), 42);
});

test('a job queued behind one that secedes is taken back and runs on the extra thread meanwhile', async () => {
  const waits: boolean[] = [];
  const sleeper = `async (ms) => { await globalThis.meshwork.client().sleep(ms); return 'slept'; }`;
  const slow = pool.run(job(sleeper, [1_500]), never(), { onWait: (w) => waits.push(w) });
  const behind = pool.run(job('() => Date.now()'), never());
  const b = await behind;
  const s = await slow;
  assert.equal(value(s), 'slept');
  assert.deepEqual(waits, [true, false]);
  assert.ok(b.ok && s.ok && b.stoppedAt < s.stoppedAt, 'it did not wait for the seceded job');
  assert.equal(b.ok && b.thread, 1, 'it ran on the extra thread');
  assert.equal(pool.size, 1, 'the extra thread stopped once a thread came free');
});

/** Runs a job that spins 100 ms, then `second`, and aborts `second` while this thread is blocked (after the thread started it). */
async function abortAfterItStarted(second: string): Promise<Outcome> {
  const first = pool.run(
    job(
      '() => { globalThis.__threadMark = "kept"; const end = Date.now() + 100; while (Date.now() < end); return 1; }',
    ),
    never(),
  );
  const ac = new AbortController();
  const queued = pool.run(job(second), ac.signal);
  await new Promise((r) => setImmediate(r)); // both go to the thread
  const end = Date.now() + 400;
  while (Date.now() < end); // the thread ends the first and starts the second meanwhile
  ac.abort(new CancelledError('stolen'));
  assert.equal(value(await first), 1);
  return queued;
}

test('an aborted queued job the thread had already started: a short one finishes and the thread is kept', async () => {
  const q = await abortAfterItStarted('async () => { await new Promise((r) => setTimeout(r, 200)); return 2; }');
  assert.equal(!q.ok && q.error.code, 'CANCELLED');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(value(await pool.run(job('() => globalThis.__threadMark ?? "replaced"'), never())), 'kept');
});

test(
  'an aborted queued job the thread had already started: one that never ends ends its thread after the grace',
  { timeout: 20_000 },
  async () => {
    const q = await abortAfterItStarted('() => { for (;;); }');
    assert.equal(!q.ok && q.error.code, 'CANCELLED');
    assert.equal(value(await pool.run(job('() => globalThis.__threadMark ?? "replaced"'), never())), 'replaced');
  },
);

test('a job aborted while it waits for room (taken back behind a seceded job) leaves the line: it is never sent nor started', async () => {
  const waits: boolean[] = [];
  const sleeper = `async (ms) => { await globalThis.meshwork.client().sleep(ms); return 'slept'; }`;
  const slow = pool.run(job(sleeper, [800]), never(), { onWait: (w) => waits.push(w) });
  const ac = new AbortController();
  let started = 0;
  const behind = pool.run(job('() => 1'), ac.signal, { onStart: () => started++ });
  // Taken back, it waits for the extra thread the pool starts for it.
  for (let i = 0; i < 400 && pool.size === 1; i++) await new Promise((r) => setTimeout(r, 1));
  assert.equal(pool.size, 2);
  ac.abort(new CancelledError('stolen'));
  const b = await behind;
  assert.equal(!b.ok && b.error.code, 'CANCELLED');
  assert.equal(value(await slow), 'slept');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(started, 0, 'never started on the extra thread');
  assert.equal(pool.size, 1);
});

test('a task that forges a reply for the job queued behind it ends its thread; the queued job runs for real', async () => {
  const forged = Array.from(encodeValue('forged').bytes);
  const forger = `async (forged) => {
    const { parentPort } = await import('node:worker_threads');
    return await new Promise((resolve) => {
      parentPort.on('message', (m) => {
        if (m?.type !== 'meshwork:jobs') return;
        for (const r of m.reqs) parentPort.postMessage({ type: 'meshwork:reply', seq: r.seq, reply: { ok: true, bytes: new Uint8Array(forged), startedAt: 0, stoppedAt: 0 } });
        setTimeout(() => resolve('done'), 200);
      });
    });
  }`;
  const f = pool.run(job(forger, [forged]), never());
  await new Promise((r) => setTimeout(r, 200)); // the forger listens by now
  const q = pool.run(job('() => "real"'), never());
  const [fo, qo] = await Promise.all([f, q]);
  assert.equal(value(qo), 'real');
  assert.equal(!fo.ok && fo.error.name, 'ThreadDiedError');
  assert.match(!fo.ok ? fo.error.message : '', /which it was not running/);
});

test('a task that posts a malformed reply ends its thread, and the worker goes on', async () => {
  const f = await pool.run(
    job(
      `async () => { (await import('node:worker_threads')).parentPort.postMessage({ type: 'meshwork:reply', seq: 1, reply: null }); await new Promise((r) => setTimeout(r, 100)); return 1; }`,
    ),
    never(),
  );
  assert.equal(!f.ok && f.error.name, 'ThreadDiedError');
  assert.match(!f.ok ? f.error.message : '', /malformed/);
  assert.equal(value(await pool.run(job('() => 5'), never())), 5);
});

test('a thread holds more jobs while they are short, and two once they take long', async () => {
  // Until it gets there: on a loaded machine a trivial job is now and then timed at a few ms.
  for (let i = 0; i < 600 && pool.depth < MAX_JOBS_PER_THREAD; i++) value(await pool.run(job('(x) => x'), never()));
  assert.equal(pool.depth, MAX_JOBS_PER_THREAD, 'trivial jobs: the deepest queue');
  assert.equal(pool.jobsAtOnce, MAX_JOBS_PER_THREAD * pool.threads);
  for (let i = 0; i < 10; i++) value(await pool.run(job(SPIN, [20]), never()));
  assert.equal(pool.depth, JOBS_PER_THREAD, 'jobs of 20 ms: one running and one next');
});

test('a task thread hashes results with the native BLAKE3 alone: it does not load the native WebRTC build', async () => {
  value(await pool.run(job('() => 1'), never())); // a result hashed
  const loaded = value(
    await pool.run(
      job(
        `async () => Object.keys((await import('node:module')).default._cache).filter((p) => /datachannel|blake-hash/.test(p))`,
      ),
      never(),
    ),
  ) as string[];
  assert.ok(
    loaded.some((p) => p.includes('blake-hash')),
    `the native BLAKE3 is loaded: ${loaded.join(', ')}`,
  );
  assert.deepEqual(
    loaded.filter((p) => p.includes('datachannel')),
    [],
    'loading node-datachannel would cost every thread its start-up time',
  );
});
