import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ThreadEnd, firstOf } from '../src/core/thread-end.js';
import { RECLAIM_AFTER_BYTES, Reclaimer } from '../src/node/reclaim.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** A full collection (reclaim.ts runs one on a later turn), then a turn for WeakRefs to clear. */
async function collect(): Promise<void> {
  new Reclaimer().dropped(RECLAIM_AFTER_BYTES);
  await turn();
  await turn();
}

test('firstOf settles with the reply, the end or the abort, whichever comes first', async () => {
  const live = new AbortController().signal;
  assert.deepEqual(await firstOf(Promise.resolve({ ok: 1 }), new ThreadEnd(), live), { ok: 1 });

  const end = new ThreadEnd();
  const waiting = firstOf(new Promise<never>(() => {}), end, live);
  end.end(new Error('exited'));
  assert.equal(((await waiting) as { died: Error }).died.message, 'exited');
  // An end that came before the wait still ends it.
  assert.equal(((await firstOf(new Promise<never>(() => {}), end, live)) as { died: Error }).died.message, 'exited');

  const abort = new AbortController();
  const aborted = firstOf(new Promise<never>(() => {}), new ThreadEnd(), abort.signal);
  abort.abort('stop');
  assert.deepEqual(await aborted, { aborted: 'stop' });
  assert.deepEqual(
    await firstOf(Promise.reject(new Error('no clone')), new ThreadEnd(), live).then(
      (r) => (r as { aborted: Error }).aborted.message,
    ),
    'no clone',
  );
});

test("a settled job's reply is not kept by its thread's end or its signal", async () => {
  // A thread lives for many jobs and its end stays pending: with Promise.race([reply, end]) every
  // reply stayed reachable from it, and a worker grew by each result it made.
  const end = new ThreadEnd();
  const signal = new AbortController().signal;
  const settle = async (): Promise<WeakRef<Uint8Array>> => {
    const reply = await firstOf(Promise.resolve({ bytes: new Uint8Array(1 << 20) }), end, signal);
    return new WeakRef((reply as { bytes: Uint8Array }).bytes);
  };
  const refs: WeakRef<Uint8Array>[] = [];
  for (let i = 0; i < 4; i++) refs.push(await settle());
  await collect();
  assert.equal(refs.filter((r) => r.deref() !== undefined).length, 0, 'every reply was collected');
  assert.equal(end.ended, false);
});
