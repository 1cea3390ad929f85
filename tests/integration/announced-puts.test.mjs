// Announced puts per client: a worker stores a client's put only for a key the scheduler announced
// to it with the client's scatter plan, and keeps a bounded table of announcements. A rival client
// (speaking the protocol itself) asks for huge plans and never puts them, to push an honest
// client's announcements out of that table so its scatter fails. The scheduler refuses the
// rival's plans past its share with LIMIT_EXCEEDED, and all plans past the worker's table: the
// honest client's announcement stays and its put is stored; its big scatters still work.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import {
  MAX_ANNOUNCED_PUTS,
  MAX_ANNOUNCED_PUTS_PER_CLIENT,
  PROTOCOL_VERSION,
  encodeValue,
  valueHash,
} from '@meshwork/protocol';
import { dataLink, rawClient } from './helpers.mjs';

const JUNK = encodeValue('junk').bytes;
const JUNK_HASH = await valueHash(JUNK);
const flood = (prefix, n) =>
  Array.from({ length: n }, (_, i) => ({ key: `${prefix}-${i}`, nbytes: JUNK.byteLength, hash: JUNK_HASH }));

let cluster;
before(async () => {
  cluster = await LocalCluster.start({ workers: 1 });
});
after(async () => {
  await cluster?.close();
});

/** Sends plan `id` of `items` and returns its answer: the plan, or the `error` refusing it. */
async function plan(c, id, items) {
  c.send({ type: 'scatter-plan', id, items });
  return c.next((m) => (m.type === 'scatter-plan-reply' || m.type === 'error') && (m.id === id || m.replyTo === id));
}

/** Puts `bytes` under `key` on the planned worker with the plan's ticket: the data link's answer. */
async function put(reply, key, bytes) {
  const res = await dataLink(
    reply.targets[0][0].address,
    [
      [{ type: 'hello', protocolVersion: PROTOCOL_VERSION, from: 'put' }],
      [{ type: 'put-data', id: 1, key, ticket: reply.tickets[0] }, bytes],
    ],
    1,
  );
  return res.replies[0];
}

/**
 * Honest's announcement must survive `rivalFloods` (each rival plan flooding the one worker), then
 * its put be stored. The rival's last accepted plan is put first: the worker has then taken every
 * announcement the scheduler made before it (one connection, in order).
 */
async function honestPutSurvives(tag, rivalFloods) {
  const honest = await rawClient(cluster.address, { name: `honest-${tag}` });
  const value = encodeValue(`honest ${tag}`).bytes;
  const key = `honest-${tag}`;
  try {
    const mine = await plan(honest, 1, [{ key, nbytes: value.byteLength, hash: await valueHash(value) }]);
    assert.equal(mine.type, 'scatter-plan-reply');
    const { accepted, refused } = await rivalFloods();
    assert.ok(refused.length > 0, 'the flood was refused past the limit');
    for (const r of refused) assert.equal(r.answer.code, 'LIMIT_EXCEEDED');
    const last = accepted.at(-1);
    if (last) assert.equal((await put(last.answer, last.key, JUNK))?.type, 'put-ok');
    assert.equal((await put(mine, key, value))?.type, 'put-ok', "the honest client's announcement was not pushed out");
    return refused;
  } finally {
    honest.close();
  }
}

test("a rival's flood of scatter plans is refused past its share (LIMIT_EXCEEDED); an honest client's announcement stays, and its big scatter works", async () => {
  const rival = await rawClient(cluster.address);
  const refused = await honestPutSurvives('one', async () => {
    const accepted = [];
    const refused = [];
    for (let i = 0; i < 10; i++) {
      const items = flood(`rival-${i}`, MAX_ANNOUNCED_PUTS_PER_CLIENT);
      const answer = await plan(rival, i + 1, items);
      (answer.type === 'error' ? refused : accepted).push({ answer, key: items[0].key });
    }
    assert.equal(accepted.length, 1, 'one plan of its share, no more');
    return { accepted, refused };
  });
  assert.match(refused[0].answer.message, /MAX_ANNOUNCED_PUTS_PER_CLIENT/, 'the rival is told which limit and why');
  // The rival still holds its share of announcements, never to be put; an honest scatter larger
  // than a share (planned batch by batch) is stored whole.
  const client = await Client.connect(cluster.address, { name: 'honest-npm' });
  try {
    const n = 2 * MAX_ANNOUNCED_PUTS_PER_CLIENT + 100;
    const futures = await client.scatter(Array.from({ length: n }, (_, i) => i + 0.5));
    assert.equal(futures.length, n);
    assert.deepEqual(await client.gather([futures[0], futures[n - 1]]), [0.5, n - 0.5]);
  } finally {
    await client.close();
    rival.close();
  }
});

test("rivals on many connections fill no more than the worker's table: plans past it are refused, none is pushed out", async () => {
  const rivals = [];
  try {
    const refused = await honestPutSurvives('many', async () => {
      const accepted = [];
      const refused = [];
      for (let c = 0; c < MAX_ANNOUNCED_PUTS / MAX_ANNOUNCED_PUTS_PER_CLIENT + 2; c++) {
        const rival = await rawClient(cluster.address);
        rivals.push(rival);
        const items = flood(`many-${c}`, MAX_ANNOUNCED_PUTS_PER_CLIENT);
        const answer = await plan(rival, 1, items);
        (answer.type === 'error' ? refused : accepted).push({ answer, key: items[0].key });
      }
      return { accepted, refused };
    });
    assert.match(
      refused.at(-1).answer.message,
      /MAX_ANNOUNCED_PUTS\)/,
      "the worker's table is full: that limit is named",
    );
  } finally {
    for (const r of rivals) r.close();
  }
});
