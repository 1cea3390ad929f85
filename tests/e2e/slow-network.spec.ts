// Volunteers far away, in browsers: 2 tabs and a Node worker behind 80 ms of round trip with some
// loss (tests/support/slow-network.mjs emulates it on loopback). The tabs load /join and open
// their WebSocket through a delaying TCP proxy in front of the scheduler, as does the Node worker
// (its TCP data link, which only Node peers use, behind a proxy of its own). Their WebRTC traffic
// may use TURN relay candidates only (`iceTransportPolicy: 'relay'`, as restrictive networks
// force), and the TURN server the scheduler hands out (`extraIceServers`) sits behind a delaying
// UDP forwarder. A mixed tree reduction whose values move tab↔tab and tab↔Node gives the right
// answer; the TURN server and the forwarder show the values crossed them, slowed, and the
// scheduler relayed nothing. The same work on a quiet cluster first gives the figure to compare
// with: logged, never asserted.
import { chromium, expect, test, type Browser, type Page } from '@playwright/test';
import { Client } from '@meshwork/client';
import { LocalCluster, type WorkerInfo } from '@meshwork/server';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../scripts/chromium.mjs';
import { delayingTcpProxy, delayingUdpForwarder, type SlowProxy } from '../support/slow-network.mjs';
import { startTurnServer, type TurnServer } from '../support/turn-server.mjs';
import { startVolunteer } from '../support/volunteer.mjs';
import { make, total } from './fixtures/values.js';
import { clusterState, joinTab, metric } from './fixtures/tabs.js';

/** One-way delay of every path, in milliseconds: 80 ms of round trip to the scheduler and the relay. */
const DELAY_MS = 40;
/** Chance that a chunk is lost: held back a retransmission timeout on TCP, dropped on UDP. */
const LOSS_RATE = 0.01;
/** Float64 elements of each value: 100 kB, about a hundred datagrams per transfer. */
const VALUE_LENGTH = 12_500;
const VALUE_BYTES = VALUE_LENGTH * 8;
/** A bound for a loaded machine (the test takes about 15 s on a quiet one), in milliseconds. */
const TEST_TIMEOUT_MS = 120_000;
const TURN_USER = { username: 'volunteer', credential: 'far-away' };

const add = (a: Float64Array, b: Float64Array): Float64Array => {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) + (b[i] as number);
  return out;
};

let browser: Browser;
const pageErrors: string[] = [];

test.beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
});

test.afterAll(async () => {
  await browser?.close();
});

/**
 * The tree: a on tab 1, b on tab 2, c on the Node worker; a+b on tab 2, b+c on the Node worker,
 * c+a on tab 1; then (a+b)+(b+c) and that plus (c+a) on tab 1, and its total on the Node worker.
 * Values cross tab 1→2, 2→1, tab 2→Node, Node→tab 1 (twice) and tab 1→Node. Resolves with the
 * milliseconds it took.
 */
async function work(client: Client, tab1: string, tab2: string, node: string): Promise<number> {
  const on = (id: string) => client.with({ workers: [id], allowOtherWorkers: false, pure: false });
  const t0 = performance.now();
  const a = on(tab1).submit(make, VALUE_LENGTH, 3);
  const b = on(tab2).submit(make, VALUE_LENGTH, 5);
  const c = on(node).submit(make, VALUE_LENGTH, 7);
  const ab = on(tab2).submit(add, a, b);
  const bc = on(node).submit(add, b, c);
  const ca = on(tab1).submit(add, c, a);
  const top = on(tab1).submit(add, on(tab1).submit(add, ab, bc), ca);
  const answer = await on(node).submit(total, top).result({ timeoutMs: TEST_TIMEOUT_MS });
  const ms = performance.now() - t0;
  const want = 2 * (total(make(VALUE_LENGTH, 3)) + total(make(VALUE_LENGTH, 5)) + total(make(VALUE_LENGTH, 7)));
  expect(answer).toBe(want);
  return ms;
}

interface Run {
  ms: number;
  relayed: number | undefined;
}

/** What makes a run slow: the proxy every connection to the scheduler goes through, and the TURN server. */
interface SlowPaths {
  front: SlowProxy;
  /** Tells `front` where the scheduler listens, once it does. */
  setScheduler(port: number): void;
  iceServers: { urls: string; username: string; credential: string }[];
}

/** Opens /join in a new page (relay candidates only on slow runs) and resolves with the tab's worker. */
async function openTab(url: string, name: string, relayOnly: boolean, pages: Page[]): Promise<WorkerInfo> {
  const page = await browser.newPage();
  pages.push(page);
  if (relayOnly) {
    await page.addInitScript(() => {
      const Native = window.RTCPeerConnection;
      window.RTCPeerConnection = class extends Native {
        constructor(config?: RTCConfiguration) {
          super({ ...config, iceTransportPolicy: 'relay' });
        }
      };
    });
  }
  return joinTab(page, url, `?threads=1&name=${name}`, pageErrors);
}

/**
 * A scheduler, a Node worker and two tabs running `work`; with `slow`, everything reaches the
 * scheduler through `slow.front`, the worker's data link is delayed too, and the tabs' WebRTC
 * goes through the TURN server (relay candidates only).
 */
async function runOn(slow: SlowPaths | undefined): Promise<Run> {
  const origin = slow === undefined ? undefined : `http://127.0.0.1:${slow.front.port}`;
  const cluster = await LocalCluster.start({
    workers: 0,
    allowOrigins: origin === undefined ? [] : [origin],
    extraIceServers: slow?.iceServers ?? [],
  });
  slow?.setScheduler(cluster.scheduler.port);
  const address = origin === undefined ? cluster.address : `ws://127.0.0.1:${slow!.front.port}`;
  const delay = slow === undefined ? undefined : { delayMs: DELAY_MS, lossRate: LOSS_RATE, seed: 11 };
  const pages: Page[] = [];
  // The worker starts while the tabs join (its failure is thrown where it is awaited).
  const starting = startVolunteer({ scheduler: address, name: 'far-node', delay });
  starting.catch(() => {});
  let client: Client | undefined;
  try {
    const url = origin ?? cluster.httpUrl;
    const tabs = await Promise.all(
      ['far-tab-1', 'far-tab-2'].map((name) => openTab(url, name, slow !== undefined, pages)),
    );
    await starting;
    const node = (await clusterState(cluster.httpUrl)).workers.find((w) => w.kind === 'node')!;
    client = await Client.connect(address, { name: 'slow-network-spec' });
    const ms = await work(client, tabs[0]!.id, tabs[1]!.id, node.id);
    // Workers report the bytes they received from peers on their heartbeats: all six went over WebRTC.
    await expect
      .poll(async () => (await metric(cluster.httpUrl, 'meshwork_peer_bytes_total{path="webrtc"}')) ?? 0, {
        timeout: 10_000,
      })
      .toBeGreaterThanOrEqual(6 * VALUE_BYTES);
    const relayed = await metric(cluster.httpUrl, 'meshwork_relayed_bytes_total');
    return { ms, relayed };
  } finally {
    for (const page of pages) await page.close();
    await client?.close();
    await (await starting.catch(() => undefined))?.close();
    await cluster.close();
  }
}

test('tabs and a Node worker behind 80 ms of round trip and loss, their WebRTC through a delayed TURN relay', async () => {
  test.setTimeout(TEST_TIMEOUT_MS);
  const quiet = await runOn(undefined);

  let turn: TurnServer | undefined;
  let udp: SlowProxy | undefined;
  let front: SlowProxy | undefined;
  try {
    turn = await startTurnServer(TURN_USER);
    const delay = { delayMs: DELAY_MS, lossRate: LOSS_RATE };
    udp = await delayingUdpForwarder({ ...delay, seed: 5, target: { host: '127.0.0.1', port: turn.port } });
    let schedulerPort = 0;
    front = await delayingTcpProxy({ ...delay, seed: 3, target: () => ({ host: '127.0.0.1', port: schedulerPort }) });
    const iceServers = [{ urls: `turn:127.0.0.1:${udp.port}?transport=udp`, ...TURN_USER }];
    const slow = await runOn({ front, setScheduler: (port) => (schedulerPort = port), iceServers });
    console.log(
      `slow network: 6 values of ${VALUE_BYTES} B between 2 tabs and a Node worker: ${quiet.ms.toFixed(0)} ms quiet, ` +
        `${slow.ms.toFixed(0)} ms at ${2 * DELAY_MS} ms round trip and ${LOSS_RATE * 100}% loss, WebRTC through TURN ` +
        `(${udp.stats.lost} datagrams dropped, ${front.stats.lost} TCP chunks held back)`,
    );

    // The values went over WebRTC, not through the scheduler…
    expect(slow.relayed, 'nothing went through the scheduler').toBe(0);
    expect(quiet.relayed).toBe(0);
    // …through the TURN server: into tabs a, c, a+b and b+c; out of tabs a, b, a+b and the top…
    expect(turn.stats.fromPeers, 'values into tabs through their relays').toBeGreaterThanOrEqual(4 * VALUE_BYTES);
    expect(turn.stats.toPeers, 'values out of tabs through their relays').toBeGreaterThanOrEqual(4 * VALUE_BYTES);
    // …reached through the delaying forwarder, never quicker than the delay.
    expect(udp.stats.bytes).toBeGreaterThanOrEqual(8 * VALUE_BYTES);
    expect(udp.stats.minDelayMs).toBeGreaterThanOrEqual(DELAY_MS);
    // The tabs' and the worker's connections to the scheduler were delayed too.
    expect(front.stats.connections).toBeGreaterThanOrEqual(4);
    expect(front.stats.minDelayMs).toBeGreaterThanOrEqual(DELAY_MS);
    expect(pageErrors).toEqual([]);
  } finally {
    await front?.close();
    await udp?.close();
    await turn?.close();
  }
});
