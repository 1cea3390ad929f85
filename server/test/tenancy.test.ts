// Clients as tenants (tenancy.ts): a rival client cannot squat, read, want, depend on, cancel or
// scatter over another client's keys; identical pure computations are still shared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { taskDigest } from '@meshwork/protocol';
import { Harness } from './harness.js';

const erred = (h: Harness, client: string, key: string): string | undefined => {
  for (const m of h.clientMessages(client)) if (m.type === 'key-erred' && m.key === key) return m.error.code;
  return undefined;
};
const errorReply = (h: Harness, client: string, id: number): string | undefined => {
  for (const m of h.clientMessages(client)) if (m.type === 'error' && m.replyTo === id) return m.code;
  return undefined;
};

/** A's task `x` (private key), finished on worker w. */
function victim(): Harness {
  const h = new Harness();
  h.worker('w');
  h.client('A');
  h.client('B');
  h.submit('A', [['x', []]]);
  h.finish('w', 'x');
  return h;
}

test("a spec for another client's private key is refused with AuthError; the owner's task is untouched", () => {
  const h = victim();
  h.s.updateGraph('B', { type: 'update-graph', fns: [{ id: 'g', name: 'g', source: '() => 666' }], tasks: [{ key: 'x', fn: 'g', args: new Uint8Array([9]), deps: [], priority: 0, retries: 0 }], wants: ['x'] });
  h.check();
  assert.equal(erred(h, 'B', 'x'), 'AUTH');
  assert.equal(h.s.tasks.get('x')?.wants.has('B'), false);
  assert.equal(h.status('x'), 'memory');
  assert.equal(h.s.fns.has('g'), false, 'no function kept for a refused task');
});

test('a pure-form key that is not the digest of its spec is refused (GraphError): a rival cannot squat a key computed offline', () => {
  const h = new Harness();
  h.worker('w');
  h.client('A');
  h.client('B');
  const honest = h.pure('inc');
  // B sends another computation (other arguments) under the key A's call will have.
  h.s.updateGraph('B', { type: 'update-graph', fns: [{ id: 'f', name: 'f', source: '(x) => x' }], tasks: [{ key: honest, fn: 'f', args: new Uint8Array([7]), deps: [], priority: 0, retries: 0 }], wants: [honest] });
  h.check();
  assert.equal(erred(h, 'B', honest), 'GRAPH');
  assert.equal(h.s.tasks.has(honest), false);
  h.submit('A', [[honest, []]]);
  assert.equal(h.s.tasks.get(honest)?.creator, 'A');
});

test('identical pure calls are shared; the same call under weaker terms (verify, workers) is another key', () => {
  const h = new Harness();
  h.worker('w');
  h.client('A');
  h.client('B');
  const strict = h.pure('inc', [], { verify: 2 });
  h.submit('A', [[strict, []]], { verify: 2 });
  h.submit('B', [[strict, []]], { verify: 2 });
  assert.equal(h.s.tasks.get(strict)?.wants.has('B'), true, 'B shares A task');
  assert.equal(h.s.tasks.size, 1);
  // C claims A's key with the same call but verify 1: the digest is not that spec's.
  h.client('C');
  h.s.updateGraph('C', { type: 'update-graph', fns: [], tasks: [{ key: strict, fn: 'f', args: new Uint8Array([1]), deps: [], priority: 0, retries: 0 }], wants: [strict] });
  assert.equal(erred(h, 'C', strict), 'GRAPH');
  assert.equal(h.s.tasks.get(strict)?.wants.has('C'), false);
  assert.equal(h.s.tasks.get(strict)?.verify, 2);
  assert.notEqual(h.pure('inc'), strict);
  assert.notEqual(h.pure('inc', [], { retries: 3 }), h.pure('inc'));
  assert.equal(h.pure('inc', [], { priority: 5 }), h.pure('inc'), 'priority is not part of the key');
});

test("wanting, gathering, asking who has, depending on another client's key: refused as unknown", () => {
  const h = victim();
  h.s.updateGraph('B', { type: 'update-graph', fns: [], tasks: [], wants: ['x'] });
  assert.equal(erred(h, 'B', 'x'), 'LOST');
  assert.equal(h.s.tasks.get('x')?.wants.has('B'), false);
  h.s.gather('B', 1, ['x']);
  assert.equal(errorReply(h, 'B', 1), 'NOT_YOURS');
  h.s.whoHas('B', 2, ['x']);
  assert.equal(errorReply(h, 'B', 2), 'NOT_YOURS');
  assert.ok(!h.clientMessages('B').some((m) => m.type === 'gather-reply' || m.type === 'who-has-reply'));
  // A pure task of B's that takes A's x as input (its key is honest: B computed it).
  const spec = { fn: 'f', args: new Uint8Array([1]), deps: ['x'], priority: 0, retries: 0 };
  const key = `steal-${taskDigest(spec)}`;
  h.s.updateGraph('B', { type: 'update-graph', fns: [{ id: 'f', name: 'f', source: '(x) => x' }], tasks: [{ key, ...spec }], wants: [key] });
  h.check();
  assert.equal(erred(h, 'B', key), 'LOST');
  assert.equal(h.s.tasks.has(key), false);
  // The owner still does all of it.
  h.s.gather('A', 3, ['x']);
  assert.ok(h.clientMessages('A').some((m) => m.type === 'gather-reply' && m.id === 3));
});

test("scattering under another client's key, or under a pure-form key, is refused", () => {
  const h = victim();
  h.s.scattered('B', { type: 'scattered', items: [{ key: 'x', nbytes: 8, workers: ['w'] }], wants: ['x'] });
  h.check();
  assert.equal(erred(h, 'B', 'x'), 'AUTH');
  assert.equal(h.s.tasks.get('x')?.wants.has('B'), false);
  const pureForm = h.pure('data');
  h.s.scattered('B', { type: 'scattered', items: [{ key: pureForm, nbytes: 8, workers: ['w'] }], wants: [pureForm] });
  assert.equal(erred(h, 'B', pureForm), 'GRAPH');
  assert.equal(h.s.tasks.has(pureForm), false);
});

test('data tickets: a get ticket goes only with the holders of a key the client gathers; a put ticket only to a key it may scatter under', () => {
  const h = new Harness({ tickets: (purpose, key) => `${purpose}:${key}` });
  h.worker('w');
  h.client('A');
  h.client('B');
  h.submit('A', [['model-weights', []]]);
  h.drain('w');
  // Too big to ride inline: gathered from its holder.
  h.s.taskFinished('w', { type: 'task-finished', key: 'model-weights', nbytes: 200_000, startedAt: 0, stoppedAt: 1, thread: 0 });
  h.check();
  h.s.gather('A', 1, ['model-weights']);
  const reply = h.clientMessages('A').find((m) => m.type === 'gather-reply' && m.id === 1);
  assert.ok(reply?.type === 'gather-reply');
  assert.deepEqual(reply.items[0]?.holders?.map((x) => x.id), ['w']);
  assert.equal(reply.items[0]?.ticket, 'get:model-weights');
  h.s.gather('B', 2, ['model-weights']);
  assert.equal(errorReply(h, 'B', 2), 'NOT_YOURS');
  assert.ok(!h.clientMessages('B').some((m) => m.type === 'gather-reply'), 'no holders, no ticket');
  const pureForm = h.pure('data');
  const items = ['model-weights', pureForm, 'mine'].map((key) => ({ key, nbytes: 8, hash: 'h' }));
  h.s.scatterPlan('B', { type: 'scatter-plan', id: 3, items });
  const plan = h.clientMessages('B').find((m) => m.type === 'scatter-plan-reply' && m.id === 3);
  assert.ok(plan?.type === 'scatter-plan-reply');
  assert.deepEqual(plan.tickets, [null, null, 'put:mine'], "none for A's key nor a pure-form key");
  const announced = h.workerMessages('w').flatMap((m) => (m.type === 'expect-put' ? m.items.map((i) => i.key) : []));
  assert.deepEqual(announced, ['mine'], 'the worker expects only what B may put');
  h.s.scatterPlan('A', { type: 'scatter-plan', id: 4, items: [{ key: 'model-weights', nbytes: 8, hash: 'h' }] });
  const own = h.clientMessages('A').find((m) => m.type === 'scatter-plan-reply' && m.id === 4);
  assert.ok(own?.type === 'scatter-plan-reply');
  assert.deepEqual(own.tickets, ['put:model-weights'], 'its owner may');
});

test('a task client acts for the client its task runs for: the same tenant', () => {
  const h = victim();
  h.s.addClient('A-task', 'A-task', 'A');
  h.submit('A-task', [['y', ['x']]]);
  assert.equal(erred(h, 'A-task', 'y'), undefined);
  assert.equal(h.s.tasks.get('y')?.creator, 'A');
  h.s.gather('A-task', 4, ['x']);
  assert.equal(errorReply(h, 'A-task', 4), undefined);
});

test("clients take turns for workers: one client's thousands of queued tasks do not hold up another's one, and priority orders only its own", () => {
  const h = new Harness();
  h.worker('w', 1);
  h.client('A');
  h.client('B');
  const many = Array.from({ length: 3_000 }, (_, i): [string, string[]] => [`a${i}`, []]);
  h.submit('A', many, { priority: 100 });
  h.submit('B', [['b-low', []]], { priority: -5 });
  h.submit('B', [['b-high', []]], { priority: 1 });
  // The worker holds its thread's task and a small buffer; finish them one by one, in turn.
  const run: string[] = [];
  for (let i = 0; i < 8; i++) {
    const next = [...(h.s.workers.get('w')?.processing ?? [])][0];
    if (!next) break;
    run.push(next.key);
    h.finish('w', next.key);
  }
  const bHigh = run.indexOf('b-high');
  const bLow = run.indexOf('b-low');
  assert.ok(bHigh >= 0 && bHigh < 6, `B's task runs among the first, not after 3,000 of A's: ${run.join(' ')}`);
  assert.ok(bLow > bHigh, "B's own priority orders B's tasks");
  assert.ok(bLow >= 0 && bLow < 8, `B's second task gets the next turn of B: ${run.join(' ')}`);
});

test('missing-data drops a copy only for a key the reporting client holds, and no other client holds too', () => {
  const h = victim();
  h.s.missingData('B', 'x', 'w');
  assert.ok(h.s.tasks.get('x')?.whoHas.size === 1, "B holds no future for A's x");
  const shared = h.pure('shared');
  h.submit('A', [[shared, []]]);
  h.submit('B', [[shared, []]]);
  h.finish('w', shared);
  h.s.missingData('B', shared, 'w');
  h.check();
  assert.equal(h.status(shared), 'memory', 'A holds it too: its copy stays');
  h.s.missingData('A', 'x', 'w');
  h.check();
  assert.notEqual(h.status('x'), 'memory', "the owner's word drops its own copy: x is made again");
});
