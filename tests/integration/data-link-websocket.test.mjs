// A Node worker's data link answers WebSocket on its TCP port, for browser clients. Any web page
// can reach a loopback port, so the WebSocket gets the TCP link's rules and no more: a hello with
// no data token is a client's, served only the keys whose ticket the scheduler gave; a wrong token
// closes the link. On top of that, a text message is refused (the link stays: it never reaches the
// frame reader), a message over DATA_LINK_WS_MESSAGE_MAX_BYTES closes the link (1009), broken
// framing closes it, and a plain HTTP request gets 426. The worker keeps serving throughout.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import {
  DATA_LINK_WS_MESSAGE_MAX_BYTES,
  PROTOCOL_VERSION,
  PeerFrameReader,
  TICKET_HEX_CHARS,
  encodePeerFrame,
  encodeValue,
  valueHash,
} from '@meshwork/protocol';
import { REPLY_TIMEOUT_MS, rawClient } from './helpers.mjs';

/** Elements of the victim's value: 200 kB, over the inline limit, so only on the worker. */
const LENGTH = 25_000;
const SECRET_KEY = 'secret-weights';
/** What a page on another origin sends as its Origin header. */
const EVIL_ORIGIN = 'http://evil.example:8080';

let cluster;
let victim;
let dataUrl; // ws://host:port/ of the worker's data link
let putTicket; // the rival's put ticket for a key of its own
let rival;
/** What the rival puts under its own key, as its plan announced. */
const RIVAL_VALUE = encodeValue(new Float64Array(4).fill(9)).bytes;
before(async () => {
  cluster = await LocalCluster.start({ workers: 1 });
  victim = await Client.connect(cluster.address, { name: 'victim' });
  await victim
    .with({ key: SECRET_KEY })
    .submit((n) => new Float64Array(n).fill(3), LENGTH)
    .result();
  rival = await rawClient(cluster.address);
  // Its plan announces what it will put (size and value hash): a worker stores nothing else.
  rival.send({
    type: 'scatter-plan',
    id: 1,
    items: [{ key: 'rival-own', nbytes: RIVAL_VALUE.byteLength, hash: await valueHash(RIVAL_VALUE) }],
  });
  const plan = await rival.next((m) => m.type === 'scatter-plan-reply' && m.id === 1);
  const address = plan.targets[0][0].address;
  putTicket = plan.tickets[0];
  dataUrl = `${address.replace('tcp://', 'ws://')}/`;
});
after(async () => {
  rival?.close();
  await victim?.close();
  await cluster?.close();
});

/**
 * Opens the data link as a WebSocket from EVIL_ORIGIN, sends `messages` (each a Uint8Array, or a
 * string for a text message), and collects reply frames until `expected` came or the link closed.
 */
function wsLink(messages, expected) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(dataUrl, { origin: EVIL_ORIGIN });
    const reader = new PeerFrameReader();
    const replies = [];
    const timer = setTimeout(
      () => reject(new Error(`${replies.length} of ${expected} replies within ${REPLY_TIMEOUT_MS} ms`)),
      REPLY_TIMEOUT_MS,
    );
    const done = (closeCode) => {
      clearTimeout(timer);
      ws.terminate();
      resolve({ replies, closeCode });
    };
    ws.on('open', () => {
      for (const m of messages) ws.send(m, { binary: typeof m !== 'string' });
    });
    ws.on('message', (data, isBinary) => {
      assert.ok(isBinary, 'the worker sends binary messages only');
      assert.ok(data.byteLength <= DATA_LINK_WS_MESSAGE_MAX_BYTES);
      for (const f of reader.push(new Uint8Array(data))) replies.push({ ...f.header, bodyBytes: f.body.byteLength });
      if (replies.length >= expected) done(undefined);
    });
    ws.on('close', (code) => done(code));
    ws.on('error', () => {});
  });
}

/** One peer frame as one binary message. */
const frame = (header, body) => Buffer.concat(encodePeerFrame(header, body));
const hello = (extra = {}) => frame({ type: 'hello', protocolVersion: PROTOCOL_VERSION, from: 'page', ...extra });
const forged = 'f'.repeat(TICKET_HEX_CHARS);

test('over WebSocket, a page without tickets gets nothing: every key AUTH_FAILED, no byte; a wrong token closes the link', async () => {
  const value = RIVAL_VALUE;
  const { replies, closeCode } = await wsLink(
    [
      hello(),
      frame({ type: 'get-data', id: 1, keys: [SECRET_KEY] }),
      frame({ type: 'get-data', id: 2, keys: [SECRET_KEY], tickets: [forged] }),
      frame({ type: 'get-data', id: 3, keys: [SECRET_KEY], tickets: [putTicket] }),
      frame({ type: 'put-data', id: 4, key: SECRET_KEY }, value),
      frame({ type: 'put-data', id: 5, key: 'rival-own', ticket: putTicket }, value),
    ],
    5,
  );
  assert.equal(closeCode, undefined, 'refusals keep the link');
  assert.deepEqual(
    replies.map((m) => [m.type, m.code, m.replyTo ?? m.id, m.key, m.bodyBytes]),
    [
      ['error', 'AUTH_FAILED', 1, SECRET_KEY, 0],
      ['error', 'AUTH_FAILED', 2, SECRET_KEY, 0],
      ['error', 'AUTH_FAILED', 3, SECRET_KEY, 0],
      ['error', 'AUTH_FAILED', 4, SECRET_KEY, 0],
      ['put-ok', undefined, 5, 'rival-own', 0],
    ],
  );
  const wrongToken = await wsLink(
    [hello({ token: 'guess' }), frame({ type: 'get-data', id: 1, keys: [SECRET_KEY] })],
    2,
  );
  assert.equal(wrongToken.replies[0]?.code, 'AUTH_FAILED');
  assert.equal(wrongToken.replies.length, 1, 'nothing after the refusal');
  assert.notEqual(wrongToken.closeCode, undefined, 'closed');
  // The victim's value is untouched and still its own.
  const back = await victim.gather(victim.with({ key: SECRET_KEY }).submit((n) => new Float64Array(n).fill(3), LENGTH));
  assert.equal(back[0], 3);
});

test('a text message is refused and the link stays; a message over the limit closes it (1009); broken framing closes it', async () => {
  const text = await wsLink(
    [
      hello(),
      '{"type":"get-data","id":1,"keys":["x"]}',
      frame({ type: 'get-data', id: 2, keys: ['nope'], tickets: [forged] }),
    ],
    2,
  );
  assert.equal(text.closeCode, undefined);
  assert.deepEqual(
    text.replies.map((m) => [m.type, m.code]),
    [
      ['error', 'PROTOCOL_ERROR'],
      ['error', 'AUTH_FAILED'],
    ],
  );

  const big = await wsLink([hello(), new Uint8Array(DATA_LINK_WS_MESSAGE_MAX_BYTES + 1)], 1);
  assert.equal(big.closeCode, 1009);
  assert.deepEqual(big.replies, []);

  // A prefix announcing a header far over the limit: an error reply, then the link closes.
  const broken = await wsLink([hello(), new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8])], 2);
  assert.deepEqual(
    broken.replies.map((m) => [m.type, m.code]),
    [['error', 'PROTOCOL_ERROR']],
  );
  assert.notEqual(broken.closeCode, undefined);

  // A frame may span messages: a hello cut in two still counts, and the refusal after it comes.
  const hi = hello();
  const split = await wsLink(
    [hi.subarray(0, 5), hi.subarray(5), frame({ type: 'get-data', id: 7, keys: [SECRET_KEY] })],
    1,
  );
  assert.deepEqual(
    split.replies.map((m) => [m.code, m.replyTo]),
    [['AUTH_FAILED', 7]],
  );
});

test('a plain HTTP request gets 426; the worker still serves its peers and clients', async () => {
  const res = await fetch(dataUrl.replace('ws://', 'http://'));
  assert.equal(res.status, 426);
  const values = await victim.gather([
    victim.with({ key: SECRET_KEY }).submit((n) => new Float64Array(n).fill(3), LENGTH),
  ]);
  assert.equal(values[0].length, LENGTH);
});
