// The raw WebRTC measurement shared by bench/webrtc-raw.mjs and bench/peer-transfer.mjs: two ends
// (Node through node-datachannel, or a Chromium page) on one negotiated data channel, without any
// meshwork framing; a 64 MiB blast in 64 KiB messages with the flow control of
// datalink/src/constants.ts. See bench/webrtc-raw.mjs for what is measured and why.
import { RTCPeerConnection as NodeRTCPeerConnection } from 'node-datachannel/polyfill';

/* global window, RTCPeerConnection -- inside page.evaluate callbacks, which run in the page */

export const TOTAL_BYTES = 64 * 1024 * 1024;
export const CHUNK_BYTES = 64 * 1024;
const HIGH_WATER_BYTES = 1024 * 1024;
const LOW_WATER_BYTES = 256 * 1024;
const RUN_TIMEOUT_MS = 120_000;
/** A connect that has not opened after this long counts as failed, in milliseconds. */
const CONNECT_TIMEOUT_MS = 10_000;
export { CHROMIUM_ARGS } from '../../scripts/chromium.mjs';

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
  // the answer is applied (what datalink/src/webrtc/peer-connection.ts does).
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

export const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
export const round = (x) => Math.round(x * 10) / 10;
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
export function nodeEnd(opts, out) {
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
export async function pageEnd(browser, opts, out) {
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

/**
 * Times a 64 MiB blast A→B, `runs` times, each on a fresh connection; resolves with the
 * milliseconds of each transfer, its MiB/s, and each connect time.
 */
export async function measureRaw(name, makeA, makeB, iceServers, runs) {
  const ms = [];
  const connects = [];
  for (let r = 0; r < runs; r++) {
    const { a, b, ms: connectMs } = await connectPair(name, makeA, makeB, peerOptions(iceServers));
    connects.push(connectMs);
    ms.push(await withTimeout(a.blast(), `${name} transfer`));
    await a.close();
    await b.close();
  }
  return { ms, rates: ms.map((t) => TOTAL_BYTES / (1024 * 1024) / (t / 1000)), connects };
}

/** Connect times of each signalling variant, interleaved, `connects` rounds: { variant: { ms[], failed } }. */
export async function measureConnect(name, makeA, makeB, iceServers, connects) {
  const out = Object.fromEntries(Object.keys(VARIANTS).map((v) => [v, { ms: [], failed: 0 }]));
  for (let r = 0; r < connects; r++) {
    for (const [setup, variant] of Object.entries(VARIANTS)) {
      try {
        const { a, b, ms } = await connectPair(name, makeA, makeB, peerOptions(iceServers, variant));
        out[setup].ms.push(ms);
        await a.close();
        await b.close();
      } catch {
        out[setup].failed++;
      }
    }
  }
  return out;
}
