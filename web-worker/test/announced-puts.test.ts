// What a stranger with the data secret can do to a worker's announced puts: send puts nobody
// announced (each may wait for an announcement, but only MAX_WAITING_PUTS at once, each at most
// PUT_ANNOUNCE_WAIT_MS), and replay an accepted put (an announcement is used once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { valueHash } from '@meshwork/protocol';
import { MAX_WAITING_PUTS, PUT_ANNOUNCE_WAIT_MS } from '../src/constants.js';
import { AnnouncedPuts } from '../src/core/announced-puts.js';

const bytes = new Uint8Array([1, 2, 3]);

test('unannounced puts wait at most PUT_ANNOUNCE_WAIT_MS, at most MAX_WAITING_PUTS at once; past that one is refused at once', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const puts = new AnnouncedPuts(undefined);
  const waiting = Array.from({ length: MAX_WAITING_PUTS }, (_, i) => puts.check(`planted-${i}`, bytes));
  const over = await puts.check('one-too-many', bytes);
  assert.equal(over.ok, false, 'refused without waiting: the waiting room is full');
  t.mock.timers.tick(PUT_ANNOUNCE_WAIT_MS);
  const verdicts = await Promise.all(waiting);
  assert.ok(
    verdicts.every((v) => !v.ok),
    'every unannounced put is refused once its wait is over',
  );
  // The room is free again: an announced put is taken at once.
  puts.announce([{ key: 'k', nbytes: 3, hash: await valueHash(bytes) }]);
  assert.equal((await puts.check('k', bytes)).ok, true);
});

test('an announcement is used once: the same put replayed is refused', async () => {
  const puts = new AnnouncedPuts(undefined);
  puts.announce([{ key: 'k', nbytes: 3, hash: await valueHash(bytes) }]);
  assert.equal((await puts.check('k', bytes)).ok, true);
  const ac = new AbortController();
  const replay = puts.check('k', bytes, ac.signal);
  ac.abort();
  assert.equal((await replay).ok, false);
});
