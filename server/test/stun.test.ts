import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { crc32, startStunServer, stunBindingResponse } from '../src/transport/stun.js';

const COOKIE = 0x2112a442;
const REPLY_WAIT_MS = 300;

function bindingRequest(transaction: Uint8Array, attributes = new Uint8Array(0)): Buffer {
  const out = Buffer.alloc(20 + attributes.byteLength);
  out.writeUInt16BE(0x0001, 0);
  out.writeUInt16BE(attributes.byteLength, 2);
  out.writeUInt32BE(COOKIE, 4);
  out.set(transaction, 8);
  out.set(attributes, 20);
  return out;
}

/** Decodes XOR-MAPPED-ADDRESS of an IPv4 response and checks the fingerprint. */
function readResponse(reply: Uint8Array, transaction: Uint8Array): { address: string; port: number } {
  const b = Buffer.from(reply);
  assert.equal(b.readUInt16BE(0), 0x0101, 'Binding Success Response');
  assert.equal(b.readUInt16BE(2), b.byteLength - 20, 'length field');
  assert.equal(b.readUInt32BE(4), COOKIE, 'magic cookie echoed');
  assert.deepEqual(b.subarray(8, 20), Buffer.from(transaction), 'transaction id echoed');
  assert.equal(b.readUInt16BE(20), 0x0020, 'XOR-MAPPED-ADDRESS first');
  assert.equal(b.readUInt8(25), 0x01, 'IPv4');
  const port = b.readUInt16BE(26) ^ (COOKIE >>> 16);
  const ip = (b.readUInt32BE(28) ^ COOKIE) >>> 0;
  const address = [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.');
  assert.equal(b.readUInt16BE(32), 0x8028, 'FINGERPRINT last');
  assert.equal(b.readUInt32BE(36), (crc32(b.subarray(0, 32)) ^ 0x5354554e) >>> 0);
  return { address, port };
}

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('a hand-built Binding Request gets XOR-MAPPED-ADDRESS with cookie and transaction echoed', () => {
  const tx = randomBytes(12);
  const reply = stunBindingResponse(bindingRequest(tx), '192.168.1.20', 54321);
  assert.ok(reply);
  assert.deepEqual(readResponse(reply, tx), { address: '192.168.1.20', port: 54321 });
  // Attributes in the request (e.g. SOFTWARE) do not matter.
  const withAttr = stunBindingResponse(
    bindingRequest(tx, new Uint8Array([0x80, 0x22, 0, 4, 1, 2, 3, 4])),
    '10.0.0.1',
    1,
  );
  assert.ok(withAttr);
  const ipv6 = stunBindingResponse(bindingRequest(tx), '::1', 3478);
  assert.ok(ipv6);
  assert.equal(ipv6.byteLength, 20 + 24 + 8);
});

test('anything but a well-formed Binding Request is ignored', () => {
  const tx = randomBytes(12);
  const good = bindingRequest(tx);
  const cases: Uint8Array[] = [
    new Uint8Array(0),
    good.subarray(0, 19),
    randomBytes(20),
    randomBytes(2000),
    Buffer.concat([good, Buffer.alloc(2)]), // length field disagrees with the packet
  ];
  const noCookie = Buffer.from(good);
  noCookie.writeUInt32BE(0, 4);
  const indication = Buffer.from(good);
  indication.writeUInt16BE(0x0011, 0);
  const response = Buffer.from(good);
  response.writeUInt16BE(0x0101, 0);
  const huge = bindingRequest(tx, new Uint8Array(1100));
  cases.push(noCookie, indication, response, huge);
  for (const c of cases) assert.equal(stunBindingResponse(c, '127.0.0.1', 1), undefined);
  for (let i = 0; i < 2000; i++) stunBindingResponse(randomBytes(i % 64), '127.0.0.1', 1); // never throws
});

test('the UDP responder answers requests, survives garbage, and closes', async () => {
  const stun = await startStunServer({ host: '127.0.0.1' });
  const client: Socket = createSocket('udp4');
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
  const replies: Buffer[] = [];
  client.on('message', (m) => replies.push(m));
  const send = (b: Uint8Array): Promise<void> => new Promise((r) => client.send(b, stun.port, '127.0.0.1', () => r()));
  const waitFor = async (n: number): Promise<void> => {
    const until = Date.now() + REPLY_WAIT_MS * 10;
    while (replies.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  };
  try {
    for (const junk of [randomBytes(1), randomBytes(20), randomBytes(1500), Buffer.alloc(0)]) await send(junk);
    const tx = randomBytes(12);
    await send(bindingRequest(tx));
    await waitFor(1);
    assert.equal(replies.length, 1, 'only the Binding Request is answered');
    assert.deepEqual(readResponse(replies[0]!, tx), { address: '127.0.0.1', port: client.address().port });
    const tx2 = randomBytes(12);
    await send(bindingRequest(tx2));
    await waitFor(2);
    assert.equal(stun.answered, 2);
    readResponse(replies[1]!, tx2);
  } finally {
    client.close();
    await stun.close();
    await stun.close(); // idempotent
  }
});
