import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Harness } from './harness.js';
import { MAX_QUEUE_EXTRA } from '../src/state/queue-depth.js';
import { WORKER_QUEUE_EXTRA } from '@meshwork/protocol';

test('a chain runs in order, on the worker that holds its input', () => {
  const h = new Harness();
  h.worker('a');
  h.worker('b');
  h.client('c');
  h.submit('c', [['x', []]]);
  const [first] = [...h.drain('a'), ...h.drain('b')];
  assert.equal(first, 'x');
  const holder = h.s.tasks.get('x')?.processingOn?.id as string;
  h.submit('c', [['y', ['x']]]);
  assert.equal(h.status('y'), 'waiting');
  h.finish(holder, 'x');
  assert.equal(h.status('y'), 'processing');
  assert.equal(h.s.tasks.get('y')?.processingOn?.id, holder, 'placed where its input is');
  h.finish(holder, 'y');
  assert.deepEqual(
    h.clientMessages('c').map((m) => m.type),
    ['key-finished', 'key-finished'],
  );
});

test('released futures free their data and forget their tasks', () => {
  const h = new Harness();
  h.worker('a');
  h.client('c');
  h.submit('c', [['x', []], ['y', ['x']]], { unwanted: ['x'] });
  h.finish('a', 'x');
  h.finish('a', 'y');
  assert.equal(h.status('x'), 'released', 'x kept as lineage only');
  assert.ok(h.toWorkers.get('a')?.some((m) => m.type === 'free-keys' && m.keys.includes('x')));
  h.s.releaseKeys('c', ['y']);
  h.check();
  assert.equal(h.s.tasks.size, 0);
  assert.equal(h.s.workers.get('a')?.bytesStored, 0);
});

test('two futures for one key: the data stays until both are released', () => {
  const h = new Harness();
  h.worker('a');
  h.client('c');
  h.client('d');
  const x = h.pure('x');
  h.submit('c', [[x, []]]);
  h.submit('d', [[x, []]]);
  h.finish('a', x);
  h.s.releaseKeys('c', [x]);
  h.check();
  assert.equal(h.status(x), 'memory');
  h.s.removeClient('d');
  h.check();
  assert.equal(h.status(x), undefined);
});

test('a lost result is recomputed from lineage, and a killed worker re-runs its tasks', () => {
  const h = new Harness();
  h.worker('a');
  h.client('c');
  h.submit('c', [['x', []], ['y', ['x']], ['z', ['y']]], { unwanted: ['x', 'y'] });
  h.finish('a', 'x');
  h.finish('a', 'y');
  h.drain('a');
  assert.equal(h.status('z'), 'processing');
  h.worker('b');
  h.s.removeWorker('a');
  h.check();
  assert.deepEqual(h.drain('b'), ['x']);
  h.finish('b', 'x');
  h.finish('b', 'y');
  h.finish('b', 'z');
  assert.equal(h.status('z'), 'memory');
});

test('a task that kills allowedFailures workers fails with KILLED_WORKER', () => {
  const h = new Harness({ allowedFailures: 2 });
  h.client('c');
  h.worker('a');
  h.submit('c', [['x', []]]);
  h.s.removeWorker('a');
  h.check();
  h.worker('b');
  h.s.removeWorker('b');
  h.check();
  assert.equal(h.status('x'), 'erred');
  const erred = h.clientMessages('c').find((m) => m.type === 'key-erred');
  assert.equal(erred?.type === 'key-erred' && erred.error.code, 'KILLED_WORKER');
});

test('an error reaches every dependent; retries re-run first', () => {
  const h = new Harness();
  h.worker('a');
  h.client('c');
  h.submit('c', [['x', []]], { retries: 1 });
  h.submit('c', [['y', ['x']], ['z', ['y']]]);
  h.err('a', 'x');
  assert.equal(h.status('x'), 'processing', 'retried');
  h.err('a', 'x');
  assert.equal(h.status('x'), 'erred');
  assert.equal(h.status('y'), 'erred');
  assert.equal(h.status('z'), 'erred');
});

test('admission: a worker holds at most threads + extra tasks; the rest wait on the scheduler', () => {
  const h = new Harness({ workerQueueExtra: 1 });
  h.worker('a', 2);
  h.client('c');
  h.submit('c', Array.from({ length: 10 }, (_, i) => [`t${i}`, []] as [string, string[]]));
  assert.equal(h.drain('a').length, 3);
  assert.equal(h.s.counts.queued, 7);
  h.worker('b', 1);
  assert.equal(h.drain('b').length, 2);
  h.finish('a', 't0');
  assert.equal(h.drain('a').length, 1);
});

test("a task goes to its input's busy holder rather than moving the input to a worker with room", () => {
  const h = new Harness({ workerQueueExtra: 0 });
  h.worker('a', 1);
  h.worker('b', 1);
  h.client('c');
  h.submit('c', [['x', []]]);
  const holder = h.drain('a').includes('x') ? 'a' : 'b';
  const other = holder === 'a' ? 'b' : 'a';
  h.finish(holder, 'x', 8e6);
  h.submit('c', [['y', []], ['z', []]]); // both workers busy now
  assert.deepEqual([h.drain('a').length, h.drain('b').length], [1, 1]);
  h.submit('c', [['sum', ['x']]]);
  assert.equal(h.status('sum'), 'queued', 'no worker has room');
  const otherTask = h.s.workers.get(other)?.processing.values().next().value?.key as string;
  h.finish(other, otherTask);
  // `other` has room, but 8 MB would travel there; the holder's queue is within HOLDER_QUEUE_EXTRA.
  assert.deepEqual(h.drain(holder), ['sum']);
  assert.deepEqual(h.drain(other), []);
});

test('queue depth follows the pace the scheduler sees, not the run times a worker reports', () => {
  let clock = 0;
  const h = new Harness({ now: () => clock });
  h.worker('fast', 1);
  h.worker('liar', 1);
  h.client('c');
  h.submit('c', Array.from({ length: 200 }, (_, i) => [`t${i}`, []] as [string, string[]]));
  const held = (w: string) => h.s.workers.get(w)?.processing.size;
  assert.deepEqual([held('fast'), held('liar')], [1 + WORKER_QUEUE_EXTRA, 1 + WORKER_QUEUE_EXTRA], 'nothing known yet');
  const finish = (w: string) => {
    const key = h.s.workers.get(w)?.processing.values().next().value?.key as string;
    // Both say their tasks took no time at all.
    h.s.taskFinished(w, { type: 'task-finished', key, nbytes: 8, value: new Uint8Array([1]), startedAt: 0, stoppedAt: 0, thread: 0 });
    h.check();
  };
  for (let i = 0; i < 8; i++) {
    clock += 0.1;
    finish('fast'); // a result every 0.1 ms
  }
  for (let i = 0; i < 4; i++) {
    clock += 200;
    finish('liar'); // a result every 0.2 s
  }
  assert.equal(held('liar'), 1 + WORKER_QUEUE_EXTRA, 'one result per 0.2 s: the usual admission, whatever it says');
  assert.equal(held('fast'), 1 + MAX_QUEUE_EXTRA, 'one result per 0.1 ms: the deepest queue');
  // Results that arrive together (one frame, 0 ms apart) of tasks that ran 40 ms do not make a new worker fast.
  h.worker('batch', 1);
  for (let i = 0; i < 2; i++) {
    const key = h.s.workers.get('batch')?.processing.values().next().value?.key as string;
    h.s.taskFinished('batch', { type: 'task-finished', key, nbytes: 8, value: new Uint8Array([1]), startedAt: 0, stoppedAt: 40, thread: 0 });
  }
  assert.equal(held('batch'), 1 + WORKER_QUEUE_EXTRA, 'two 40 ms results in one frame: still the usual admission');
});

test('higher priority runs first among ready tasks', () => {
  const h = new Harness({ workerQueueExtra: 0 });
  h.client('c');
  h.submit('c', [['low', []]], { priority: 0 });
  h.submit('c', [['high', []]], { priority: 10 });
  h.worker('a', 1);
  assert.deepEqual(h.drain('a'), ['high']);
});

test('gather waits for keys to settle, and answers inline values or holders', () => {
  const h = new Harness();
  h.worker('a');
  h.client('c');
  h.submit('c', [['x', []], ['y', []]]);
  h.s.gather('c', 7, ['x', 'y']);
  h.finish('a', 'x');
  assert.ok(!h.clientMessages('c').some((m) => m.type === 'gather-reply'));
  h.s.taskFinished('a', { type: 'task-finished', key: 'y', nbytes: 1e6, startedAt: 0, stoppedAt: 1, thread: 0 });
  const reply = h.clientMessages('c').find((m) => m.type === 'gather-reply');
  assert.ok(reply && reply.type === 'gather-reply');
  assert.equal(reply.id, 7);
  assert.ok(reply.items[0]?.value instanceof Uint8Array);
  assert.deepEqual(reply.items[1]?.holders, [{ id: 'a', address: 'tcp://a' }]);
});

test('random events never break the invariants, and every wanted key settles', () => {
  for (let seed = 1; seed <= 40; seed++) {
    let r = seed;
    const rand = (n: number): number => {
      r = (Math.imul(r, 1103515245) + 12345) & 0x7fffffff;
      return r % n;
    };
    const h = new Harness({ allowedFailures: 1000 });
    h.client('c');
    let workers = 0;
    const live: string[] = [];
    const addWorker = (): void => {
      const id = `w${workers++}`;
      h.worker(id, 1 + rand(2));
      live.push(id);
    };
    addWorker();
    let keys = 0;
    const wanted = new Set<string>();
    for (let step = 0; step < 300; step++) {
      const op = rand(10);
      if (op < 3) {
        const key = `k${keys++}`;
        const deps = keys > 1 ? [...new Set([`k${rand(keys - 1)}`, `k${rand(keys - 1)}`])].filter((d) => h.s.tasks.has(d)) : [];
        h.submit('c', [[key, deps]]);
        wanted.add(key);
      } else if (op < 7) {
        const w = live[rand(live.length)] as string;
        const running = [...(h.s.workers.get(w)?.processing ?? [])];
        const t = running[rand(Math.max(1, running.length))];
        if (t && rand(8) === 0) h.err(w, t.key);
        else if (t) h.finish(w, t.key);
      } else if (op === 7 && live.length > 1) {
        const [w] = live.splice(rand(live.length), 1);
        h.s.removeWorker(w as string);
        h.check();
      } else if (op === 8) {
        const pick = rand(4);
        if (pick < 2) addWorker();
        else if (pick === 2) {
          const key = `s${keys++}`;
          const w = live[rand(live.length)] as string;
          h.s.scattered('c', { type: 'scattered', items: [{ key, nbytes: 10, workers: [w] }], wants: [key] });
          h.check();
          wanted.add(key);
        } else {
          const w = live[rand(live.length)] as string;
          const running = [...(h.s.workers.get(w)?.processing ?? [])];
          const t = running[0];
          if (t) h.s.taskSeceded(w, t.key);
          h.check();
          const sec = [...(h.s.workers.get(w)?.seceded ?? [])][0];
          if (sec && rand(2) === 0) h.s.taskRejoined(w, sec.key);
          h.check();
        }
      } else if (wanted.size > 0 && rand(5) === 0) {
        const key = [...wanted][rand(wanted.size)] as string;
        wanted.delete(key);
        h.s.cancel('c', [key]);
        h.check();
        for (const k of [...wanted]) if (!h.s.tasks.has(k)) wanted.delete(k);
      } else if (wanted.size > 0) {
        const key = [...wanted][rand(wanted.size)] as string;
        wanted.delete(key);
        h.s.releaseKeys('c', [key]);
        h.check();
      }
    }
    // Let the workers finish everything: every wanted key must settle.
    for (let round = 0; round < 10_000 && (h.s.counts.processing > 0 || h.s.counts.queued > 0 || h.s.counts.waiting > 0); round++) {
      for (const w of live) {
        const ws = h.s.workers.get(w);
        for (const t of [...(ws?.processing ?? []), ...(ws?.seceded ?? [])]) h.finish(w, t.key);
      }
    }
    for (const key of wanted) {
      const st = h.status(key);
      assert.ok(st === 'memory' || st === 'erred', `seed ${seed}: ${key} is ${st}`);
    }
  }
});

test('the invariant checker catches a corrupt state', async () => {
  const { checkInvariants } = await import('../src/state/invariants.js');
  const h = new Harness();
  h.worker('a');
  h.client('c');
  h.submit('c', [['x', []], ['y', ['x']]]);
  const y = h.s.tasks.get('y');
  assert.ok(y);
  y.waitingOn = 0;
  assert.ok(checkInvariants(h.s).some((m) => m.includes('waitingOn')));
});

test('scatter: plan spreads values, scattered keys are in memory, and their loss is LOST', () => {
  const h = new Harness();
  h.worker('a');
  h.worker('b');
  h.client('c');
  h.s.scatterPlan('c', { type: 'scatter-plan', id: 1, items: [{ key: 's1', nbytes: 100, hash: 'h1' }, { key: 's2', nbytes: 100, hash: 'h2' }] });
  const plan = h.clientMessages('c').find((m) => m.type === 'scatter-plan-reply');
  assert.ok(plan?.type === 'scatter-plan-reply');
  assert.notEqual(plan.targets[0]?.[0]?.id, plan.targets[1]?.[0]?.id, 'spread over both workers');
  // Each chosen worker is told what will be put on it, and nothing else.
  for (const [i, key] of ['s1', 's2'].entries()) {
    const w = plan.targets[i]?.[0]?.id as string;
    const told = h.workerMessages(w).filter((m) => m.type === 'expect-put');
    assert.deepEqual(told.flatMap((m) => (m.type === 'expect-put' ? m.items : [])), [{ key, nbytes: 100, hash: `h${i + 1}` }]);
  }
  h.s.scattered('c', { type: 'scattered', items: [{ key: 's1', nbytes: 100, workers: ['a'] }], wants: ['s1'] });
  h.check();
  assert.equal(h.status('s1'), 'memory');
  h.submit('c', [['t', ['s1']]]);
  h.s.removeWorker('a');
  h.check();
  assert.equal(h.status('s1'), 'erred');
  assert.equal(h.s.tasks.get('s1')?.error?.code, 'LOST');
  assert.equal(h.status('t'), 'erred', 'its dependents fail too');
});

test('a seceded task frees its slot for the tasks it waits on', () => {
  const h = new Harness({ workerQueueExtra: 0 });
  h.worker('a', 1);
  h.client('c');
  h.submit('c', [['parent', []]]);
  h.submit('c', [['child', []]]);
  assert.deepEqual(h.drain('a'), ['parent']);
  h.s.taskSeceded('a', 'parent');
  h.check();
  assert.deepEqual(h.drain('a'), ['child']);
  h.finish('a', 'child');
  h.s.taskRejoined('a', 'parent');
  h.check();
  h.finish('a', 'parent');
});

test('resources: a task needing gpu=1 runs only where declared, never more at once than declared', () => {
  const h = new Harness();
  h.worker('cpu', 4);
  h.worker('gpu', 4, { resources: { gpu: 1 } });
  h.client('c');
  h.s.updateGraph('c', {
    type: 'update-graph',
    fns: [{ id: 'f', name: 'f', source: '(x) => x' }],
    tasks: ['g1', 'g2', 'g3'].map((key) => ({ key, fn: 'f', args: new Uint8Array(0), deps: [], priority: 0, retries: 0, resources: { gpu: 1 } })),
    wants: ['g1', 'g2', 'g3'],
  });
  h.check();
  assert.deepEqual(h.drain('cpu'), []);
  assert.equal(h.drain('gpu').length, 1, 'one at a time');
  const running = [...(h.s.workers.get('gpu')?.processing ?? [])][0]?.key as string;
  h.finish('gpu', running);
  assert.equal(h.drain('gpu').length, 1);
});

test('memory pause: above 80% of its limit a worker takes no new tasks until usage drops', () => {
  const h = new Harness();
  h.worker('a', 1, { memoryLimit: 1000 });
  h.client('c');
  h.s.heartbeat('a', 900);
  assert.equal(h.s.workers.get('a')?.paused, true);
  h.submit('c', [['x', []]]);
  assert.deepEqual(h.drain('a'), []);
  h.s.heartbeat('a', 100);
  assert.deepEqual(h.drain('a'), ['x']);
});

test('run: one answer per worker; a worker that leaves answers with an error', () => {
  const h = new Harness();
  h.worker('a');
  h.worker('b');
  h.client('c');
  h.s.run('c', { type: 'run', id: 5, fn: { id: 'f', name: 'f', source: '() => 1' }, args: new Uint8Array(0) });
  const req = h.toWorkers.get('a')?.find((m) => m.type === 'run-function');
  assert.ok(req?.type === 'run-function');
  h.s.runResult('a', { type: 'run-result', id: req.id, value: new Uint8Array([1]) });
  h.s.removeWorker('b');
  const reply = h.clientMessages('c').find((m) => m.type === 'run-reply');
  assert.ok(reply?.type === 'run-reply');
  assert.equal(reply.id, 5);
  assert.ok(reply.results['a']?.value);
  assert.equal(reply.results['b']?.error?.code, 'CONNECTION');
});

test('placement prices a move over WebRTC (a tab at either end) above one over the Node workers\' TCP link', () => {
  const h = new Harness();
  h.worker('n1', 1, { memoryLimit: 1e9 });
  h.client('c');
  h.submit('c', [['x', []]]);
  h.s.taskFinished('n1', { type: 'task-finished', key: 'x', nbytes: 8_000_000, startedAt: 0, stoppedAt: 1, thread: 0 });
  h.s.heartbeat('n1', 9e8); // n1 takes nothing more: x must move
  h.worker('tab', 1, { kind: 'browser', dataAddress: null });
  h.worker('n2');
  h.drain('tab');
  h.drain('n2');
  h.submit('c', [['z', ['x']]]);
  assert.equal(h.s.tasks.get('z')?.processingOn?.id, 'n2', 'x moves over TCP to n2 rather than over WebRTC to the tab');
  h.check();
});

test('verify: a result counts once k distinct workers agree; the outvoted are suspected, then excluded', () => {
  const h = new Harness();
  h.worker('n1', 1, { memoryLimit: 1000 });
  h.worker('n2', 1, { memoryLimit: 1000 });
  h.worker('tab', 1, { kind: 'browser', dataAddress: null });
  h.client('c');
  const finish = (w: string, key: string, hash: string): void => {
    h.s.taskFinished(w, { type: 'task-finished', key, nbytes: 100_000, hash: hash.repeat(64), startedAt: 0, stoppedAt: 1, thread: 0 });
    h.check();
  };
  const on = (key: string): string => h.s.tasks.get(key)?.processingOn?.id as string;
  const pause = (paused: boolean): void => {
    for (const w of ['n1', 'n2']) h.s.heartbeat(w, paused ? 2000 : 0);
  };
  // The tab computes wrong bytes ("b…"), the Node workers the right ones ("a…").
  const answer = (w: string): string => (w === 'tab' ? 'b' : 'a');
  for (const [key, round] of [['x', 1], ['y', 2]] as const) {
    pause(true); // the tab alone may take the first run
    h.submit('c', [[key, []]], { verify: 2 });
    assert.equal(on(key), 'tab');
    pause(false);
    const runs: string[] = [];
    for (let i = 0; i < 3 && h.status(key) !== 'memory'; i++) {
      const w = on(key);
      assert.ok(w && !runs.includes(w), 'each run is on a worker that has not computed it');
      runs.push(w);
      finish(w, key, answer(w));
    }
    assert.equal(runs.length, 3, 'one against one: a third run decides');
    assert.equal(h.status(key), 'memory');
    assert.deepEqual([...(h.s.tasks.get(key)?.whoHas ?? [])].map((w) => w.id).sort(), ['n1', 'n2'], 'the agreeing workers hold it');
    assert.ok(h.toWorkers.get('tab')?.some((m) => m.type === 'free-keys' && m.keys.includes(key)), 'the outvoted copy is dropped');
    assert.equal(h.s.workers.get('tab')?.suspicions, round);
    assert.equal(h.s.workers.get('tab')?.excluded, round === 2, 'excluded after being outvoted twice');
  }
  h.submit('c', [['z1', []], ['z2', []], ['z3', []], ['z4', []]]);
  for (const k of ['z1', 'z2', 'z3', 'z4']) assert.notEqual(on(k), 'tab', 'an excluded worker gets no tasks');
});

test('a result from a worker the task was never sent to is refused, and that worker told to drop it', () => {
  const h = new Harness();
  h.worker('a');
  h.client('c');
  h.submit('c', [['x', []]]);
  h.worker('b');
  assert.equal(h.s.tasks.get('x')?.processingOn?.id, 'a');
  h.finish('b', 'x');
  assert.equal(h.status('x'), 'processing', 'b was never asked for x');
  assert.ok(h.toWorkers.get('b')?.some((m) => m.type === 'free-keys' && m.keys.includes('x')));
  h.finish('a', 'x');
  assert.equal(h.status('x'), 'memory');
  assert.deepEqual([...(h.s.tasks.get('x')?.whoHas ?? [])].map((w) => w.id), ['a']);
});

test('timeoutMs rides on every compute-task of its task (a retry and a re-run elsewhere too), and a TIMEOUT error reaches the client', () => {
  const h = new Harness();
  h.worker('a');
  h.client('c');
  h.submit('c', [['slow', []]], { timeoutMs: 300, retries: 1 });
  h.submit('c', [['plain', []]]);
  const sent = (w: string) => (h.toWorkers.get(w) ?? []).flatMap((m) => (m.type === 'compute-task' ? [m] : []));
  const timeouts = (w: string, key: string) => sent(w).filter((m) => m.key === key).map((m) => m.timeoutMs);
  assert.deepEqual(timeouts('a', 'slow'), [300]);
  assert.deepEqual(timeouts('a', 'plain'), [undefined]);
  h.s.removeWorker('a');
  h.worker('b');
  assert.deepEqual(timeouts('b', 'slow'), [300], 'a re-run after a lost worker');
  const timedOut = { code: 'TIMEOUT', name: 'TimeoutError', message: "task 'slow' ran past its timeout of 300 ms" };
  h.s.taskErred('b', { type: 'task-erred', key: 'slow', error: timedOut, startedAt: 0, stoppedAt: 300, thread: 0 });
  assert.deepEqual(timeouts('b', 'slow'), [300, 300], 'a retry');
  h.s.taskErred('b', { type: 'task-erred', key: 'slow', error: timedOut, startedAt: 0, stoppedAt: 300, thread: 0 });
  h.check();
  const erred = h.clientMessages('c').find((m) => m.type === 'key-erred' && m.key === 'slow');
  assert.equal(erred?.type === 'key-erred' && erred.error.code, 'TIMEOUT');
});
