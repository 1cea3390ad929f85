/** The scheduler's sets of workers (roster.ts): insertion order kept, rebuilt once churn left many holes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Roster } from '../src/state/roster.js';
import { Harness } from './harness.js';

/** Takes the first entry and puts one taken earlier back at the end, as workers leave and rejoin the set of those with room. */
function churn(r: Roster<number>, model: number[], rounds: number): void {
  const out: number[] = [];
  for (let k = 0; k < rounds; k++) {
    r.compact();
    const first = r[Symbol.iterator]().next().value as number;
    assert.equal(first, model[0]);
    r.delete(first);
    model.shift();
    out.push(first);
    if (out.length > 2) {
      const back = out.shift() as number;
      r.add(back);
      model.push(back);
    }
  }
}

test('a roster under churn is rebuilt, and keeps its entries in the order they came', () => {
  const r = new Roster<number>();
  const model: number[] = [];
  for (let i = 0; i < 1_000; i++) {
    r.add(i);
    model.push(i);
  }
  churn(r, model, 20_000);
  assert.ok(r.rebuilds >= 20_000 / (64 + 1_000 / 4 + 1) - 1, `rebuilt ${r.rebuilds} times`);
  assert.deepEqual([...r], model);
  assert.equal(r.size, model.length);
  for (const x of model) assert.ok(r.has(x));
});

test('a roster with few deletions is not rebuilt', () => {
  const r = new Roster<number>();
  for (let i = 0; i < 100; i++) r.add(i);
  // 71 deletions of 100 entries: within 64 + 29 / 4 holes.
  for (let i = 0; i < 71; i++) r.delete(i);
  r.delete(1_000); // not there: not a deletion
  r.compact();
  assert.equal(r.rebuilds, 0);
  r.delete(71); // 72 > 64 + 28 / 4
  r.compact();
  assert.equal(r.rebuilds, 1);
  assert.deepEqual(
    [...r],
    Array.from({ length: 28 }, (_, i) => i + 72),
  );
});

test('an iteration open while the roster is rebuilt goes on over the entries it began with', () => {
  const r = new Roster<number>();
  for (let i = 0; i < 200; i++) r.add(i);
  for (let i = 0; i < 150; i++) r.delete(i);
  const seen: number[] = [];
  for (const x of r) {
    seen.push(x);
    if (x === 160) r.compact();
  }
  assert.equal(r.rebuilds, 1);
  assert.deepEqual(
    seen,
    Array.from({ length: 50 }, (_, i) => i + 150),
  );
});

test("the scheduler rebuilds its set of workers with room as a big cluster's tasks come and go", () => {
  const h = new Harness({ workerQueueExtra: 1 });
  const workers = Array.from({ length: 200 }, (_, i) => `w${i}`);
  for (const w of workers) h.worker(w, 1);
  h.client('c');
  h.submit(
    'c',
    Array.from({ length: 2_000 }, (_, i): [string, string[]] => [`t${i}`, []]),
  );
  let finished = 0;
  for (let progress = true; progress;) {
    progress = false;
    for (const w of workers)
      for (const k of h.drain(w)) {
        h.finish(w, k);
        finished++;
        progress = true;
      }
  }
  assert.equal(finished, 2_000);
  const roomy = (h.s as unknown as { roomy: Roster<unknown> }).roomy;
  assert.ok(roomy.rebuilds > 0, 'rebuilt at least once');
  assert.equal(roomy.size, 200, 'every worker has room again');
});
