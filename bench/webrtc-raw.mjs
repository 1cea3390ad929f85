// Ceiling of a raw WebRTC data channel, without any meshwork framing:
//
//   node bench/webrtc-raw.mjs [node-node] [node-chromium] [chromium-chromium] [connect]   (default: all)
//
// One JSON line per pair: MiB/s to send 64 MiB in 64 KiB messages (high water 1 MiB, resume on
// `bufferedamountlow` at 256 KiB, the settings of web-worker/src/peers/constants.ts), timed at the
// sender from the first send to the receiver's 1-byte acknowledgement; median of RUNS runs on one
// connection per run, plus the connect time (offer to channel open). Node uses node-datachannel
// (bound to 127.0.0.1); Chromium is Debian's /usr/bin/chromium, headless, through Playwright; the
// STUN responder of server/src/transport/stun.ts is the only ICE server (Chromium needs it on
// loopback). Needs `npx tsc -b` first (it loads server/dist).
//
// Signalling is done as web-worker/src/peers/peer-connection.ts does it (standard `actpass` offer;
// the offerer's candidates held until the answer is applied). `connect` times CONNECTS connections
// per pair with that (`ours`), without the hold (`no-hold`), and with an `a=setup:active` offer
// (`setup-active`), counting connects over 900 ms (DTLS retransmitting a dropped ClientHello after
// 1 s) and failed ones.
/* global window, RTCPeerConnection -- inside page.evaluate callbacks, which run in the page */
import { chromium } from '@playwright/test';
import { RTCPeerConnection as NodeRTCPeerConnection } from 'node-datachannel/polyfill';
import nodeDataChannel from 'node-datachannel';
import { startStunServer } from '../server/dist/transport/stun.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TOTAL_BYTES = 64 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
const HIGH_WATER_BYTES = 1024 * 1024;
const LOW_WATER_BYTES = 256 * 1024;
const RUN_TIMEOUT_MS = 120_000;
const CONNECTS = Number(process.env.BENCH_CONNECTS ?? 12);
/** A connect slower than this counts as stalled, in milliseconds. */
const STALL_MS = 900;
/** A connect that has not opened after this long counts as failed, in milliseconds. */
const CONNECT_TIMEOUT_MS = 10_000;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--allow-loopback-in-peer-connection',
];

/**
 * One end of a raw connection, self-contained (it runs in Node and, as source text, in a page):
 * W3C API only, one negotiated channel, candidates queued until the remote description is set.
 */
function rawPeer(RTCPeerConnection, { iceServers, sendSignal, total, chunk, high, low, dtlsActive, holdCandidates }) {
  const pc = new RTCPeerConnection({ iceServers });
  let dc;
  let remoteSet = false;
  const queued = [];
  let received = 0;
  let onAck;
  let resolveOpen;
  let rejectOpen;
  const opened = new Promise((resolve, reject) => ((resolveOpen = resolve), (rejectOpen = reject)));
  pc.addEventListener('connectionstatechange', () => {
    if (pc.connectionState === 'failed') rejectOpen(new Error('connection failed'));
  });
  let t0 = performance.now();
  const makeChannel = () => {
    dc = pc.createDataChannel('raw', { negotiated: true, id: 0, ordered: true });
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = low;
    dc.onopen = () => resolveOpen(performance.now() - t0);
    dc.onmessage = (e) => {
      const n = e.data.byteLength;
      if (n === 1 && onAck) return onAck();
      received += n;
      if (received === total) {
        received = 0;
        dc.send(new Uint8Array(1));
      }
    };
  };
  // Our own candidates wait for our description; with `holdCandidates` the offerer's wait until
  // the answer is applied (what web-worker/src/peers/peer-connection.ts does).
  const mine = [];
  let mineFree = false;
  const release = () => {
    mineFree = true;
    for (const c of mine.splice(0)) sendSignal(c);
  };
  pc.onicecandidate = (e) => {
    if (!e.candidate || !e.candidate.candidate) return;
    const c = {
      kind: 'candidate',
      candidate: e.candidate.candidate,
      sdpMid: e.candidate.sdpMid,
      sdpMLineIndex: e.candidate.sdpMLineIndex,
    };
    if (mineFree) sendSignal(c);
    else mine.push(c);
  };
  const flush = () => {
    remoteSet = true;
    for (const c of queued.splice(0)) pc.addIceCandidate(c).catch(() => {});
  };
  return {
    opened,
    /** The offerer's side: offer, and time from here to the channel's open. */
    async start() {
      t0 = performance.now();
      makeChannel();
      const o = await pc.createOffer();
      await pc.setLocalDescription(o);
      sendSignal({ kind: 'offer', sdp: dtlsActive ? o.sdp.replace(/a=setup:actpass/g, 'a=setup:active') : o.sdp });
      if (!holdCandidates) release();
    },
    async receive(msg) {
      if (msg.kind === 'offer') {
        await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
        makeChannel();
        flush();
        const a = await pc.createAnswer();
        await pc.setLocalDescription(a);
        sendSignal({ kind: 'answer', sdp: a.sdp });
        release();
      } else if (msg.kind === 'answer') {
        await pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
        flush();
        release();
      } else if (msg.kind === 'candidate') {
        const c = { candidate: msg.candidate, sdpMid: msg.sdpMid, sdpMLineIndex: msg.sdpMLineIndex };
        if (remoteSet) pc.addIceCandidate(c).catch(() => {});
        else queued.push(c);
      }
    },
    /** Sends `total` bytes; resolves with the milliseconds until the receiver acknowledged. */
    blast() {
      const buf = new Uint8Array(total);
      for (let i = 0; i < total; i += 4096) buf[i] = i & 255;
      return new Promise((resolve) => {
        const start = performance.now();
        let sent = 0;
        onAck = () => resolve(performance.now() - start);
        const pump = () => {
          while (sent < total && dc.bufferedAmount <= high) {
            dc.send(buf.subarray(sent, sent + chunk));
            sent += chunk;
          }
        };
        dc.onbufferedamountlow = pump;
        pump();
      });
    },
    close() {
      pc.close();
    },
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const round = (x) => Math.round(x * 10) / 10;
const withTimeout = (p, what, ms = RUN_TIMEOUT_MS) =>
  Promise.race([
    p,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms).unref()),
  ]);

/** How a connection is signalled: ours, and the alternatives `connect` compares it with. */
const VARIANTS = {
  ours: { dtlsActive: false, holdCandidates: true },
  'no-hold': { dtlsActive: false, holdCandidates: false },
  'setup-active': { dtlsActive: true, holdCandidates: true },
};

/** Options every end shares, for one signalling variant. */
const peerOptions = (iceServers, variant = VARIANTS.ours) => ({
  iceServers,
  total: TOTAL_BYTES,
  chunk: CHUNK_BYTES,
  high: HIGH_WATER_BYTES,
  low: LOW_WATER_BYTES,
  ...variant,
});

/** An end in Node: { start, receive, opened, blast, close }, signals delivered on a later turn. */
function nodeEnd(opts, out) {
  const RTC = class extends NodeRTCPeerConnection {
    constructor(c) {
      super({ ...c, bindAddress: '127.0.0.1' });
    }
  };
  const peer = rawPeer(RTC, { ...opts, sendSignal: (m) => setImmediate(() => out(m)) });
  return {
    start: () => peer.start(),
    receive: (m) => peer.receive(m).catch(() => {}), // late signals to a closed connection
    opened: () => peer.opened,
    blast: () => peer.blast(),
    close: () => peer.close(),
  };
}

/** An end in a Chromium page of `browser`. */
async function pageEnd(browser, opts, out) {
  const page = await browser.newPage();
  await page.exposeFunction('sendSignal', (m) => out(m));
  await page.evaluate(
    ({ src, opts }) => {
      const make = new Function(`return (${src})`)();
      window.peer = make(RTCPeerConnection, { ...opts, sendSignal: (m) => window.sendSignal(m) });
    },
    { src: rawPeer.toString(), opts },
  );
  return {
    start: () => page.evaluate(() => window.peer.start()),
    receive: (m) => page.evaluate((msg) => window.peer.receive(msg), m).catch(() => {}), // late signals to a closed page
    opened: () => page.evaluate(() => window.peer.opened),
    blast: () => page.evaluate(() => window.peer.blast()),
    close: () => page.close(),
  };
}

/** Makes both ends, then connects them (A offers); resolves with the ends and A's connect time. */
async function connectPair(name, makeA, makeB, opts) {
  let b;
  const a = await makeA(opts, (m) => b.receive(m));
  b = await makeB(opts, (m) => a.receive(m));
  await a.start();
  try {
    const [ms] = await withTimeout(Promise.all([a.opened(), b.opened()]), `${name} connect`, CONNECT_TIMEOUT_MS);
    return { a, b, ms };
  } catch (e) {
    await a.close();
    await b.close();
    throw e;
  }
}

/** Times a 64 MiB blast A→B, RUNS times, each on a fresh connection. */
async function measure(name, makeA, makeB, iceServers) {
  const rates = [];
  const connects = [];
  for (let r = 0; r < RUNS; r++) {
    const { a, b, ms: connectMs } = await connectPair(name, makeA, makeB, peerOptions(iceServers));
    connects.push(connectMs);
    const ms = await withTimeout(a.blast(), `${name} transfer`);
    rates.push(TOTAL_BYTES / (1024 * 1024) / (ms / 1000));
    await a.close();
    await b.close();
  }
  console.log(
    JSON.stringify({
      bench: 'webrtc-raw',
      pair: name,
      unit: 'MiB/s',
      median: round(median(rates)),
      runs: rates.map(round),
      connectMs: connects.map(round),
      bytes: TOTAL_BYTES,
      chunkBytes: CHUNK_BYTES,
    }),
  );
}

/** Connect times of each signalling variant, interleaved. */
async function measureConnect(name, makeA, makeB, iceServers) {
  const times = Object.fromEntries(Object.keys(VARIANTS).map((v) => [v, []]));
  const failed = Object.fromEntries(Object.keys(VARIANTS).map((v) => [v, 0]));
  for (let r = 0; r < CONNECTS; r++) {
    for (const [setup, variant] of Object.entries(VARIANTS)) {
      try {
        const { a, b, ms } = await connectPair(name, makeA, makeB, peerOptions(iceServers, variant));
        times[setup].push(ms);
        await a.close();
        await b.close();
      } catch {
        failed[setup]++;
      }
    }
  }
  for (const [setup, ms] of Object.entries(times)) {
    console.log(
      JSON.stringify({
        bench: 'webrtc-connect',
        pair: name,
        signalling: setup,
        unit: 'ms',
        median: round(median(ms)),
        over900ms: ms.filter((x) => x > STALL_MS).length,
        failed: failed[setup],
        n: CONNECTS,
        runs: ms.map(round),
      }),
    );
  }
}

const only = process.argv.slice(2);
const wanted = (n) => only.length === 0 || only.includes(n);
const stun = await startStunServer({ host: '127.0.0.1' });
const iceServers = [{ urls: `stun:127.0.0.1:${stun.port}` }];
let browser;
const node = async (opts, out) => nodeEnd(opts, out);
const page = (opts, out) => pageEnd(browser, opts, out);
try {
  if (wanted('node-chromium') || wanted('chromium-chromium') || wanted('connect')) {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true });
  }
  if (wanted('node-node')) await measure('node-node', node, node, iceServers);
  if (wanted('node-chromium')) {
    await measure('node-chromium', node, page, iceServers);
    await measure('chromium-node', page, node, iceServers);
  }
  if (wanted('chromium-chromium')) await measure('chromium-chromium', page, page, iceServers);
  if (wanted('connect')) {
    await measureConnect('node-node', node, node, iceServers);
    await measureConnect('node-chromium', node, page, iceServers);
    await measureConnect('chromium-node', page, node, iceServers);
    await measureConnect('chromium-chromium', page, page, iceServers);
  }
} finally {
  await browser?.close();
  await stun.close();
  nodeDataChannel.cleanup();
}
