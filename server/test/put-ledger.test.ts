// Announced puts per client (put-ledger.ts): a rival tenant that plans scatters it never puts is
// refused past its share of a worker's announcement table, so it cannot push another client's
// announcements out; the worker's own report frees the count, the client's word does not, and
// unused announcements stop counting once the worker has forgotten them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ANNOUNCED_PUT_COUNT_SLACK_MS,
  ANNOUNCED_PUT_TTL_MS,
  MAX_ANNOUNCED_PUTS,
  MAX_ANNOUNCED_PUTS_PER_CLIENT,
} from '@meshwork/protocol';
import { Harness } from './harness.js';

const items = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ key: `${prefix}-${i}`, nbytes: 8, hash: 'h' }));

/** The reply to plan `id`: its targets' worker ids, or the refusal's code and message. */
function answer(h: Harness, client: string, id: number): { workers?: string[]; code?: string; message?: string } {
  for (const m of h.clientMessages(client)) {
    if (m.type === 'scatter-plan-reply' && m.id === id) return { workers: m.targets.map((t) => t[0]?.id ?? '') };
    if (m.type === 'error' && m.replyTo === id) return { code: m.code, message: m.message };
  }
  return {};
}

const announced = (h: Harness, w: string) =>
  h.workerMessages(w).reduce((n, m) => n + (m.type === 'expect-put' ? m.items.length : 0), 0);

function cluster(clock = { t: 0 }, workers = ['w']): Harness {
  const h = new Harness({ now: () => clock.t });
  for (const w of workers) h.worker(w);
  h.client('victim');
  h.client('rival');
  return h;
}

test("a rival's plans past its share of a worker are refused (LIMIT_EXCEEDED), nothing announced; another client still plans there", () => {
  const h = cluster();
  h.s.scatterPlan('victim', { type: 'scatter-plan', id: 1, items: items('v', 10) });
  h.s.scatterPlan('rival', { type: 'scatter-plan', id: 1, items: items('r', MAX_ANNOUNCED_PUTS_PER_CLIENT) });
  assert.equal(answer(h, 'rival', 1).workers?.length, MAX_ANNOUNCED_PUTS_PER_CLIENT, 'up to its share');
  const before = announced(h, 'w');
  h.s.scatterPlan('rival', { type: 'scatter-plan', id: 2, items: items('r2', 1) });
  const refused = answer(h, 'rival', 2);
  assert.equal(refused.code, 'LIMIT_EXCEEDED');
  assert.match(refused.message ?? '', /MAX_ANNOUNCED_PUTS_PER_CLIENT/);
  h.s.scatterPlan('rival', { type: 'scatter-plan', id: 3, items: items('r3', 5 * MAX_ANNOUNCED_PUTS) });
  assert.equal(answer(h, 'rival', 3).code, 'LIMIT_EXCEEDED', 'a flood in one plan too');
  assert.equal(announced(h, 'w'), before, 'a refused plan announces nothing: the victim keeps its announcements');
  h.s.scatterPlan('victim', { type: 'scatter-plan', id: 2, items: items('v2', 100) });
  assert.equal(answer(h, 'victim', 2).workers?.length, 100);
  assert.equal(h.s.putLedger.outstanding(h.s.workers.get('w') as object), 10 + MAX_ANNOUNCED_PUTS_PER_CLIENT + 100);
});

test("the worker's table is never overfilled: past MAX_ANNOUNCED_PUTS, all clients together, a plan is refused naming it", () => {
  const h = cluster();
  const clients = MAX_ANNOUNCED_PUTS / MAX_ANNOUNCED_PUTS_PER_CLIENT;
  for (let c = 0; c < clients; c++) {
    h.client(`c${c}`);
    h.s.scatterPlan(`c${c}`, { type: 'scatter-plan', id: 1, items: items(`c${c}`, MAX_ANNOUNCED_PUTS_PER_CLIENT) });
    assert.ok(answer(h, `c${c}`, 1).workers);
  }
  h.s.scatterPlan('victim', { type: 'scatter-plan', id: 1, items: items('v', 1) });
  const refused = answer(h, 'victim', 1);
  assert.equal(refused.code, 'LIMIT_EXCEEDED');
  assert.match(refused.message ?? '', /MAX_ANNOUNCED_PUTS\)/);
  assert.equal(announced(h, 'w'), MAX_ANNOUNCED_PUTS);
});

test('a plan goes around a worker where the client has no room left, to one where it has', () => {
  const h = cluster({ t: 0 }, ['a', 'b']);
  h.s.scatterPlan('rival', {
    type: 'scatter-plan',
    id: 1,
    items: items('r', MAX_ANNOUNCED_PUTS_PER_CLIENT),
    workers: ['a'],
  });
  h.s.scatterPlan('rival', { type: 'scatter-plan', id: 2, items: items('s', 3) });
  assert.deepEqual(answer(h, 'rival', 2).workers, ['b', 'b', 'b']);
});

test("the worker's puts-stored frees the count; the client's own scattered claim does not", () => {
  const h = cluster();
  const mine = items('r', MAX_ANNOUNCED_PUTS_PER_CLIENT);
  h.s.scatterPlan('rival', { type: 'scatter-plan', id: 1, items: mine });
  // It claims to have put them all, having put none: the worker still holds the announcements.
  h.s.scattered('rival', {
    type: 'scattered',
    items: mine.map((i) => ({ key: i.key, nbytes: 8, workers: ['w'] })),
    wants: [],
  });
  h.s.scatterPlan('rival', { type: 'scatter-plan', id: 2, items: items('more', 1) });
  assert.equal(answer(h, 'rival', 2).code, 'LIMIT_EXCEEDED');
  h.s.putsStored(
    'w',
    mine.slice(0, 10).map((i) => i.key),
  );
  h.s.putsStored('w', ['never-announced']);
  h.s.scatterPlan('rival', { type: 'scatter-plan', id: 3, items: items('more', 10) });
  assert.equal(answer(h, 'rival', 3).workers?.length, 10, 'room for as many as the worker took');
  h.check();
});

test("a worker's puts-stored frees only what was announced to it: another worker cannot free a worker's table for a rival", () => {
  const h = cluster({ t: 0 }, ['w', 'x']);
  // The rival fills its share on both workers; its accomplice is worker x.
  h.s.scatterPlan('rival', { type: 'scatter-plan', id: 1, items: items('r', 2 * MAX_ANNOUNCED_PUTS_PER_CLIENT) });
  const plan = h.clientMessages('rival').find((m) => m.type === 'scatter-plan-reply' && m.id === 1);
  assert.ok(plan?.type === 'scatter-plan-reply');
  const onW = plan.targets.flatMap((t, i) => (t[0]?.id === 'w' ? [`r-${i}`] : []));
  assert.equal(onW.length, MAX_ANNOUNCED_PUTS_PER_CLIENT);
  // x reports w's announcements as stored (it never held them): w's count stays.
  h.s.putsStored('x', onW);
  h.s.scatterPlan('rival', { type: 'scatter-plan', id: 2, items: items('more', 1) });
  assert.equal(answer(h, 'rival', 2).code, 'LIMIT_EXCEEDED', "no room freed on w by x's word");
  // w's own report does free them.
  h.s.putsStored('w', onW.slice(0, 3));
  h.s.scatterPlan('rival', { type: 'scatter-plan', id: 3, items: items('more', 3) });
  assert.deepEqual(answer(h, 'rival', 3).workers, ['w', 'w', 'w']);
  h.check();
});

test('unused announcements stop counting once the worker has forgotten them (TTL and slack), not before', () => {
  const clock = { t: 1_000 };
  const h = cluster(clock);
  h.s.scatterPlan('rival', { type: 'scatter-plan', id: 1, items: items('r', MAX_ANNOUNCED_PUTS_PER_CLIENT) });
  clock.t += ANNOUNCED_PUT_TTL_MS;
  h.s.scatterPlan('rival', { type: 'scatter-plan', id: 2, items: items('s', 1) });
  assert.equal(answer(h, 'rival', 2).code, 'LIMIT_EXCEEDED', 'the worker may still hold them');
  clock.t += ANNOUNCED_PUT_COUNT_SLACK_MS;
  h.s.scatterPlan('rival', { type: 'scatter-plan', id: 3, items: items('s', MAX_ANNOUNCED_PUTS_PER_CLIENT) });
  assert.equal(answer(h, 'rival', 3).workers?.length, MAX_ANNOUNCED_PUTS_PER_CLIENT);
  assert.equal(h.s.putLedger.outstanding(h.s.workers.get('w') as object), MAX_ANNOUNCED_PUTS_PER_CLIENT);
});
