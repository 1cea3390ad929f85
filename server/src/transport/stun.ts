/**
 * A minimal STUN (RFC 5389) Binding responder on one UDP socket. It answers each Binding Request
 * with a Binding Success Response carrying the sender's address as XOR-MAPPED-ADDRESS (plus
 * FINGERPRINT), with the request's magic cookie and transaction id echoed; anything else (other
 * methods, RFC 3489 requests without the cookie, garbage, packets over STUN_MAX_PACKET_BYTES) is
 * ignored. Browsers learn a server-reflexive candidate from it: on loopback that is what lets two
 * Chromium tabs connect (DESIGN.md, "ICE"). No authentication, no state: one packet in, at most
 * one packet out (at most 52 bytes).
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/** Requests larger than this are ignored unread, in bytes (a Binding Request is 20–~200 bytes). */
export const STUN_MAX_PACKET_BYTES = 1024;
/** Size of the STUN header, in bytes. */
const HEADER_BYTES = 20;
/** Closing the socket gives up waiting after this long, in milliseconds. */
const STUN_CLOSE_TIMEOUT_MS = 2_000;

const MAGIC_COOKIE = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
const ATTR_FINGERPRINT = 0x8028;
const FINGERPRINT_XOR = 0x5354554e;
const FAMILY_IPV4 = 0x01;
const FAMILY_IPV6 = 0x02;

export interface StunServerOptions {
  /** Address to bind, e.g. '127.0.0.1' or '::'. */
  host: string;
  /** UDP port; 0 (the default) for any free one. */
  port?: number;
}

export interface StunServer {
  readonly port: number;
  /** Stops answering; resolves when the socket is closed (or after STUN_CLOSE_TIMEOUT_MS). */
  close(): Promise<void>;
  /** Binding Requests answered so far (for tests and metrics). */
  readonly answered: number;
}

export async function startStunServer(o: StunServerOptions): Promise<StunServer> {
  const socket: Socket = createSocket({ type: isIPv6(o.host) ? 'udp6' : 'udp4' });
  let answered = 0;
  socket.on('message', (packet: Buffer, from: RemoteInfo) => {
    const reply = stunBindingResponse(packet, from.address, from.port);
    if (!reply) return;
    answered++;
    socket.send(reply, from.port, from.address, () => {
      // A failed send (e.g. the sender is gone) is the sender's problem: STUN retransmits.
    });
  });
  // Never crash on a socket error (ICMP unreachable and friends): keep answering.
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(o.port ?? 0, o.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  let closed: Promise<void> | undefined;
  return {
    port: socket.address().port,
    get answered() {
      return answered;
    },
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, STUN_CLOSE_TIMEOUT_MS);
        try {
          socket.close(() => {
            clearTimeout(timer);
            resolve();
          });
        } catch {
          clearTimeout(timer);
          resolve();
        }
      })),
  };
}

/**
 * The Binding Success Response to `packet` seen from `address:port`, or undefined when `packet`
 * is not a well-formed RFC 5389 Binding Request. Pure: exported for tests.
 */
export function stunBindingResponse(packet: Uint8Array, address: string, port: number): Uint8Array | undefined {
  if (packet.byteLength < HEADER_BYTES || packet.byteLength > STUN_MAX_PACKET_BYTES) return undefined;
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const type = view.getUint16(0);
  const length = view.getUint16(2);
  if (type !== BINDING_REQUEST) return undefined; // also rejects the top two bits set (not STUN)
  if (view.getUint32(4) !== MAGIC_COOKIE) return undefined;
  if (length % 4 !== 0 || HEADER_BYTES + length !== packet.byteLength) return undefined;
  const ip = addressBytes(address);
  if (!ip) return undefined;
  const transaction = packet.subarray(8, HEADER_BYTES);

  const xorAddrLength = 4 + ip.byteLength;
  const total = HEADER_BYTES + 4 + xorAddrLength + 8;
  const out = new Uint8Array(total);
  const w = new DataView(out.buffer);
  w.setUint16(0, BINDING_SUCCESS);
  w.setUint16(2, total - HEADER_BYTES);
  w.setUint32(4, MAGIC_COOKIE);
  out.set(transaction, 8);
  // XOR-MAPPED-ADDRESS: port XOR the cookie's top 16 bits, address XOR cookie (+ transaction id for IPv6).
  let at = HEADER_BYTES;
  w.setUint16(at, ATTR_XOR_MAPPED_ADDRESS);
  w.setUint16(at + 2, xorAddrLength);
  w.setUint8(at + 4, 0);
  w.setUint8(at + 5, ip.byteLength === 4 ? FAMILY_IPV4 : FAMILY_IPV6);
  w.setUint16(at + 6, port ^ (MAGIC_COOKIE >>> 16));
  const mask = out.subarray(4, HEADER_BYTES); // cookie followed by transaction id
  for (let i = 0; i < ip.byteLength; i++) out[at + 8 + i] = (ip[i] as number) ^ (mask[i] as number);
  at += 4 + xorAddrLength;
  // FINGERPRINT: CRC-32 of everything before it (the length field already counts it), XOR 'STUN'.
  w.setUint16(at, ATTR_FINGERPRINT);
  w.setUint16(at + 2, 4);
  w.setUint32(at + 4, (crc32(out.subarray(0, at)) ^ FINGERPRINT_XOR) >>> 0);
  return out;
}

/** The 4 or 16 bytes of an IP address as node:dgram reports it, or undefined. */
function addressBytes(address: string): Uint8Array | undefined {
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/i.exec(address);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    return parts.every((p) => p <= 255) ? Uint8Array.from(parts) : undefined;
  }
  if (!isIPv6(address)) return undefined;
  const [head = '', tail = ''] = address.split('%')[0]?.split('::') ?? [];
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = groups(head);
  const right = address.includes('::') ? groups(tail) : [];
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  if (all.length !== 8 || all.some((g) => !(g >= 0 && g <= 0xffff))) return undefined;
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (ISO-HDLC, as FINGERPRINT uses). */
export function crc32(bytes: Uint8Array): number {
  crcTable ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let crc = 0xffffffff;
  for (const b of bytes) crc = (crcTable[(crc ^ b) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
