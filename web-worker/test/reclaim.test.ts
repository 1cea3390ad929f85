import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RECLAIM_AFTER_BYTES, Reclaimer } from '../src/node/reclaim.js';

/** A WeakRef to an object nothing else holds. */
function dropped(): WeakRef<object> {
  return new WeakRef({ value: new Uint8Array(new SharedArrayBuffer(1024)) });
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('dropping RECLAIM_AFTER_BYTES of values runs a collection on a later turn; less does not', async () => {
  const r = new Reclaimer();
  const small = dropped();
  r.dropped(RECLAIM_AFTER_BYTES - 1);
  await turn();
  await turn();
  assert.ok(small.deref() !== undefined, 'no collection below the threshold');
  r.dropped(1);
  await turn();
  await turn();
  assert.equal(small.deref(), undefined, 'a full collection ran: the dropped object is gone');
});
