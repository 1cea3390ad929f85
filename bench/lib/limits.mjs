// The ceilings of this machine that meshwork's figures are set beside (bench/limits.mjs prints
// them; bench/compare and bench/scale report them next to their own):
// - loopback round trip: a 1-byte TCP ping-pong between two processes, the floor of a per-task
//   round trip (a task finishing on a worker and the next one arriving is at least one);
// - loopback TCP MB/s between two Node processes: 100 MB written at once, timed by the reader from
//   its request to the last byte read; the ceiling of a worker→worker transfer over the direct
//   link. Both run with huge pages, as meshwork's workers do (else fresh memory, not the link, is
//   what is timed);
// - a raw WebRTC data channel Node↔Node (node-datachannel, 64 MiB in 64 KiB messages, the flow
//   control of datalink/src/webrtc): the ceiling of a transfer that involves a browser tab.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import nodeDataChannel from 'node-datachannel';
import { startStunServer } from '@meshwork/server';
import { hugePagesEnv } from '@meshwork/web-worker/node';
import { TOTAL_BYTES, measureRaw, nodeEnd } from './webrtc-raw.mjs';

const PING_PONGS = 5_000;
const TCP_BYTES = 100e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** A child process that connects to `port` and echoes every byte. */
const CHILD_SOURCE = `
const net = require('node:net');
const [port] = process.argv.slice(1);
const s = net.connect(Number(port), '127.0.0.1', () => {
  s.setNoDelay(true);
  s.on('data', (d) => s.write(d));
});
s.on('error', () => process.exit(0));
s.on('close', () => process.exit(0));
`;

/** Listens on loopback, starts the echoing child, resolves with the accepted socket. */
async function withChild() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise((resolve) => server.once('connection', resolve));
  const child = spawn(process.execPath, ['-e', CHILD_SOURCE, String(server.address().port)], { stdio: 'ignore' });
  const socket = await accepted;
  socket.setNoDelay(true);
  const close = async () => {
    socket.destroy();
    await new Promise((resolve) => server.close(resolve));
    if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
  };
  return { socket, close };
}

/** Median microseconds of a 1-byte round trip over loopback TCP between two processes. */
export async function loopbackRttMicros() {
  const { socket, close } = await withChild();
  const times = [];
  const one = Buffer.from([1]);
  for (let i = 0; i < PING_PONGS; i++) {
    const t = process.hrtime.bigint();
    await new Promise((resolve) => {
      socket.once('data', resolve);
      socket.write(one);
    });
    times.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  await close();
  return median(times.slice(100));
}

/** Two processes: `serve` listens, prints its port, and on a byte from its peer writes TCP_BYTES; `read` asks and prints the ms to the last byte. */
const PAIR_SOURCE = `
const net = require('node:net');
const [mode, arg, bytes] = process.argv.slice(1);
if (mode === 'serve') {
  const payload = Buffer.alloc(Number(bytes), 7); // made before the clock starts, as a stored value is
  const server = net.createServer((s) => {
    s.once('data', () => s.write(payload, () => s.end()));
    s.on('close', () => server.close());
  });
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));
} else {
  const s = net.connect(Number(arg), '127.0.0.1', () => {
    let n = 0;
    const t = performance.now();
    s.on('data', (d) => {
      n += d.length;
      if (n >= Number(bytes)) {
        console.log(performance.now() - t);
        s.destroy();
      }
    });
    s.write(Buffer.from([1]));
  });
}
`;

/** Starts one side of PAIR_SOURCE and resolves with the first line it prints. */
function pairSide(mode, arg) {
  const child = spawn(process.execPath, ['-e', PAIR_SOURCE, mode, String(arg), String(TCP_BYTES)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: hugePagesEnv(process.env) ?? process.env,
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`loopback ${mode} side exited (${code}) before answering`)));
  });
}

/** MB/s (1e6 bytes per second) of TCP_BYTES between two other Node processes over loopback, median of `runs`. */
export async function loopbackTcpMBps(runs = 3) {
  const rates = [];
  for (let r = 0; r < runs; r++) {
    const port = await pairSide('serve', 0);
    const ms = Number(await pairSide('read', port));
    rates.push(TCP_BYTES / 1e6 / (ms / 1000));
  }
  return median(rates);
}

/** MB/s of a raw Node↔Node WebRTC data channel, median of `runs` fresh connections. */
export async function rawWebRtcMBps(runs = 3) {
  const stun = await startStunServer({ host: '127.0.0.1' });
  try {
    const { ms } = await measureRaw('node-node', nodeEnd, nodeEnd, [{ urls: `stun:127.0.0.1:${stun.port}` }], runs);
    return median(ms.map((t) => TOTAL_BYTES / 1e6 / (t / 1000)));
  } finally {
    await stun.close();
    nodeDataChannel.cleanup();
  }
}

/** All three, rounded: { rttMicros, tcpMBps, webrtcMBps }. */
export async function measureLimits() {
  const round = (x) => Math.round(x * 10) / 10;
  return {
    rttMicros: round(await loopbackRttMicros()),
    tcpMBps: round(await loopbackTcpMBps()),
    webrtcMBps: round(await rawWebRtcMBps()),
  };
}
