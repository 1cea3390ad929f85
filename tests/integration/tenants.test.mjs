// Two clients of one scheduler, one of them a rival speaking the raw protocol: it cannot read,
// squat, want, cancel or make lost another client's keys, nor starve it; clients that submit the
// same pure call still share it. Each case is an attack that worked before clients were tenants.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import { digestString, encodeValue, taskDigest } from '@meshwork/protocol';
import { rawClient } from './helpers.mjs';

let cluster;
let a; // the victim, the npm client
before(async () => {
  cluster = await LocalCluster.start({ workers: 2 });
  a = await Client.connect(cluster.address, { name: 'victim' });
});
after(async () => {
  await a?.close();
  await cluster?.close();
});

/** A rival client of the cluster, speaking the protocol itself. */
const rival = () => rawClient(cluster.address);

/** The spec and key the npm client gives `fn(...args)` (pure, default options): computable offline by anyone. */
function specOf(fn, args, name = fn.name) {
  const source = fn.toString();
  const id = digestString(source);
  const spec = { fn: id, args: encodeValue(args).bytes, deps: [], priority: 0, retries: 0 };
  return { fnSpec: { id, name, source }, spec, key: `${name}-${taskDigest(spec)}` };
}

const inc = (x) => x + 1;

test("a rival cannot squat the pure key of a call the victim will make: its spec is refused, the victim's value is right", async () => {
  const b = await rival();
  try {
    const { key } = specOf(inc, [41]);
    const evil = (x) => x + 625; // another function, sent under the key of inc(41)
    const { fnSpec, spec } = specOf(evil, [41], 'inc');
    b.send({ type: 'update-graph', fns: [fnSpec], tasks: [{ key, ...spec }], wants: [key] });
    const refused = await b.next((m) => m.type === 'key-erred' && m.key === key);
    assert.equal(refused.error.code, 'GRAPH');
    const f = a.submit(inc, 41);
    assert.equal(f.key, key, 'the rival computed the key offline');
    assert.equal(await f.result(), 42);
    const verified = a.with({ verify: 2 }).submit(inc, 41);
    assert.notEqual(verified.key, key, 'verify is part of a pure key: weaker terms cannot stand for it');
    assert.equal(await verified.result(), 42);
  } finally {
    b.close();
  }
});

test("a rival cannot read the victim's results by key: gather and who-has are refused, a want is unknown", async () => {
  const secret = a.with({ pure: false }).submit((s) => `${s} stays here`, 'a secret');
  assert.equal(await secret.result(), 'a secret stays here');
  const b = await rival();
  try {
    b.send({ type: 'gather', id: 1, keys: [secret.key] });
    assert.equal((await b.next((m) => m.type === 'error' && m.replyTo === 1)).code, 'NOT_YOURS');
    b.send({ type: 'who-has', id: 2, keys: [secret.key] });
    assert.equal((await b.next((m) => m.type === 'error' && m.replyTo === 2)).code, 'NOT_YOURS');
    b.send({ type: 'update-graph', fns: [], tasks: [], wants: [secret.key] });
    assert.equal((await b.next((m) => m.type === 'key-erred' && m.key === secret.key)).error.code, 'LOST');
    b.send({ type: 'gather', id: 3, keys: [secret.key] });
    assert.equal((await b.next((m) => m.type === 'error' && m.replyTo === 3)).code, 'NOT_YOURS', 'the refused want gave it nothing');
    assert.ok(!b.seen.some((m) => m.type === 'gather-reply' || m.type === 'who-has-reply'));
    // A task of its own that takes the victim's key as input.
    const { fnSpec, spec } = specOf((x) => x, []);
    const stealing = { ...spec, deps: [secret.key] };
    const key = `steal-${taskDigest(stealing)}`;
    b.send({ type: 'update-graph', fns: [fnSpec], tasks: [{ key, ...stealing }], wants: [key] });
    assert.equal((await b.next((m) => m.type === 'key-erred' && m.key === key)).error.code, 'LOST');
    const c = await Client.connect(cluster.address);
    try {
      await assert.rejects(c.whoHas([secret.key]), (e) => e.code === 'AUTH');
    } finally {
      await c.close();
    }
    assert.equal(await secret.result(), 'a secret stays here');
  } finally {
    b.close();
  }
});

test("a rival's spec under the victim's private key is refused; the victim's own key keeps its value", async () => {
  const mine = a.with({ key: 'victim-total' }).submit((x) => x * 2, 21);
  assert.equal(await mine.result(), 42);
  const b = await rival();
  try {
    const { fnSpec, spec } = specOf(() => 666, []);
    b.send({ type: 'update-graph', fns: [fnSpec], tasks: [{ key: 'victim-total', ...spec }], wants: ['victim-total'] });
    const refused = await b.next((m) => m.type === 'key-erred' && m.key === 'victim-total');
    assert.equal(refused.error.code, 'AUTH');
    assert.match(refused.error.message, /belongs to another client/);
    assert.equal(await a.gather(mine), 42);
  } finally {
    b.close();
  }
});

/** Sleeps `ms` on the worker, then returns `x`. */
const slow = async (x, ms) => {
  await new Promise((r) => setTimeout(r, ms));
  return x;
};

test('cancelling a shared pure call drops only the canceller\'s interest (dask: force=False); the victim\'s result arrives', async () => {
  const c = await Client.connect(cluster.address, { name: 'sharer' });
  try {
    const mine = a.submit(slow, 7, 800);
    const theirs = c.submit(slow, 7, 800);
    assert.equal(theirs.key, mine.key, 'the same pure call: one task');
    await c.cancel(theirs);
    assert.equal(theirs.status, 'cancelled');
    assert.equal(await mine.result(), 7);
    assert.equal(mine.status, 'finished');
  } finally {
    await c.close();
  }
});

test("a rival's cancel and missing-data for the victim's keys change nothing: no value lost or made again", async () => {
  const [data] = await a.scatter([new Float64Array([1, 2, 3])]);
  const rolled = a.with({ pure: false }).submit(() => Math.random());
  const first = await rolled.result();
  const holders = await a.whoHas([data, rolled]);
  const b = await rival();
  try {
    b.send({ type: 'update-graph', fns: [], tasks: [], wants: [data.key, rolled.key] });
    b.send({ type: 'cancel', keys: [data.key, rolled.key] });
    b.send({ type: 'cancel', keys: [data.key, rolled.key], force: true });
    for (const key of [data.key, rolled.key]) for (const holder of holders[key]) b.send({ type: 'missing-data', key, holder });
    b.send({ type: 'who-has', id: 9, keys: [] }); // answered after the messages above
    await b.next((m) => m.type === 'who-has-reply' && m.id === 9);
  } finally {
    b.close();
  }
  assert.deepEqual(await a.whoHas([data, rolled]), holders, 'no copy dropped');
  assert.deepEqual([...(await data.result())], [1, 2, 3]);
  assert.equal(await rolled.result(), first, 'not recomputed to another value');
  assert.equal(data.status, 'finished');
});

test("one client's thousands of queued tasks do not starve another's one, and its priority does not jump the queue", async () => {
  const spin = (i) => {
    const end = Date.now() + 2;
    while (Date.now() < end);
    return i;
  };
  const flood = a.with({ priority: 100 }).map(spin, Array.from({ length: 3_000 }, (_, i) => i));
  const c = await Client.connect(cluster.address, { name: 'small' });
  try {
    await new Promise((r) => setTimeout(r, 100)); // the flood is queued
    assert.equal(await c.submit(inc, 1).result(), 2);
    const doneBefore = flood.filter((f) => f.status === 'finished').length;
    assert.ok(doneBefore < 1_000, `the small client waited for ${doneBefore} of 3,000 tasks of the other`);
  } finally {
    await c.close();
    await a.cancel(flood);
  }
});

test("a client sharing a pure call cannot make it again for the others by reporting its copies missing", async () => {
  const roll = () => Math.random();
  const mine = a.submit(roll);
  const first = await mine.result();
  const holders = (await a.whoHas([mine]))[mine.key];
  const b = await rival();
  try {
    const { fnSpec, spec, key } = specOf(roll, [], 'roll');
    assert.equal(key, mine.key, 'the same pure call');
    b.send({ type: 'update-graph', fns: [fnSpec], tasks: [{ key, ...spec }], wants: [key] });
    await b.next((m) => m.type === 'key-finished' && m.key === key);
    for (const holder of holders) b.send({ type: 'missing-data', key, holder });
    b.send({ type: 'who-has', id: 11, keys: [key] });
    assert.deepEqual((await b.next((m) => m.type === 'who-has-reply' && m.id === 11)).holders[key], holders, 'no copy dropped');
  } finally {
    b.close();
  }
  assert.equal(await a.submit((x) => x, mine).result(), first, 'not made again to another value');
});
