import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { PROTOCOL_VERSION, PeerFrameReader, decodeValue, encodePeerFrame, encodeValue, makeTicket, valueHash, type PeerFrame } from '@meshwork/protocol';
import { TcpPeerFetcher, parseTcpAddress, startDataServer } from '../src/node.js';

/** The stored values a listener serves. */
class Store extends Map<string, Uint8Array> {
  put(key: string, bytes: Uint8Array): void {
    this.set(key, bytes);
  }
}

async function serverWith(entries: Record<string, unknown>) {
  const store = new Store();
  for (const [k, v] of Object.entries(entries)) store.put(k, encodeValue(v).bytes);
  const server = await startDataServer({ host: '127.0.0.1', lookup: (k) => store.get(k) });
  return { store, server };
}

const signal = () => new AbortController().signal;

/** A raw client: writes bytes, collects reply frames. */
function rawClient(address: string) {
  const { host, port } = parseTcpAddress(address);
  const socket: Socket = connect({ host, port });
  const reader = new PeerFrameReader();
  const frames: PeerFrame[] = [];
  const waiters: (() => void)[] = [];
  let ended = false;
  socket.on('data', (c: Buffer) => {
    frames.push(...reader.push(c));
    waiters.splice(0).forEach((w) => w());
  });
  socket.on('close', () => {
    ended = true;
    waiters.splice(0).forEach((w) => w());
  });
  socket.on('error', () => {});
  const next = async (n: number): Promise<PeerFrame[]> => {
    while (frames.length < n && !ended) await new Promise<void>((r) => waiters.push(r));
    return frames.slice(0, n);
  };
  const send = (header: unknown): void => {
    for (const p of encodePeerFrame(header)) socket.write(p);
  };
  return { socket, frames, next, send, get ended() { return ended; }, closed: new Promise<void>((r) => socket.once('close', () => r())) };
}

test('data link: a 100 MB value crosses intact (and its rate is reported)', async (t) => {
  const big = new Float64Array(12_500_000);
  for (let i = 0; i < big.length; i += 1000) big[i] = i;
  const { server } = await serverWith({ big });
  const fetcher = new TcpPeerFetcher({ from: 'test' });
  try {
    // Warm up the connection and the page cache of the VM.
    await fetcher.fetch([{ id: 'a', address: server.address }], ['big'], { signal: signal() });
    const started = performance.now();
    const r = await fetcher.fetch([{ id: 'a', address: server.address }], ['big'], { signal: signal() });
    const ms = performance.now() - started;
    const bytes = r.values.get('big');
    assert.ok(bytes);
    t.diagnostic(`100 MB over the data link: ${ms.toFixed(0)} ms, ${((bytes.byteLength / 1e6) / (ms / 1000)).toFixed(0)} MB/s`);
    const back = decodeValue(bytes) as Float64Array;
    assert.ok(back instanceof Float64Array);
    assert.equal(back.length, big.length);
    assert.equal(back[12_345_000], 12_345_000);
  } finally {
    fetcher.close();
    await server.close();
  }
});

test('data link: several keys, one missing, in one request', async () => {
  const { server } = await serverWith({ a: 1, b: 'two' });
  const fetcher = new TcpPeerFetcher({ from: 'test' });
  try {
    const r = await fetcher.fetch([{ id: 'w1', address: server.address }], ['a', 'nope', 'b'], { signal: signal() });
    assert.equal(decodeValue(r.values.get('a') as Uint8Array), 1);
    assert.equal(decodeValue(r.values.get('b') as Uint8Array), 'two');
    assert.deepEqual(r.missing, [{ key: 'nope', holder: 'w1', absent: true }]);
  } finally {
    fetcher.close();
    await server.close();
  }
});

test('data link: a closed peer fails over to the next holder; a key no one holds comes back missing', async () => {
  const dead = await serverWith({ x: 1 });
  const deadAddress = dead.server.address;
  await dead.server.close();
  const alive = await serverWith({ x: 42 });
  const fetcher = new TcpPeerFetcher({ from: 'test' });
  try {
    const r = await fetcher.fetch([{ id: 'dead', address: deadAddress }, { id: 'alive', address: alive.server.address }], ['x'], { signal: signal() });
    assert.equal(decodeValue(r.values.get('x') as Uint8Array), 42);
    assert.deepEqual(r.missing, []);
    const none = await fetcher.fetch([{ id: 'dead', address: deadAddress }], ['x'], { signal: signal() });
    assert.deepEqual(none.missing, [{ key: 'x', holder: 'dead' }]);
    const nobody = await fetcher.fetch([{ id: 'dead', address: deadAddress }, { id: 'alive', address: alive.server.address }], ['y'], { signal: signal() });
    assert.deepEqual(nobody.missing, [{ key: 'y', holder: 'alive', absent: true }], 'the holder that said data-missing is blamed');
  } finally {
    fetcher.close();
    await alive.server.close();
  }
});

test('data link: a peer that goes away mid-connection fails over (pooled connection dropped)', async () => {
  const first = await serverWith({ k: 'first' });
  const second = await serverWith({ k: 'second' });
  const fetcher = new TcpPeerFetcher({ from: 'test' });
  const holders = [{ id: 'first', address: first.server.address }, { id: 'second', address: second.server.address }];
  try {
    assert.equal(decodeValue((await fetcher.fetch(holders, ['k'], { signal: signal() })).values.get('k') as Uint8Array), 'first');
    await first.server.close();
    assert.equal(decodeValue((await fetcher.fetch(holders, ['k'], { signal: signal() })).values.get('k') as Uint8Array), 'second');
  } finally {
    fetcher.close();
    await second.server.close();
  }
});

test('data link: a stalled peer times out instead of hanging; an abort ends a fetch at once', async () => {
  const sockets: Socket[] = [];
  const silent = createServer((s) => sockets.push(s)); // accepts, never answers
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  const good = await serverWith({ k: 7 });
  const fetcher = new TcpPeerFetcher({ from: 'test', timeoutMs: 200 });
  try {
    const started = Date.now();
    const r = await fetcher.fetch([{ id: 'silent', address: `tcp://127.0.0.1:${port}` }, { id: 'good', address: good.server.address }], ['k'], { signal: signal() });
    assert.equal(decodeValue(r.values.get('k') as Uint8Array), 7);
    assert.ok(Date.now() - started < 2000);
    const ac = new AbortController();
    const pending = new TcpPeerFetcher({ from: 'test' }).fetch([{ id: 'silent', address: `tcp://127.0.0.1:${port}` }], ['k'], { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stop')), 50);
    await assert.rejects(pending, /stop/);
  } finally {
    fetcher.close();
    sockets.forEach((s) => s.destroy());
    silent.close();
    await good.server.close();
  }
});

test('data server: a bad header gets an error reply and the connection stays; broken framing closes it; the server stays up', async () => {
  const { server } = await serverWith({ a: 1 });
  try {
    const c = rawClient(server.address);
    c.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, from: 'raw' });
    c.send({ type: 'get-data', id: 'not-a-number', keys: ['a'] });
    c.send({ type: 'nonsense' });
    c.send({ type: 'get-data', id: 3, keys: ['a'] });
    const [bad, unknown, data] = await c.next(3);
    assert.equal((bad?.header as { code: string }).code, 'PROTOCOL_ERROR');
    assert.equal((unknown?.header as { code: string }).code, 'UNKNOWN_TYPE');
    assert.deepEqual(data?.header, { type: 'data', id: 3, key: 'a', nbytes: data?.body.byteLength });
    assert.equal(decodeValue(data?.body), 1);
    // Garbage: a prefix announcing a header far over the limit.
    c.socket.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8]));
    const replies = await c.next(4);
    assert.equal((replies[3]?.header as { type: string; code: string }).code, 'PROTOCOL_ERROR');
    await c.closed;
    // The server still serves others.
    const fetcher = new TcpPeerFetcher({ from: 'test' });
    const r = await fetcher.fetch([{ id: 'w', address: server.address }], ['a'], { signal: signal() });
    assert.equal(decodeValue(r.values.get('a') as Uint8Array), 1);
    fetcher.close();
  } finally {
    await server.close();
  }
});

test('data server: get-data before hello is refused; a wrong protocol version is refused and closed', async () => {
  const { server } = await serverWith({ a: 1 });
  try {
    const c = rawClient(server.address);
    c.send({ type: 'get-data', id: 1, keys: ['a'] });
    const [first] = await c.next(1);
    assert.deepEqual(first?.header, { type: 'error', code: 'BAD_REQUEST', message: 'send hello first', replyTo: 1 });
    c.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION + 100, from: 'raw' });
    const replies = await c.next(2);
    assert.equal((replies[1]?.header as { code: string }).code, 'VERSION_MISMATCH');
    await c.closed;
  } finally {
    await server.close();
  }
});

test('data server: put-data before hello is refused; without a put handler it is refused; the connection stays', async () => {
  const { server } = await serverWith({ a: 1 });
  try {
    const c = rawClient(server.address);
    const put = (id: number, key: string, body: Uint8Array): void => {
      for (const p of encodePeerFrame({ type: 'put-data', id, key }, body)) c.socket.write(p);
    };
    put(1, 'k', encodeValue(5).bytes);
    c.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, from: 'raw' });
    put(2, 'k', encodeValue(5).bytes);
    c.send({ type: 'get-data', id: 3, keys: ['a'] });
    const [early, refused, data] = await c.next(3);
    assert.deepEqual(early?.header, { type: 'error', code: 'BAD_REQUEST', message: 'send hello first', replyTo: 1 });
    assert.deepEqual(refused?.header, { type: 'error', code: 'BAD_REQUEST', message: 'this peer accepts no put-data', replyTo: 2 });
    assert.equal((data?.header as { type: string }).type, 'data');
    c.socket.destroy();
  } finally {
    await server.close();
  }
});

test('data server: put-data stores through the handler, in order with get-data', async () => {
  const store = new Store();
  const server = await startDataServer({
    host: '127.0.0.1',
    lookup: (k) => store.get(k),
    put: (k, bytes) => (k === 'no' ? { ok: false, message: 'not that one' } : (store.put(k, bytes), { ok: true })),
  });
  try {
    const c = rawClient(server.address);
    c.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, from: 'raw' });
    for (const p of encodePeerFrame({ type: 'put-data', id: 1, key: 'v' }, encodeValue('hello').bytes)) c.socket.write(p);
    c.send({ type: 'get-data', id: 2, keys: ['v'] });
    for (const p of encodePeerFrame({ type: 'put-data', id: 3, key: 'no' }, encodeValue(1).bytes)) c.socket.write(p);
    const [ok, data, no] = await c.next(3);
    assert.deepEqual(ok?.header, { type: 'put-ok', id: 1, key: 'v' });
    assert.equal(decodeValue(data?.body as Uint8Array), 'hello');
    assert.deepEqual(no?.header, { type: 'error', code: 'BAD_REQUEST', message: 'not that one', replyTo: 3 });
    c.socket.destroy();
  } finally {
    await server.close();
  }
});

test("data server: a hello without the data token is a client's: each key needs its ticket, else AUTH_FAILED naming it, nothing served or stored; a peer needs none", async () => {
  const secret = 'the-data-secret';
  const store = new Store();
  store.put('model-weights', encodeValue('weights').bytes);
  store.put('theirs', encodeValue('private').bytes);
  const server = await startDataServer({
    host: '127.0.0.1',
    lookup: (k) => store.get(k),
    put: (k, bytes) => (store.put(k, bytes), { ok: true }),
    token: () => secret,
  });
  const put = (c: ReturnType<typeof rawClient>, id: number, key: string, value: unknown, ticket?: string): void => {
    for (const p of encodePeerFrame({ type: 'put-data', id, key, ...(ticket === undefined ? {} : { ticket }) }, encodeValue(value).bytes)) c.socket.write(p);
  };
  try {
    const c = rawClient(server.address);
    c.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, from: 'client' });
    const forged = makeTicket('a-guessed-secret', 'get', 'theirs');
    c.send({ type: 'get-data', id: 1, keys: ['model-weights', 'theirs', 'nope'], tickets: [makeTicket(secret, 'get', 'model-weights'), forged, makeTicket(secret, 'get', 'nope')] });
    c.send({ type: 'get-data', id: 2, keys: ['theirs'] });
    c.send({ type: 'get-data', id: 3, keys: ['theirs'], tickets: [makeTicket(secret, 'put', 'theirs')] });
    put(c, 4, 'theirs', 'overwritten');
    put(c, 5, 'theirs', 'overwritten', makeTicket(secret, 'get', 'theirs'));
    put(c, 6, 'mine', 'scattered', makeTicket(secret, 'put', 'mine'));
    const frames = await c.next(8);
    const headers = frames.map((f) => f.header as { type: string; key?: string; replyTo?: number; code?: string });
    assert.equal(decodeValue(frames[0]?.body as Uint8Array), 'weights', 'a valid get ticket is served');
    assert.deepEqual(headers.slice(1, 3).map((h) => [h.type, h.code, h.key, h.replyTo]), [['error', 'AUTH_FAILED', 'theirs', 1], ['data-missing', undefined, 'nope', undefined]]);
    assert.deepEqual(headers.slice(3, 7).map((h) => [h.type, h.code, h.key, h.replyTo]), [
      ['error', 'AUTH_FAILED', 'theirs', 2],
      ['error', 'AUTH_FAILED', 'theirs', 3],
      ['error', 'AUTH_FAILED', 'theirs', 4],
      ['error', 'AUTH_FAILED', 'theirs', 5],
    ], 'no ticket, a put ticket to get, none or a get ticket to put: refused');
    assert.deepEqual(headers[7], { type: 'put-ok', id: 6, key: 'mine' });
    assert.equal(headers.filter((h) => h.type === 'data').length, 1, 'no bytes of theirs');
    assert.equal(decodeValue(store.get('theirs') as Uint8Array), 'private', 'not overwritten');
    assert.equal(decodeValue(store.get('mine') as Uint8Array), 'scattered');
    assert.equal(c.ended, false, 'the connection stays open');
    c.socket.destroy();

    const peer = rawClient(server.address);
    peer.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, from: 'w2', token: secret });
    peer.send({ type: 'get-data', id: 1, keys: ['theirs'] });
    const [served] = await peer.next(1);
    assert.equal(decodeValue(served?.body as Uint8Array), 'private', 'a peer with the data token is served any key');
    peer.socket.destroy();

    const wrong = rawClient(server.address);
    wrong.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, from: 'w3', token: 'guess' });
    const [refused] = await wrong.next(1);
    assert.equal((refused?.header as { code?: string }).code, 'AUTH_FAILED');
    await wrong.closed;
  } finally {
    await server.close();
  }
});

test('data link: a value is hashed while it arrives, and the fetch checks it without reading it again', async () => {
  const value = new Uint8Array(20e6);
  for (let i = 0; i < value.byteLength; i += 997) value[i] = i & 255;
  const store = new Store([['v', value]]);
  const server = await startDataServer({ host: '127.0.0.1', lookup: (k) => store.get(k) });
  const hash = await valueHash(value);
  let hashedAfter = 0;
  const digest = async (bytes: Uint8Array) => {
    hashedAfter++;
    return valueHash(bytes);
  };
  const fetcher = new TcpPeerFetcher({ from: 'hasher', digest });
  try {
    const expect = new Map([['v', { nbytes: value.byteLength, hash }]]);
    const got = await fetcher.fetch([{ id: 'w', address: server.address }], ['v'], { signal: AbortSignal.timeout(30_000), expect });
    assert.equal(got.values.get('v')?.byteLength, value.byteLength, 'accepted: the hash computed on arrival matched');
    assert.equal(hashedAfter, 0, 'not hashed again after it arrived');
    const wrong = new Map([['v', { nbytes: value.byteLength, hash: 'ab'.repeat(32) }]]);
    const refused = await fetcher.fetch([{ id: 'w', address: server.address }], ['v'], { signal: AbortSignal.timeout(30_000), expect: wrong });
    assert.equal(refused.values.size, 0, 'a hash that does not match is still refused');
  } finally {
    fetcher.close();
    await server.close();
  }
});
