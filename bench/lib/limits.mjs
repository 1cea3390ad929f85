// The ceilings of this machine that meshwork's figures are set beside (bench/limits.mjs prints
// them; bench/compare and bench/scale report them next to their own):
// - loopback round trip: a 1-byte TCP ping-pong between two processes, the floor of a per-task
//   round trip (a task finishing on a worker and the next one arriving is at least one);
// - loopback TCP MB/s between two processes: 100 MB written at once, timed to the last byte read;
//   the ceiling of a worker→worker transfer over the direct link;
// - a raw WebRTC data channel Node↔Node (node-datachannel, 64 MiB in 64 KiB messages, the flow
//   control of datalink/src/webrtc): the ceiling of a transfer that involves a browser tab.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import nodeDataChannel from 'node-datachannel';
import { startStunServer } from '@meshwork/server';
import { TOTAL_BYTES, measureRaw, nodeEnd } from './webrtc-raw.mjs';

const PING_PONGS = 5_000;
const TCP_BYTES = 100e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** A child process that connects to `port` and, by `mode`, echoes every byte or sends TCP_BYTES. */
const CHILD_SOURCE = `
const net = require('node:net');
const [port, mode, bytes] = process.argv.slice(1);
const s = net.connect(Number(port), '127.0.0.1', () => {
  s.setNoDelay(true);
  if (mode === 'echo') s.on('data', (d) => s.write(d));
  else s.once('data', () => s.write(Buffer.alloc(Number(bytes), 7)));
});
s.on('error', () => process.exit(0));
s.on('close', () => process.exit(0));
`;

/** Listens on loopback, starts the child in `mode`, resolves with the accepted socket. */
async function withChild(mode) {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise((resolve) => server.once('connection', resolve));
  const child = spawn(process.execPath, ['-e', CHILD_SOURCE, String(server.address().port), mode, String(TCP_BYTES)], {
    stdio: 'ignore',
  });
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
  const { socket, close } = await withChild('echo');
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

/** MB/s (1e6 bytes per second) of TCP_BYTES sent by another process over loopback, median of `runs`. */
export async function loopbackTcpMBps(runs = 3) {
  const rates = [];
  for (let r = 0; r < runs; r++) {
    const { socket, close } = await withChild('send');
    let n = 0;
    const t = performance.now();
    await new Promise((resolve) => {
      socket.on('data', (d) => {
        n += d.length;
        if (n >= TCP_BYTES) resolve();
      });
      socket.write(Buffer.from([1]));
    });
    rates.push(TCP_BYTES / 1e6 / ((performance.now() - t) / 1000));
    await close();
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
