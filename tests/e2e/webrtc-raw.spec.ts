// WebRTC between Node (node-datachannel) and Chromium pages, and between two pages, through the
// same WebRtcTransport code, a tiny WebSocket signalling relay started here, and the scheduler's
// STUN responder as the only ICE server (Chromium on loopback needs its srflx answer).
// Needs the packages built (`npx tsc -b`): the page bundle is made from web-worker/dist.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { expect, test, type Browser, type Page } from '@playwright/test';
import { build } from 'esbuild';
import { WebSocket, WebSocketServer } from 'ws';
import { startStunServer, type StunServer } from '@meshwork/server';
import { WebRtcTransport, parseSignal, type SignalPayload, type Signaller } from '@meshwork/datalink';
import { nodeRtcPeerConnection, shutdownNodeRtc } from '@meshwork/datalink/node';
import type { PagePeers } from './fixtures/webrtc-page.js';

const MiB = 1024 * 1024;
const VALUE_BYTES = 16 * MiB;
/** Largest relayed signalling message, in bytes. */
const RELAY_MAX_PAYLOAD_BYTES = 128 * 1024;
/** Set DEBUG_PEERS=1 to print the transports' log lines (page and Node). */
const DEBUG = !!process.env['DEBUG_PEERS'];
const FIXTURE = fileURLToPath(new URL('./fixtures/webrtc-page.ts', import.meta.url));

let bundle = '';
let http: Server;
let relay: WebSocketServer;
let stun: StunServer;
let baseUrl = '';
let relayUrl = '';
let iceServers: { urls: string }[] = [];
let relayed = 0;
/** Uncaught errors of every page (a throw inside an event listener is otherwise silent). */
const pageErrors: string[] = [];

test.beforeAll(async () => {
  const out = await build({
    entryPoints: [FIXTURE],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'error',
  });
  bundle = out.outputFiles[0]!.text;
  http = createServer((req, res) => {
    if (req.url === '/bundle.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><meta charset="utf-8"><title>peers</title><script type="module" src="/bundle.js"></script>');
  });
  // The relay: `?id=ID` names a socket; `{to, signal}` in, `{from, signal}` out to `to`.
  relay = new WebSocketServer({ server: http, maxPayload: RELAY_MAX_PAYLOAD_BYTES });
  const sockets = new Map<string, WebSocket>();
  relay.on('connection', (ws, req) => {
    const id = new URL(req.url ?? '/', 'http://x').searchParams.get('id') ?? '';
    sockets.set(id, ws);
    ws.on('close', () => sockets.get(id) === ws && sockets.delete(id));
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as { to?: unknown; signal?: unknown };
      const target = typeof msg.to === 'string' ? sockets.get(msg.to) : undefined;
      relayed++;
      target?.send(JSON.stringify({ from: id, signal: msg.signal }));
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const { port } = http.address() as { port: number };
  baseUrl = `http://127.0.0.1:${port}/`;
  relayUrl = `ws://127.0.0.1:${port}/`;
  stun = await startStunServer({ host: '127.0.0.1' });
  iceServers = [{ urls: `stun:127.0.0.1:${stun.port}` }];
});

test.afterAll(async () => {
  relay?.close();
  http?.close();
  await stun?.close();
  shutdownNodeRtc();
});

/** A Node end: a WebRtcTransport (node-datachannel on 127.0.0.1) signalling through the relay. */
async function nodePeer(id: string) {
  const ws = new WebSocket(`${relayUrl}?id=${id}`);
  await new Promise<void>((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  const signaller: Signaller = {
    send: (to, signal: SignalPayload) => ws.send(JSON.stringify({ to, signal })),
    subscribe: (receiver) => {
      const onMessage = (data: Buffer): void => {
        const msg = JSON.parse(data.toString()) as { from?: unknown; signal?: unknown };
        const payload = parseSignal(msg.signal);
        if (typeof msg.from === 'string' && payload) receiver(msg.from, payload);
      };
      ws.on('message', onMessage);
      return () => ws.off('message', onMessage);
    },
  };
  const store = new Map<string, Uint8Array>();
  const transport = new WebRtcTransport({
    localId: id,
    signaller,
    RTCPeerConnection: nodeRtcPeerConnection({ bindAddress: '127.0.0.1' }),
    iceServers,
    ...(DEBUG ? { logger: debugLogger(id) } : {}),
  });
  transport.serve({ lookup: (k) => store.get(k) });
  return { transport, store, close: () => (transport.close(), ws.close()) };
}

function debugLogger(id: string) {
  const line = (message: string, details?: Record<string, unknown>): void =>
    console.log(
      `[${id}] ${message} ${JSON.stringify(details, (_k, v: unknown) => (v instanceof Error ? v.message : v))}`,
    );
  return { debug: line, info: line, warn: line, error: line };
}

async function pagePeer(browser: Browser, id: string): Promise<Page> {
  const page = await browser.newPage();
  if (DEBUG) page.on('console', (m) => console.log(m.text()));
  page.on('pageerror', (e) => pageErrors.push(`${id}: ${e.message}`));
  await page.goto(baseUrl);
  await page.waitForFunction(() => 'meshPeers' in window);
  await page.evaluate((o) => (window as unknown as { meshPeers: PagePeers }).meshPeers.start(o), {
    id,
    relayUrl,
    iceServers,
    debug: DEBUG,
  });
  return page;
}

const peersOf = (page: Page) => ({
  put: (key: string, nbytes: number) =>
    page.evaluate(([k, n]) => (window as unknown as { meshPeers: PagePeers }).meshPeers.put(k, n), [
      key,
      nbytes,
    ] as const),
  fetch: (peer: string, key: string) =>
    page.evaluate(([p, k]) => (window as unknown as { meshPeers: PagePeers }).meshPeers.fetch(p, k), [
      peer,
      key,
    ] as const),
});

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test.afterEach(() => {
  expect(pageErrors.splice(0)).toEqual([]);
});

test('Node and a Chromium page trade 16 MiB each way over one data channel', async ({ browser }) => {
  const node = await nodePeer('node-1');
  const page = await pagePeer(browser, 'page-1');
  try {
    const value = randomBytes(VALUE_BYTES);
    node.store.set('n2p', value);
    // The page (higher id) asks first: it sends request-offer and Node offers.
    const toPage = await peersOf(page).fetch('node-1', 'n2p');
    expect(toPage.nbytes).toBe(VALUE_BYTES);
    expect(toPage.sha256).toBe(sha256(value));

    const pageSha = await peersOf(page).put('p2n', VALUE_BYTES);
    const signal = AbortSignal.timeout(60_000);
    const link = await node.transport.connect({ id: 'page-1' }, { signal });
    const t0 = performance.now();
    const got = await link.getData(['p2n', 'absent'], { signal });
    const ms = performance.now() - t0;
    expect(got.values.get('p2n')?.byteLength).toBe(VALUE_BYTES);
    expect(sha256(got.values.get('p2n')!)).toBe(pageSha);
    expect(got.missing).toEqual(['absent']);
    expect(node.transport.size).toBe(1); // one connection, both directions
    test.info().annotations.push({
      type: 'throughput',
      description: `node→page ${((16 / toPage.ms) * 1000).toFixed(0)} MiB/s (incl. connect), page→node ${((16 / ms) * 1000).toFixed(0)} MiB/s`,
    });
  } finally {
    await page.evaluate(() => (window as unknown as { meshPeers: PagePeers }).meshPeers.close());
    await page.close();
    node.close();
  }
});

test('two Chromium tabs connect to each other and trade 16 MiB each way', async ({ browser }) => {
  const tabA = await pagePeer(browser, 'tab-a');
  const tabB = await pagePeer(browser, 'tab-b');
  try {
    const shaA = await peersOf(tabA).put('from-a', VALUE_BYTES);
    const shaB = await peersOf(tabB).put('from-b', VALUE_BYTES);
    const atB = await peersOf(tabB).fetch('tab-a', 'from-a'); // request-offer path
    expect(atB).toMatchObject({ nbytes: VALUE_BYTES, sha256: shaA });
    const atA = await peersOf(tabA).fetch('tab-b', 'from-b'); // reuses the connection
    expect(atA).toMatchObject({ nbytes: VALUE_BYTES, sha256: shaB });
    expect(relayed).toBeGreaterThan(0);
    test.info().annotations.push({
      type: 'throughput',
      description: `a→b ${((16 / atB.ms) * 1000).toFixed(0)} MiB/s (incl. connect), b→a ${((16 / atA.ms) * 1000).toFixed(0)} MiB/s`,
    });
  } finally {
    for (const tab of [tabA, tabB]) {
      await tab.evaluate(() => (window as unknown as { meshPeers: PagePeers }).meshPeers.close()).catch(() => {});
      await tab.close();
    }
  }
});
