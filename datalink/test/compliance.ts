/**
 * THE compliance suite of the data plane: every link (TCP, WebRTC, the scheduler's relay) runs
 * the same cases through the one session, requester, responder and failover (libp2p's
 * interface-compliance-tests are the model). A link is given as a factory of connected pairs of
 * FrameLinks; `a` asks, `b` serves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PROTOCOL_VERSION, ProtocolError, type Holder } from '@meshwork/protocol';
import { fetchWithFailover } from '../src/failover.js';
import type { FrameLink } from '../src/link.js';
import { PeerSession } from '../src/session.js';

export interface LinkPair {
  /** The asking end. */
  a: FrameLink;
  /** The serving end. */
  b: FrameLink;
  /** Bytes that are no frame at all, written from b's side of the transport to a. */
  garbageToA(): void;
  /** Ends the transport under both (a peer that vanishes without a word). */
  vanish(): void;
}

export interface LinkKind {
  name: string;
  /** A value this large must cross intact, in bytes (a WebRTC channel in user space is slower than TCP). */
  bigBytes: number;
  pair(): Promise<LinkPair>;
}

/** A failure or a reply must arrive within this, in milliseconds (no hang). */
const PROMPT_MS = 5_000;

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const within = (ms = PROMPT_MS): AbortSignal => AbortSignal.timeout(ms);

/** Resolves with the next frame but a hello that `link` receives (replacing its receiver). */
function nextFrame(link: FrameLink): Promise<{ header: Record<string, unknown>; body: Uint8Array }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no frame came')), PROMPT_MS);
    link.receive({
      frame: (header, body) => {
        if ((header as { type?: unknown }).type === 'hello') return; // the serving end's own
        clearTimeout(timer);
        resolve({ header: header as Record<string, unknown>, body });
      },
      closed: (e) => {
        clearTimeout(timer);
        reject(e);
      },
    });
  });
}

/** Resolves once `link` has closed. */
function closedSoon(link: FrameLink): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the link stayed open')), PROMPT_MS);
    const check = setInterval(() => {
      if (!link.closed) return;
      clearInterval(check);
      clearTimeout(timer);
      resolve();
    }, 10);
  });
}

function serve(b: FrameLink, store: Map<string, Uint8Array>): PeerSession {
  return new PeerSession(b, { localId: 'b', peerId: 'a', role: 'both', handler: () => ({ lookup: (k) => store.get(k) }) });
}

function ask(a: FrameLink): PeerSession {
  return new PeerSession(a, { localId: 'a', peerId: 'b', role: 'both' });
}

export function linkCompliance(kind: LinkKind): void {
  const t = (name: string, fn: () => Promise<void>): void => {
    test(`${kind.name}: ${name}`, fn);
  };

  t('a big value crosses intact', async () => {
    const { a, b } = await kind.pair();
    const big = new Uint8Array(kind.bigBytes);
    for (let i = 0; i < big.byteLength; i += 4096) big[i] = (i / 4096) & 255;
    serve(b, new Map([['big', big]]));
    const got = await ask(a).getData(['big'], { signal: within(60_000) });
    assert.equal(sha(got.values.get('big') ?? new Uint8Array()), sha(big));
    a.close();
  });

  t('several keys, one missing, in one request', async () => {
    const { a, b } = await kind.pair();
    serve(b, new Map([['x', new Uint8Array([1])], ['y', new Uint8Array([2, 2])]]));
    const got = await ask(a).getData(['x', 'gone', 'y'], { signal: within() });
    assert.deepEqual([...got.values].map(([k, v]) => [k, v.byteLength]).sort(), [['x', 1], ['y', 2]]);
    assert.deepEqual(got.missing, ['gone']);
    a.close();
  });

  t('a request before hello is refused; the link stays and serves after hello', async () => {
    const { a, b } = await kind.pair();
    serve(b, new Map([['x', new Uint8Array([9])]]));
    const reply = nextFrame(a);
    await a.send({ type: 'get-data', id: 7, keys: ['x'] });
    assert.deepEqual((await reply).header, { type: 'error', code: 'BAD_REQUEST', message: 'send hello first', replyTo: 7 });
    const got = await ask(a).getData(['x'], { signal: within() });
    assert.equal(got.values.get('x')?.[0], 9);
    a.close();
  });

  t('a hello of another protocol version is refused and the link closed', async () => {
    const { a, b } = await kind.pair();
    serve(b, new Map());
    const reply = nextFrame(a);
    await a.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION + 1, from: 'a' });
    assert.equal((await reply).header.code, 'VERSION_MISMATCH');
    await closedSoon(b);
  });

  t('a hello from another peer than the link was opened with is refused and the link closed', async () => {
    const { a, b } = await kind.pair();
    serve(b, new Map([['x', new Uint8Array([1])]]));
    const reply = nextFrame(a);
    await a.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, from: 'mallory' });
    assert.equal((await reply).header.code, 'BAD_REQUEST');
    await closedSoon(b);
  });

  t('a bad header gets an error reply and the link stays', async () => {
    const { a, b } = await kind.pair();
    serve(b, new Map([['x', new Uint8Array([5])]]));
    await a.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, from: 'a' });
    let reply = nextFrame(a);
    await a.send({ type: 'get-data', id: 'not a number', keys: 42 });
    assert.equal((await reply).header.type, 'error');
    reply = nextFrame(a);
    await a.send({ type: 'get-data', id: 2, keys: ['x'] });
    const data = await reply;
    assert.deepEqual([data.header.type, data.header.key, data.body[0]], ['data', 'x', 5], 'still served');
    assert.equal(a.closed || b.closed, false);
    a.close();
  });

  t('broken framing closes the link, and requests in flight fail at once', async () => {
    const { a, b, garbageToA } = await kind.pair();
    const session = ask(a);
    b.receive({ frame: () => {}, closed: () => {} }); // answers nothing: the request stays in flight
    const pending = session.getData(['never'], { signal: within(60_000), timeoutMs: 60_000 });
    garbageToA();
    await assert.rejects(pending, (e: Error) => e instanceof ProtocolError || /frame|closed/i.test(e.message));
    await closedSoon(a);
  });

  t('a silent peer: the request gives up after its quiet time and the link is dropped', async () => {
    const { a, b } = await kind.pair();
    b.receive({ frame: () => {}, closed: () => {} }); // answers nothing
    const session = ask(a);
    await assert.rejects(session.getData(['x'], { signal: within(), timeoutMs: 300 }), /no data from/);
    await closedSoon(a);
  });

  t('a peer that keeps sending but never finishes is cut off by the overall deadline', async () => {
    const { a, b } = await kind.pair();
    // b answers one key every 100 ms: each frame is progress, so only the deadline ends it.
    b.receive({
      frame: (header) => {
        const h = header as { type: string; id: number; keys?: string[] };
        if (h.type !== 'get-data' || !h.keys) return;
        h.keys.forEach((key, i) => setTimeout(() => void b.send({ type: 'data-missing', id: h.id, key }).catch(() => {}), 100 * (i + 1)));
      },
      closed: () => {},
    });
    const session = ask(a);
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
    const holders: Holder[] = [{ id: 'b', address: 'x' }];
    const started = Date.now();
    const r = await fetchWithFailover(holders, keys, { signal: within(10_000) }, (_h, k, o) => session.getData(k, { ...o, timeoutMs: 1_000 }), {
      deadlineMs: () => 700,
    });
    assert.ok(Date.now() - started < 3_000, 'ended by the deadline, not by the last key');
    assert.ok(r.missing.length > 0 && r.values.size === 0);
    a.close();
  });

  t('an abort ends a request at once; the link serves the next one', async () => {
    const { a, b } = await kind.pair();
    serve(b, new Map([['x', new Uint8Array([3])]]));
    const session = ask(a);
    await session.getData(['x'], { signal: within() });
    const ac = new AbortController();
    const pending = session.getData(['x', 'y'], { signal: ac.signal });
    ac.abort(new Error('stop'));
    await assert.rejects(pending, /stop/);
    const next = await session.getData(['x'], { signal: within() });
    assert.equal(next.values.get('x')?.[0], 3);
    a.close();
  });

  t('a peer gone mid-transfer fails the request at once', async () => {
    const { a, b, vanish } = await kind.pair();
    serve(b, new Map([['big', new Uint8Array(kind.bigBytes)]]));
    const session = ask(a);
    const pending = session.getData(['big'], { signal: within(60_000), timeoutMs: 60_000 });
    setTimeout(vanish, 5);
    const started = Date.now();
    await assert.rejects(pending, /closed|gone|failed|reset|ended/i);
    assert.ok(Date.now() - started < PROMPT_MS);
  });
}
