// A slow network on loopback, in user space (for machines whose kernel has no netem): a TCP proxy
// and a UDP forwarder that hold every chunk for a one-way delay in each direction, keeping order,
// and now and then lose one. They stand between volunteers and the cluster in the tests of real
// volunteers (tests/integration/slow-network.test.mjs, tests/e2e/slow-network.spec.ts).
//
// Loss is emulated the way each transport sees it. TCP never shows a loss to the application: the
// lost segment is sent again after a retransmission timeout, and everything behind it waits for it
// (head-of-line blocking), so the TCP proxy holds a "lost" chunk back RETRANSMIT_TIMEOUT_MS more,
// together with everything behind it. UDP does lose datagrams (WebRTC's SCTP resends them), so the
// UDP forwarder drops a "lost" datagram.
//
// Each proxy counts what it carried and the smallest delay any chunk got, so a test can show that
// its traffic really went through it, slowly.
import { createSocket } from 'node:dgram';
import { createServer, connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { seededRandom } from '../integration/chaos-graph.mjs';

/** How long TCP waits before resending a lost segment on a path this short (Linux's minimum RTO), in milliseconds. */
export const RETRANSMIT_TIMEOUT_MS = 200;
/** Bytes a TCP proxy holds per direction before it stops reading from the sender. */
export const MAX_HELD_BYTES = 8 * 1024 * 1024;
/** Clients (source addresses) one UDP forwarder serves at most. */
export const MAX_UDP_CLIENTS = 64;

/** Counters shared by every path of one proxy. */
function newStats() {
  return { connections: 0, chunks: 0, bytes: 0, lost: 0, minDelayMs: Infinity, maxDelayMs: 0 };
}

/**
 * One direction of one path: `push(chunk)` delivers it through `deliver(chunk)` `delayMs` later,
 * never before an earlier chunk. With probability `lossRate` a chunk is lost: `hold` adds
 * `holdMs` to its delay (and so to everything behind it), `drop` discards it.
 */
class DelayLine {
  constructor({ delayMs, lossRate, holdMs, onLoss, random, stats, deliver }) {
    Object.assign(this, { delayMs, lossRate, holdMs, onLoss, random, stats, deliver });
    this.queue = [];
    this.lastDue = 0;
    this.heldBytes = 0;
    this.timer = undefined;
    this.closed = false;
  }

  push(chunk, bytes = chunk.length) {
    if (this.closed) return;
    const now = performance.now();
    let due = now + this.delayMs;
    if (this.random() < this.lossRate) {
      this.stats.lost++;
      if (this.onLoss === 'drop') return;
      due += this.holdMs;
    }
    due = Math.max(due, this.lastDue);
    this.lastDue = due;
    this.heldBytes += bytes;
    this.queue.push({ chunk, bytes, arrived: now, due });
    if (this.queue.length === 1) this.arm();
  }

  arm() {
    const head = this.queue[0];
    if (head === undefined || this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), Math.max(1, Math.ceil(head.due - performance.now())));
  }

  flush() {
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0].due <= now && !this.closed) {
      const { chunk, bytes, arrived } = this.queue.shift();
      this.heldBytes -= bytes;
      if (bytes > 0) {
        const waited = now - arrived;
        this.stats.chunks++;
        this.stats.bytes += bytes;
        this.stats.minDelayMs = Math.min(this.stats.minDelayMs, waited);
        this.stats.maxDelayMs = Math.max(this.stats.maxDelayMs, waited);
      }
      this.deliver(chunk);
    }
    this.arm();
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.queue.length = 0;
  }
}

function lineOptions(o, stats, onLoss) {
  const random = seededRandom(o.seed ?? 1);
  return {
    delayMs: o.delayMs,
    lossRate: o.lossRate ?? 0,
    holdMs: o.retransmitMs ?? RETRANSMIT_TIMEOUT_MS,
    onLoss,
    random,
    stats,
  };
}

function checkDelay(o) {
  if (!(o.delayMs >= 0)) throw new RangeError(`delayMs must be a number of milliseconds >= 0, got ${o.delayMs}`);
  const loss = o.lossRate ?? 0;
  if (!(loss >= 0 && loss < 1)) throw new RangeError(`lossRate must be in [0, 1), got ${o.lossRate}`);
}

/**
 * A TCP proxy on 127.0.0.1 (any free port) to `target()` (`{ host, port }`, or a promise of it,
 * asked per connection: the proxy may listen before its target exists). Every chunk read from
 * either side reaches the other `delayMs` later; see the file comment for loss.
 */
export async function delayingTcpProxy(o) {
  checkDelay(o);
  const stats = newStats();
  const sockets = new Set();
  const lines = new Set();
  const pipe = (from, to, direction) => {
    const line = new DelayLine({
      ...lineOptions({ ...o, seed: (o.seed ?? 1) + stats.connections * 2 + direction }, stats, 'hold'),
      deliver: (chunk) => {
        if (chunk === null) return void to.end();
        to.write(chunk);
        if (line.heldBytes + to.writableLength < MAX_HELD_BYTES) from.resume();
      },
    });
    from.on('data', (chunk) => {
      line.push(chunk);
      if (line.heldBytes + to.writableLength >= MAX_HELD_BYTES) from.pause();
    });
    to.on('drain', () => line.heldBytes < MAX_HELD_BYTES && from.resume());
    from.on('end', () => line.push(null, 0));
    lines.add(line);
    return line;
  };
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, async (downstream) => {
    stats.connections++;
    sockets.add(downstream);
    downstream.on('close', () => sockets.delete(downstream));
    downstream.on('error', () => {});
    let target;
    try {
      target = await o.target();
    } catch {
      return void downstream.destroy();
    }
    const upstream = connect({ port: target.port, host: target.host, allowHalfOpen: true });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    const both = [pipe(downstream, upstream, 0), pipe(upstream, downstream, 1)];
    // An abrupt end of either side ends the other at once (a reset is not delayed).
    const abort = () => {
      for (const l of both) l.close();
      downstream.destroy();
      upstream.destroy();
    };
    upstream.on('error', abort);
    downstream.on('error', abort);
    const closed = (hadError) => {
      if (hadError) abort();
      if (downstream.destroyed && upstream.destroyed) for (const l of both) lines.delete(l);
    };
    upstream.on('close', closed);
    downstream.on('close', closed);
    upstream.once('connect', () => downstream.resume());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    stats,
    close: () =>
      new Promise((resolve) => {
        for (const l of lines) l.close();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A UDP forwarder on 127.0.0.1 (any free port) to `target` (`{ host, port }`): each client (source
 * address) gets a socket of its own towards the target, so replies find their way back. Every
 * datagram in either direction arrives `delayMs` later; a lost one is dropped.
 */
export async function delayingUdpForwarder(o) {
  checkDelay(o);
  const stats = newStats();
  const front = createSocket('udp4');
  /** Per client `address:port`: its socket towards the target and the two delay lines. */
  const clients = new Map();
  const clientOf = (rinfo) => {
    const id = `${rinfo.address}:${rinfo.port}`;
    let c = clients.get(id);
    if (c !== undefined || clients.size >= MAX_UDP_CLIENTS) return c;
    stats.connections++;
    const back = createSocket('udp4');
    back.on('error', () => {});
    const seed = (o.seed ?? 1) + clients.size * 2;
    const up = new DelayLine({
      ...lineOptions({ ...o, seed }, stats, 'drop'),
      deliver: (d) => back.send(d, o.target.port, o.target.host),
    });
    const down = new DelayLine({
      ...lineOptions({ ...o, seed: seed + 1 }, stats, 'drop'),
      deliver: (d) => front.send(d, rinfo.port, rinfo.address),
    });
    back.on('message', (d) => down.push(d));
    back.bind(0, '127.0.0.1');
    c = { back, up, down };
    clients.set(id, c);
    return c;
  };
  front.on('message', (d, rinfo) => clientOf(rinfo)?.up.push(d));
  front.on('error', () => {});
  await new Promise((resolve) => front.bind(0, '127.0.0.1', resolve));
  return {
    port: front.address().port,
    stats,
    close: async () => {
      for (const c of clients.values()) {
        c.up.close();
        c.down.close();
        c.back.close();
      }
      await new Promise((resolve) => front.close(() => resolve()));
    },
  };
}
