// Ceiling of a raw WebRTC data channel, without any meshwork framing:
//
//   node bench/webrtc-raw.mjs [node-node] [node-chromium] [chromium-chromium] [connect]   (default: all)
//
// One JSON line per pair: MiB/s to send 64 MiB in 64 KiB messages (high water 1 MiB, resume on
// `bufferedamountlow` at 256 KiB, the settings of datalink/src/constants.ts), timed at the
// sender from the first send to the receiver's 1-byte acknowledgement; median of RUNS runs on one
// connection per run, plus the connect time (offer to channel open). Node uses node-datachannel
// (bound to 127.0.0.1); Chromium is Debian's /usr/bin/chromium, headless, through Playwright; the
// STUN responder of server/src/transport/stun.ts is the only ICE server (Chromium needs it on
// loopback). Needs `npx tsc -b` first (it loads server/dist).
//
// Signalling is done as datalink/src/webrtc/peer-connection.ts does it (standard `actpass` offer;
// the offerer's candidates held until the answer is applied). `connect` times CONNECTS connections
// per pair with that (`ours`), without the hold (`no-hold`), and with an `a=setup:active` offer
// (`setup-active`), counting connects over 900 ms (DTLS retransmitting a dropped ClientHello after
// 1 s) and failed ones.
import { chromium } from '@playwright/test';
import nodeDataChannel from 'node-datachannel';
import { startStunServer } from '../server/dist/transport/stun.js';
import { CHROMIUM_PATH } from '../scripts/chromium.mjs';
import {
  CHROMIUM_ARGS,
  CHUNK_BYTES,
  TOTAL_BYTES,
  measureConnect,
  measureRaw,
  median,
  nodeEnd,
  pageEnd,
  round,
} from './lib/webrtc-raw.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CONNECTS = Number(process.env.BENCH_CONNECTS ?? 12);
/** A connect slower than this counts as stalled, in milliseconds. */
const STALL_MS = 900;

async function measure(name, makeA, makeB) {
  const { rates, connects } = await measureRaw(name, makeA, makeB, iceServers, RUNS);
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

async function connectTimes(name, makeA, makeB) {
  const results = await measureConnect(name, makeA, makeB, iceServers, CONNECTS);
  for (const [setup, { ms, failed }] of Object.entries(results)) {
    console.log(
      JSON.stringify({
        bench: 'webrtc-connect',
        pair: name,
        signalling: setup,
        unit: 'ms',
        median: round(median(ms)),
        over900ms: ms.filter((x) => x > STALL_MS).length,
        failed,
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
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  }
  if (wanted('node-node')) await measure('node-node', node, node);
  if (wanted('node-chromium')) {
    await measure('node-chromium', node, page);
    await measure('chromium-node', page, node);
  }
  if (wanted('chromium-chromium')) await measure('chromium-chromium', page, page);
  if (wanted('connect')) {
    await connectTimes('node-node', node, node);
    await connectTimes('node-chromium', node, page);
    await connectTimes('chromium-node', page, node);
    await connectTimes('chromium-chromium', page, page);
  }
} finally {
  await browser?.close();
  await stun.close();
  nodeDataChannel.cleanup();
}
