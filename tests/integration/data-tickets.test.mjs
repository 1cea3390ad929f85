// Data tickets: a client reads and writes on workers' data links only the keys the scheduler let
// it. A rival client of the same scheduler (speaking the protocol itself) learns the workers' data
// addresses from a scatter plan of its own, dials them without a token, and asks for the victim's
// computed and scattered values, with no ticket and with tickets of its own: every key refused, no
// byte sent, nothing overwritten. The scheduler has no token at all, where data links used to serve
// anyone. The victim, the npm client, still gathers and scatters through its tickets.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import {
  INLINE_VALUE_MAX_BYTES,
  PROTOCOL_VERSION,
  TICKET_HEX_CHARS,
  decode,
  encodeFrame,
  encodeValue,
  valueHash,
} from '@meshwork/protocol';
import { REPLY_TIMEOUT_MS, dataLink, rawClient, rawWorker } from './helpers.mjs';

/** Elements of the victim's Float64Arrays: 200 kB each, over the inline limit, so held on workers. */
const LENGTH = 25_000;
const WEIGHTS_KEY = 'model-weights';
/** What the rival puts: its scatter plans announce these bytes (size and value hash), as the npm client's do. */
const JUNK = encodeValue(new Float64Array(LENGTH).fill(-1)).bytes;
/** A plan item for `bytes` under `key`, as a client asks for it. */
const planItem = async (key, bytes) => ({ key, nbytes: bytes.byteLength, hash: await valueHash(bytes) });

let cluster;
let a; // the victim, the npm client
let weights; // its computed value under a guessable key
let data; // its scattered value
before(async () => {
  assert.ok(LENGTH * 8 > INLINE_VALUE_MAX_BYTES);
  cluster = await LocalCluster.start({ workers: 2 });
  a = await Client.connect(cluster.address, { name: 'victim' });
  weights = a.with({ key: WEIGHTS_KEY }).submit((n) => Float64Array.from({ length: n }, (_, i) => i / 2), LENGTH);
  await weights.result();
  [data] = await a.scatter([new Float64Array(LENGTH).fill(7)]);
});
after(async () => {
  await a?.close();
  await cluster?.close();
});

/** A rival client of the cluster, speaking the protocol itself. */
const rival = () => rawClient(cluster.address);

/** Says `hello` to the scheduler as anyone, and returns its welcome (the connection closed). */
async function welcomeOf(hello) {
  const ws = new WebSocket(cluster.address);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const welcome = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no welcome within ${REPLY_TIMEOUT_MS} ms`)), REPLY_TIMEOUT_MS);
    ws.on('message', (d) => {
      const m = decode(new Uint8Array(d)).find((x) => x.type === 'welcome');
      if (!m) return;
      clearTimeout(timer);
      resolve(m);
    });
  });
  ws.send(encodeFrame([{ type: 'hello', protocolVersion: PROTOCOL_VERSION, ...hello }]));
  try {
    return await welcome;
  } finally {
    ws.close();
  }
}

/**
 * The rival's own scatter plan, for every worker, of one key of its own and the victim's two: the
 * workers' data addresses, and the put tickets it got.
 */
async function rivalPlan(r) {
  const items = await Promise.all(['rival-own', WEIGHTS_KEY, data.key].map((key) => planItem(key, JUNK)));
  r.send({ type: 'scatter-plan', id: 1, broadcast: true, items });
  const plan = await r.next((m) => m.type === 'scatter-plan-reply' && m.id === 1);
  return { addresses: plan.targets[0].map((h) => h.address), tickets: plan.tickets };
}

const hello = (extra = {}) => [{ type: 'hello', protocolVersion: PROTOCOL_VERSION, from: 'rival', ...extra }];
const forged = (c) => c.repeat(TICKET_HEX_CHARS);

test("a client's welcome carries no data token, and its scatter plan no put ticket for another client's key", async () => {
  const r = await rival();
  try {
    assert.equal(r.welcome.dataToken, undefined, 'clients never get the data secret');
    const { addresses, tickets } = await rivalPlan(r);
    assert.equal(addresses.length, 2);
    assert.ok(addresses.every((x) => x.startsWith('tcp://')));
    assert.equal(tickets.length, 3);
    assert.match(tickets[0], new RegExp(`^[0-9a-f]{${TICKET_HEX_CHARS}}$`), 'a put ticket for its own key');
    assert.deepEqual(tickets.slice(1), [null, null], "none for the victim's keys");
  } finally {
    r.close();
  }
});

test("a rival's get-data of another client's keys, with no ticket or tickets of its own, is refused key by key: no byte sent", async () => {
  const r = await rival();
  try {
    const { addresses, tickets } = await rivalPlan(r);
    const [own] = tickets;
    const keys = [WEIGHTS_KEY, data.key];
    for (const address of addresses) {
      const { replies, closed } = await dataLink(
        address,
        [
          hello(),
          [{ type: 'get-data', id: 1, keys }],
          [{ type: 'get-data', id: 2, keys, tickets: [own, own] }],
          [{ type: 'get-data', id: 3, keys, tickets: [forged('0'), forged('f')] }],
        ],
        6,
      );
      assert.equal(closed, false);
      assert.deepEqual(
        replies.map((m) => [m.type, m.code, m.replyTo, m.key, m.bodyBytes]),
        [1, 2, 3].flatMap((id) => keys.map((key) => ['error', 'AUTH_FAILED', id, key, 0])),
        `${address}: every key refused`,
      );
      const wrongToken = await dataLink(address, [hello({ token: 'guess' }), [{ type: 'get-data', id: 1, keys }]], 2);
      assert.deepEqual(
        wrongToken.replies.map((m) => [m.type, m.code, m.bodyBytes]),
        [['error', 'AUTH_FAILED', 0]],
      );
      assert.equal(wrongToken.closed, true, 'a wrong token closes the link');
    }
  } finally {
    r.close();
  }
});

test("a rival's put-data over another client's keys is refused, and the owner's values are unchanged on every worker", async () => {
  const r = await rival();
  try {
    const { addresses, tickets } = await rivalPlan(r);
    const [own] = tickets;
    const junk = JUNK;
    for (const address of addresses) {
      const { replies } = await dataLink(
        address,
        [
          hello(),
          [{ type: 'put-data', id: 1, key: WEIGHTS_KEY }, junk],
          [{ type: 'put-data', id: 2, key: data.key, ticket: own }, junk],
          [{ type: 'put-data', id: 3, key: WEIGHTS_KEY, ticket: forged('a') }, junk],
          [{ type: 'put-data', id: 4, key: 'rival-own', ticket: own }, junk],
        ],
        4,
      );
      assert.deepEqual(
        replies.map((m) => [m.type, m.code, m.replyTo ?? m.id, m.key]),
        [
          ['error', 'AUTH_FAILED', 1, WEIGHTS_KEY],
          ['error', 'AUTH_FAILED', 2, data.key],
          ['error', 'AUTH_FAILED', 3, WEIGHTS_KEY],
          ['put-ok', undefined, 4, 'rival-own'],
        ],
        `${address}: refused but for its own key, with its own ticket`,
      );
    }
  } finally {
    r.close();
  }
  // The npm client, scattering under the victim's key, gets no put ticket: it puts nothing, and its future errs.
  const b = await Client.connect(cluster.address, { name: 'rival-npm' });
  try {
    const squat = await b.scatter({ [WEIGHTS_KEY]: new Float64Array(LENGTH).fill(-1) });
    await assert.rejects(squat[WEIGHTS_KEY].result(), (e) => e.name === 'AuthError');
  } finally {
    await b.close();
  }
  // Read where they are stored: by a task (from the workers' stores) and by a gather (a fresh fetch: too big to be cached).
  const seen = await a
    .submit((w, d) => [w.length, w[1], w[w.length - 1], d.length, d[0], d[d.length - 1]], weights, data)
    .result();
  const expected = [LENGTH, 0.5, (LENGTH - 1) / 2, LENGTH, 7, 7];
  assert.deepEqual(seen, expected);
  const [w, d] = await a.gather([weights, data]);
  assert.deepEqual([w.length, w[1], w[LENGTH - 1], d.length, d[0], d[LENGTH - 1]], expected);
});

test('the owner gathers and scatters through its tickets; workers still get the data secret, on a scheduler without tokens too', async () => {
  const [big] = await a.scatter([Float64Array.from({ length: LENGTH }, (_, i) => i)]);
  const back = await big.result();
  assert.equal(back.length, LENGTH);
  assert.equal(back[LENGTH - 1], LENGTH - 1);
  const named = await a.scatter({ 'victim-named': new Float64Array(LENGTH).fill(3) });
  assert.equal((await named['victim-named'].result())[0], 3);
  assert.equal((await weights.result())[2], 1);
  const worker = {
    role: 'worker',
    kind: 'browser',
    threads: 1,
    memoryLimit: null,
    resources: {},
    dataAddress: null,
    agent: 'test',
  };
  assert.equal(typeof (await welcomeOf(worker)).dataToken, 'string', 'a worker gets the data secret');
  assert.equal((await welcomeOf({ role: 'client', name: 'another' })).dataToken, undefined, 'no client does');
});

test("bytes a rival put on workers under a key before it existed are no one's result or input, and a scattered value cannot be overwritten", async () => {
  const r = await rival();
  try {
    const PLANTED = 'planted-weights';
    const poison = encodeValue('POISONED BY RIVAL').bytes;
    r.send({ type: 'scatter-plan', id: 7, broadcast: true, items: [await planItem(PLANTED, poison)] });
    const plan = await r.next((m) => m.type === 'scatter-plan-reply' && m.id === 7);
    for (const h of plan.targets[0]) {
      const res = await dataLink(
        h.address,
        [hello(), [{ type: 'put-data', id: 1, key: PLANTED, ticket: plan.tickets[0] }, poison]],
        1,
      );
      assert.equal(res.replies[0]?.type, 'put-ok', 'the rival may put under a key no one has yet');
    }
    // The victim later computes that key, on every worker, and uses it as an input on every worker.
    const honest = a.with({ key: PLANTED }).submit(() => 'honest result');
    assert.equal(await honest.result(), 'honest result', 'a stored value is not taken for the result');
    for (const w of (await a.whoHas([honest]))[PLANTED] ?? []) assert.ok(w);
    const names = (await (await fetch(`${cluster.httpUrl}/api/state`)).json()).workers.map((w) => w.name);
    for (const name of names) {
      const used = a.with({ workers: [name], allowOtherWorkers: false, pure: false }).submit((s) => s, honest);
      assert.equal(await used.result(), 'honest result', `the input on ${name} is the scheduler's value`);
    }
    // A name the victim will scatter under: the rival takes a put ticket for it first, the victim
    // scatters, the rival's put over it (with that valid ticket) is refused on every worker.
    const overwrite = JUNK;
    r.send({ type: 'scatter-plan', id: 8, broadcast: true, items: [await planItem('victim-named', overwrite)] });
    const early = await r.next((m) => m.type === 'scatter-plan-reply' && m.id === 8);
    const { 'victim-named': mine } = await a.scatter(
      { 'victim-named': new Float64Array(LENGTH).fill(3) },
      { broadcast: true },
    );
    for (const h of early.targets[0]) {
      const res = await dataLink(
        h.address,
        [hello(), [{ type: 'put-data', id: 2, key: 'victim-named', ticket: early.tickets[0] }, overwrite]],
        1,
      );
      assert.notEqual(res.replies[0]?.type, 'put-ok', 'no client overwrites a stored value');
    }
    assert.equal(await a.submit((d) => d[0], mine).result(), 3);
  } finally {
    r.close();
  }
});

test('a worker of the cluster, holding the data secret, cannot plant values on another: a put the scheduler did not announce is refused', async () => {
  // The attacker joins as a worker (on a volunteer cluster anyone can): its welcome carries the data secret.
  const attacker = await rawWorker(cluster.address);
  try {
    const { dataToken } = attacker.inbox.find((m) => m.type === 'welcome');
    assert.equal(typeof dataToken, 'string');
    // The honest workers' data addresses, as any client learns them from a scatter plan.
    const r = await rival();
    const { addresses } = await rivalPlan(r).finally(() => r.close());
    assert.equal(addresses.length, 2);
    const poison = encodeValue('POISONED BY A WORKER').bytes;
    for (const address of addresses) {
      const { replies } = await dataLink(
        address,
        [
          hello({ token: dataToken }),
          [{ type: 'put-data', id: 1, key: 'victim-future-key', ticket: forged('b') }, poison],
        ],
        1,
      );
      assert.deepEqual(
        replies.map((m) => [m.type, m.code, m.replyTo]),
        [['error', 'BAD_REQUEST', 1]],
        `${address}: a put no scatter plan announced is refused, even from a peer with the data secret`,
      );
      assert.match(replies[0].message, /no scatter of 'victim-future-key' to this worker was announced/);
    }
    // Nothing was stored: the victim's task under that key runs and its dependents read its value.
    const honestValue = a.with({ key: 'victim-future-key' }).submit(() => 'honest');
    assert.equal(await a.submit((s) => s, honestValue).result(), 'honest');
  } finally {
    attacker.ws.close();
  }
});
