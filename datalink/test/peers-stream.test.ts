// ChannelStream against a fake data channel whose buffer drains only when the test says so:
// chunk sizes, the high-water mark, resume on `bufferedamountlow`, the bound on queued frames,
// abort, the stall timeout (and a slow channel that is not stalled), and reassembly on the other end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PeerFrameReader } from '@meshwork/protocol';
import { ChannelStream } from '../src/webrtc/channel-stream.js';
import {
  CHANNEL_HIGH_WATER_BYTES,
  CHANNEL_LOW_WATER_BYTES,
  MAX_QUEUED_SEND_BYTES,
  PEER_CHUNK_BYTES,
} from '../src/constants.js';
import type { RtcDataChannelLike, RtcDataChannelState, RtcEventLike } from '../src/webrtc/rtc-types.js';

type Listener = (e: RtcEventLike & { data: unknown }) => void;

class FakeChannel implements RtcDataChannelLike {
  readonly label = 'fake';
  readyState: RtcDataChannelState = 'open';
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  binaryType = 'blob';
  readonly sent: Uint8Array[] = [];
  /** Largest bufferedAmount seen right after a send. */
  peak = 0;
  private readonly listeners = new Map<string, Listener[]>();
  send(data: Uint8Array): void {
    this.sent.push(data.slice());
    this.bufferedAmount += data.byteLength;
    this.peak = Math.max(this.peak, this.bufferedAmount);
  }
  close(): void {
    this.readyState = 'closed';
  }
  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  emit(type: string, data?: unknown): void {
    for (const l of this.listeners.get(type) ?? []) l({ type, data });
  }
  /** The network takes bytes: bufferedAmount falls, firing bufferedamountlow when it crosses the threshold. */
  drain(bytes = Infinity): void {
    const before = this.bufferedAmount;
    this.bufferedAmount = Math.max(0, this.bufferedAmount - bytes);
    if (before > this.bufferedAmountLowThreshold && this.bufferedAmount <= this.bufferedAmountLowThreshold) {
      this.emit('bufferedamountlow');
    }
  }
}

const tick = () => new Promise((r) => setImmediate(r));

test('frames go out in chunks under the high-water mark and resume on bufferedamountlow', async () => {
  const dc = new FakeChannel();
  const stream = new ChannelStream(dc, { name: 'fake' });
  assert.equal(dc.binaryType, 'arraybuffer');
  assert.equal(dc.bufferedAmountLowThreshold, CHANNEL_LOW_WATER_BYTES);
  const body = randomBytes(5 * 1024 * 1024 + 123);
  let done = false;
  const sending = stream
    .send({ type: 'data', id: 1, key: 'k', nbytes: body.byteLength }, body)
    .then(() => (done = true));
  await tick();
  assert.equal(done, false, 'not all handed over: the channel is above high water');
  assert.ok(dc.bufferedAmount > CHANNEL_HIGH_WATER_BYTES);
  let rounds = 0;
  while (!done && rounds++ < 1000) {
    dc.drain(CHANNEL_HIGH_WATER_BYTES);
    await tick();
  }
  await sending;
  assert.ok(dc.peak <= CHANNEL_HIGH_WATER_BYTES + PEER_CHUNK_BYTES, `peak ${dc.peak}`);
  assert.ok(dc.sent.every((m) => m.byteLength <= PEER_CHUNK_BYTES));
  const reader = new PeerFrameReader();
  const frames = dc.sent.flatMap((m) => reader.push(m));
  assert.equal(frames.length, 1);
  assert.deepEqual(frames[0]!.header, { type: 'data', id: 1, key: 'k', nbytes: body.byteLength });
  assert.ok(Buffer.from(frames[0]!.body).equals(body));
  stream.close();
});

test('small frames are coalesced into few messages, and a smaller maxMessageBytes is honoured', async () => {
  const dc = new FakeChannel();
  dc.bufferedAmount = CHANNEL_HIGH_WATER_BYTES + 1; // hold everything until drained
  const stream = new ChannelStream(dc, { maxMessageBytes: 16 * 1024 });
  const sends = [];
  for (let i = 0; i < 50; i++) sends.push(stream.send({ type: 'get-data', id: i, keys: [`k${i}`] }));
  sends.push(stream.send({ type: 'x' }, new Uint8Array(40_000).fill(7)));
  dc.drain();
  await Promise.all(sends);
  assert.ok(dc.sent.length < 10, `${dc.sent.length} messages for 50 small frames and one 40 kB body`);
  assert.ok(dc.sent.every((m) => m.byteLength <= 16 * 1024));
  const reader = new PeerFrameReader();
  const frames = dc.sent.flatMap((m) => reader.push(m));
  assert.equal(frames.length, 51);
  assert.deepEqual(
    frames.slice(0, 50).map((f) => (f.header as { id: number }).id),
    [...Array(50).keys()],
  );
  assert.equal(frames[50]!.body.byteLength, 40_000);
});

test('the queue is bounded: senders wait for room, abort leaves the queue, close rejects the rest', async () => {
  const dc = new FakeChannel();
  dc.bufferedAmount = CHANNEL_HIGH_WATER_BYTES + 1; // the channel takes nothing
  const stream = new ChannelStream(dc);
  const big = new Uint8Array(MAX_QUEUED_SEND_BYTES / 2);
  const first = stream.send({ type: 'a' }, big);
  const second = stream.send({ type: 'b' }, big.subarray(0, big.byteLength - 1024));
  const ac = new AbortController();
  const third = stream.send({ type: 'c' }, big, { signal: ac.signal });
  await tick();
  assert.ok(stream.queuedBytes <= MAX_QUEUED_SEND_BYTES, `${stream.queuedBytes} bytes queued`);
  ac.abort(new Error('changed my mind'));
  await assert.rejects(third, /changed my mind/);
  const fourth = stream.send({ type: 'd' });
  stream.close(new Error('gone'));
  await assert.rejects(first, /gone/);
  await assert.rejects(second, /gone/);
  await assert.rejects(fourth, /gone/);
  await assert.rejects(stream.send({ type: 'e' }), /gone/);
});

test('a channel that accepts nothing for the stall timeout closes the stream', async () => {
  const dc = new FakeChannel();
  dc.bufferedAmount = CHANNEL_HIGH_WATER_BYTES + 1;
  const stream = new ChannelStream(dc, { stallTimeoutMs: 50 });
  let closedWith: Error | undefined;
  stream.receive({ frame: () => {}, closed: (e) => (closedWith = e) });
  await assert.rejects(
    stream.send({ type: 'a' }, new Uint8Array(10)),
    (e: Error & { code?: string }) => e.code === 'TIMEOUT',
  );
  assert.equal(closedWith?.message.includes('accepted nothing'), true);
  // It says what the channel held and whether the other direction still delivered.
  assert.match(
    closedWith?.message ?? '',
    /\(1048577 bytes buffered, 1 frames \(\d+ bytes\) not fully sent, last bufferedamountlow never \(0 in all\), 0 bytes received meanwhile\)/,
  );
  assert.equal(dc.readyState, 'closed');
});

test('a step of the wall clock does not close a channel still inside its stall window', (t) => {
  t.mock.timers.enable({ apis: ['setInterval', 'Date'] });
  const dc = new FakeChannel();
  dc.bufferedAmount = CHANNEL_HIGH_WATER_BYTES + 1;
  const stream = new ChannelStream(dc, { stallTimeoutMs: 60_000 });
  let closedWith: Error | undefined;
  stream.receive({ frame: () => {}, closed: (e) => (closedWith = e) });
  void stream.send({ type: 'a' }, new Uint8Array(10)).catch(() => {});
  t.mock.timers.setTime(Date.now() + 3_600_000); // the clock stepped an hour ahead (NTP, a VM resumed)
  t.mock.timers.tick(60_000 / 8); // the next check
  assert.equal(closedWith, undefined, 'closed by a clock step, not by a stall');
  stream.close();
});

test('frames queued behind a channel that moves no more do not put off its stall timeout', async () => {
  // A wedged SCTP association: bufferedAmount frozen above the high water while requests keep
  // being queued behind it. Each send used to restart the window, leaving the link open for minutes.
  const stallMs = 200;
  const dc = new FakeChannel();
  dc.bufferedAmount = CHANNEL_HIGH_WATER_BYTES + 1;
  const stream = new ChannelStream(dc, { stallTimeoutMs: stallMs });
  let closedAt: number | undefined;
  stream.receive({ frame: () => {}, closed: () => (closedAt = performance.now()) });
  const started = performance.now();
  const sends: Promise<void>[] = [];
  while (closedAt === undefined && performance.now() - started < stallMs * 10) {
    sends.push(stream.send({ type: 'request' }, new Uint8Array(8)).catch(() => {}));
    await new Promise((r) => setTimeout(r, stallMs / 5));
  }
  const closedWhileSending = closedAt !== undefined;
  stream.close();
  await Promise.all(sends);
  assert.ok(closedWhileSending, 'the frozen channel was closed while frames kept coming, within ten timeouts');
});

test('a channel that drains slowly, short of the low water, stays open until it reaches it', async () => {
  // What a loaded browser does to a Node sender: packets dropped, SCTP backing off, the queue
  // falling one message every few seconds, longer than the stall timeout between the two marks.
  const stallMs = 200;
  const dc = new FakeChannel();
  const stream = new ChannelStream(dc, { stallTimeoutMs: stallMs });
  let closedWith: Error | undefined;
  stream.receive({ frame: () => {}, closed: (e) => (closedWith = e) });
  const body = randomBytes(CHANNEL_HIGH_WATER_BYTES * 2);
  let done = false;
  const sent = stream.send({ type: 'slow' }, body).then(() => (done = true));
  assert.ok(dc.bufferedAmount > CHANNEL_HIGH_WATER_BYTES, 'waiting for bufferedamountlow');
  // One message's worth every quarter of the stall timeout: each stall window sees progress, and
  // the low water is reached only after a dozen windows.
  while (!done && !closedWith) {
    await new Promise((r) => setTimeout(r, stallMs / 4));
    dc.drain(PEER_CHUNK_BYTES);
  }
  assert.equal(closedWith, undefined, 'a channel that keeps taking messages is not stalled');
  await sent;
  assert.ok(stream.bytesSent > body.byteLength, 'the whole frame was handed to the channel');
  stream.close();
});

test('incoming chunks are reassembled; a broken frame or a text message closes the stream', () => {
  const dc = new FakeChannel();
  const stream = new ChannelStream(dc);
  const got: unknown[] = [];
  let closedWith: Error | undefined;
  stream.receive({ frame: (h, b) => got.push([h, b.byteLength]), closed: (e) => (closedWith = e) });
  const src = new FakeChannel();
  const sender = new ChannelStream(src);
  void sender.send({ type: 'x' }, new Uint8Array(200_000));
  for (const m of src.sent) dc.emit('message', m.buffer.slice(m.byteOffset, m.byteOffset + m.byteLength));
  assert.deepEqual(got, [[{ type: 'x' }, 200_000]]);
  dc.emit('message', 'text');
  assert.equal((closedWith as { code?: string } | undefined)?.code, 'PROTOCOL');
  const dc2 = new FakeChannel();
  const s2 = new ChannelStream(dc2);
  let closed2: Error | undefined;
  s2.receive({ frame: () => {}, closed: (e) => (closed2 = e) });
  dc2.emit('message', new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0]).buffer); // header length 0
  assert.match(closed2?.message ?? '', /bad frame/);
});
