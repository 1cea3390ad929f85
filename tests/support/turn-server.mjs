// A minimal TURN server (RFC 8656, UDP only, long-term credentials) on 127.0.0.1, for tests that
// force browser tabs' WebRTC through a relay (`iceTransportPolicy: 'relay'`). It does what
// Chromium's and libjuice's TURN clients ask: Binding, Allocate, Refresh, CreatePermission,
// ChannelBind, Send and Data indications, ChannelData. It counts the bytes it relays, so a test
// can show that values crossed it. No expiry of permissions or allocations (a test is short), no
// IPv6, no TCP/TLS: not for production.
import { createSocket } from 'node:dgram';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const MAGIC = 0x2112a442;
const HEADER_BYTES = 20;
const MESSAGE_INTEGRITY_BYTES = 24; // attribute header + HMAC-SHA1
/** Seconds an allocation is granted (never enforced here). */
const LIFETIME_S = 600;
/** Allocations one server holds at most. */
export const MAX_ALLOCATIONS = 64;

const Method = {
  BINDING: 0x001,
  ALLOCATE: 0x003,
  REFRESH: 0x004,
  SEND: 0x006,
  DATA: 0x007,
  PERMISSION: 0x008,
  CHANNEL_BIND: 0x009,
};
const Class = { REQUEST: 0x000, INDICATION: 0x010, SUCCESS: 0x100, ERROR: 0x110 };
const Attr = {
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  CHANNEL_NUMBER: 0x000c,
  LIFETIME: 0x000d,
  XOR_PEER_ADDRESS: 0x0012,
  DATA: 0x0013,
  REALM: 0x0014,
  NONCE: 0x0015,
  XOR_RELAYED_ADDRESS: 0x0016,
  XOR_MAPPED_ADDRESS: 0x0020,
};

const typeOf = (method, cls) => (method & 0xf) | ((method & 0x70) << 1) | ((method & 0xf80) << 2) | cls;

/** A STUN message, or null when `buf` is none. */
function parse(buf) {
  if (buf.length < HEADER_BYTES || (buf[0] & 0xc0) !== 0 || buf.readUInt32BE(4) !== MAGIC) return null;
  const type = buf.readUInt16BE(0);
  const end = HEADER_BYTES + buf.readUInt16BE(2);
  if (end > buf.length) return null;
  const attrs = [];
  for (let off = HEADER_BYTES; off + 4 <= end;) {
    const length = buf.readUInt16BE(off + 2);
    if (off + 4 + length > end) return null;
    attrs.push({ type: buf.readUInt16BE(off), value: buf.subarray(off + 4, off + 4 + length), offset: off });
    off += 4 + ((length + 3) & ~3);
  }
  const method = (type & 0xf) | ((type >> 1) & 0x70) | ((type >> 2) & 0xf80);
  return { method, cls: type & 0x110, txid: buf.subarray(8, HEADER_BYTES), attrs, buf };
}

const attr = (msg, type) => msg.attrs.find((a) => a.type === type);

function tlv(type, value) {
  const out = Buffer.alloc(4 + ((value.length + 3) & ~3));
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(value.length, 2);
  value.copy(out, 4);
  return out;
}

/** A message of `method`/`cls`; with `key`, signed with MESSAGE-INTEGRITY. */
function encode(method, cls, txid, attrs, key) {
  const body = Buffer.concat(attrs.map(([t, v]) => tlv(t, v)));
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt16BE(typeOf(method, cls), 0);
  header.writeUInt16BE(body.length + (key ? MESSAGE_INTEGRITY_BYTES : 0), 2);
  header.writeUInt32BE(MAGIC, 4);
  txid.copy(header, 8);
  const msg = Buffer.concat([header, body]);
  if (!key) return msg;
  return Buffer.concat([msg, tlv(Attr.MESSAGE_INTEGRITY, createHmac('sha1', key).update(msg).digest())]);
}

function xorAddress({ address, port }) {
  const out = Buffer.alloc(8);
  out[1] = 0x01; // IPv4
  out.writeUInt16BE(port ^ (MAGIC >>> 16), 2);
  const ip = address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
  out.writeUInt32BE((ip ^ MAGIC) >>> 0, 4);
  return out;
}

function readXorAddress(value) {
  if (value === undefined || value.length < 8 || value[1] !== 0x01) return null;
  const ip = (value.readUInt32BE(4) ^ MAGIC) >>> 0;
  return {
    address: [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.'),
    port: value.readUInt16BE(2) ^ (MAGIC >>> 16),
  };
}

/** Whether `msg` carries a MESSAGE-INTEGRITY made with `key` (RFC 8489 §14.5). */
function signedWith(msg, key) {
  const mi = attr(msg, Attr.MESSAGE_INTEGRITY);
  if (mi === undefined || mi.value.length !== 20) return false;
  const signed = Buffer.from(msg.buf.subarray(0, mi.offset));
  signed.writeUInt16BE(mi.offset - HEADER_BYTES + MESSAGE_INTEGRITY_BYTES, 2);
  return timingSafeEqual(createHmac('sha1', key).update(signed).digest(), mi.value);
}

function errorCode(code, reason) {
  const out = Buffer.alloc(4 + Buffer.byteLength(reason));
  out[2] = Math.floor(code / 100);
  out[3] = code % 100;
  out.write(reason, 4);
  return out;
}

/**
 * Starts the server on 127.0.0.1 (any free port). `stats.toPeers` / `stats.fromPeers`: payload
 * bytes relayed from clients to peers and back; `stats.allocations`: allocations made.
 */
export async function startTurnServer({ username, credential, realm = 'meshwork-test' }) {
  const key = createHash('md5').update(`${username}:${realm}:${credential}`).digest();
  const nonce = Buffer.from('meshwork-test-nonce');
  const stats = { allocations: 0, toPeers: 0, fromPeers: 0 };
  const socket = createSocket('udp4');
  /** Per client `address:port`: its relay socket, permitted peer addresses and channels. */
  const allocations = new Map();

  const sendTo = (rinfo, buf) => socket.send(buf, rinfo.port, rinfo.address);

  const allocate = async (rinfo) => {
    const relay = createSocket('udp4');
    const a = { relay, permits: new Set(), channelOf: new Map(), peerOf: new Map(), port: 0 };
    relay.on('error', () => {});
    relay.on('message', (data, peer) => {
      if (!a.permits.has(peer.address)) return;
      stats.fromPeers += data.length;
      const channel = a.channelOf.get(`${peer.address}:${peer.port}`);
      if (channel !== undefined) {
        const head = Buffer.alloc(4);
        head.writeUInt16BE(channel, 0);
        head.writeUInt16BE(data.length, 2);
        return void sendTo(rinfo, Buffer.concat([head, data]));
      }
      const indication = [
        [Attr.XOR_PEER_ADDRESS, xorAddress(peer)],
        [Attr.DATA, data],
      ];
      sendTo(rinfo, encode(Method.DATA, Class.INDICATION, Buffer.alloc(12), indication));
    });
    await new Promise((resolve) => relay.bind(0, '127.0.0.1', resolve));
    a.port = relay.address().port;
    stats.allocations++;
    return a;
  };

  const relayTo = (a, peer, data) => {
    if (a === undefined || peer === null || peer === undefined || !a.permits.has(peer.address)) return;
    stats.toPeers += data.length;
    a.relay.send(data, peer.port, peer.address);
  };

  const onRequest = async (msg, rinfo, id) => {
    const reply = (attrs, signed = true) =>
      sendTo(rinfo, encode(msg.method, Class.SUCCESS, msg.txid, attrs, signed ? key : undefined));
    const fail = (code, reason, attrs = []) =>
      sendTo(rinfo, encode(msg.method, Class.ERROR, msg.txid, [[Attr.ERROR_CODE, errorCode(code, reason)], ...attrs]));
    const mapped = [Attr.XOR_MAPPED_ADDRESS, xorAddress(rinfo)];
    if (msg.method === Method.BINDING) return reply([mapped], false);
    const user = attr(msg, Attr.USERNAME)?.value.toString();
    if (user !== username || !signedWith(msg, key)) {
      return fail(401, 'Unauthorized', [
        [Attr.REALM, Buffer.from(realm)],
        [Attr.NONCE, nonce],
      ]);
    }
    const lifetime = Buffer.alloc(4);
    lifetime.writeUInt32BE(LIFETIME_S);
    let a = allocations.get(id);
    if (msg.method === Method.ALLOCATE) {
      if (a === undefined) {
        if (allocations.size >= MAX_ALLOCATIONS) return fail(486, 'Allocation Quota Reached');
        // A retransmitted Allocate may arrive while the first is being served.
        const pending = allocate(rinfo);
        allocations.set(id, pending);
        a = await pending;
        allocations.set(id, a);
      }
      a = await a;
      return reply([
        [Attr.XOR_RELAYED_ADDRESS, xorAddress({ address: '127.0.0.1', port: a.port })],
        mapped,
        [Attr.LIFETIME, lifetime],
      ]);
    }
    a = await a;
    if (a === undefined) return fail(437, 'Allocation Mismatch');
    switch (msg.method) {
      case Method.REFRESH: {
        const asked = attr(msg, Attr.LIFETIME)?.value;
        if (asked !== undefined && asked.length === 4 && asked.readUInt32BE(0) === 0) {
          allocations.delete(id);
          a.relay.close();
          return reply([[Attr.LIFETIME, asked]]);
        }
        return reply([[Attr.LIFETIME, lifetime]]);
      }
      case Method.PERMISSION:
        for (const p of msg.attrs.filter((x) => x.type === Attr.XOR_PEER_ADDRESS)) {
          const peer = readXorAddress(p.value);
          if (peer === null) return fail(400, 'Bad Request');
          a.permits.add(peer.address);
        }
        return reply([]);
      case Method.CHANNEL_BIND: {
        const channel = attr(msg, Attr.CHANNEL_NUMBER)?.value.readUInt16BE(0);
        const peer = readXorAddress(attr(msg, Attr.XOR_PEER_ADDRESS)?.value);
        if (channel === undefined || channel < 0x4000 || channel > 0x7ffe || peer === null)
          return fail(400, 'Bad Request');
        a.permits.add(peer.address);
        a.channelOf.set(`${peer.address}:${peer.port}`, channel);
        a.peerOf.set(channel, peer);
        return reply([]);
      }
      default:
        return fail(400, 'Bad Request');
    }
  };

  socket.on('message', (buf, rinfo) => {
    const id = `${rinfo.address}:${rinfo.port}`;
    if (buf.length >= 4 && buf[0] >= 0x40 && buf[0] < 0x80) {
      // ChannelData: channel number, length, data.
      const a = allocations.get(id);
      if (a === undefined || a instanceof Promise) return;
      return relayTo(a, a.peerOf.get(buf.readUInt16BE(0)), buf.subarray(4, 4 + buf.readUInt16BE(2)));
    }
    const msg = parse(buf);
    if (msg === null) return;
    if (msg.cls === Class.REQUEST) return void onRequest(msg, rinfo, id).catch(() => {});
    if (msg.cls === Class.INDICATION && msg.method === Method.SEND) {
      const a = allocations.get(id);
      const data = attr(msg, Attr.DATA)?.value;
      if (a instanceof Promise || data === undefined) return;
      relayTo(a, readXorAddress(attr(msg, Attr.XOR_PEER_ADDRESS)?.value), data);
    }
  });
  socket.on('error', () => {});
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    stats,
    close: async () => {
      for (const a of allocations.values()) if (!(a instanceof Promise)) a.relay.close();
      allocations.clear();
      await new Promise((resolve) => socket.close(() => resolve()));
    },
  };
}
