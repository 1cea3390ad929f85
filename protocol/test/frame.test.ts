/** Batches leave in frames of bounded size (encodeFrames), in order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FRAME_TARGET_BYTES,
  MAX_MESSAGES_PER_FRAME,
  WorkerChannel,
  decode,
  encode,
  encodeFrames,
  parseFrame,
  typesOf,
} from '../src/index.js';

const released = (i: number, bytes: number) => ({ type: 'release-keys', keys: [`${i}:`.padEnd(bytes, 'k')] });

test('a small batch is one frame', () => {
  const frames = encodeFrames([released(0, 10), released(1, 10)]);
  assert.equal(frames.length, 1);
  assert.deepEqual(decode(frames[0] as Uint8Array), [released(0, 10), released(1, 10)]);
});

test('a batch over the target leaves in several frames under it, the messages in order', () => {
  const batch = Array.from({ length: 40 }, (_, i) => released(i, 512 * 1024)); // 20 MiB in all
  const frames = encodeFrames(batch);
  assert.ok(frames.length >= 3, `${frames.length} frames`);
  for (const f of frames) assert.ok(f.byteLength <= FRAME_TARGET_BYTES, `a frame of ${f.byteLength} bytes`);
  assert.deepEqual(
    frames.flatMap((f) => decode(f) as unknown[]),
    batch,
  );
});

test('a single message over the target leaves alone, whole', () => {
  const big = released(0, FRAME_TARGET_BYTES + 10);
  const frames = encodeFrames([released(1, 10), big, released(2, 10)]);
  assert.deepEqual(
    frames.flatMap((f) => decode(f) as unknown[]),
    [released(1, 10), big, released(2, 10)],
  );
  assert.ok(frames.some((f) => f.byteLength > FRAME_TARGET_BYTES && (decode(f) as unknown[]).length === 1));
});

test('no frame holds more than MAX_MESSAGES_PER_FRAME messages', () => {
  const batch = Array.from({ length: MAX_MESSAGES_PER_FRAME + 3 }, () => ({ type: 'heartbeat' }));
  const frames = encodeFrames(batch);
  assert.ok(frames.length >= 2);
  for (const f of frames) assert.ok((decode(f) as unknown[]).length <= MAX_MESSAGES_PER_FRAME);
  assert.equal(
    frames.reduce((n, f) => n + (decode(f) as unknown[]).length, 0),
    batch.length,
  );
});

test('a task time must be a finite number of milliseconds: Infinity is refused like a negative one', () => {
  const t = { type: 'task-finished', key: 'k', nbytes: 1, startedAt: 0, stoppedAt: 1, thread: 0 };
  const parse = (m: object) =>
    parseFrame(encode([m]), WorkerChannel.WorkerToServer, typesOf(WorkerChannel.WorkerToServer));
  assert.equal(parse(t).messages.length, 1);
  for (const stoppedAt of [Infinity, -1]) {
    const r = parse({ ...t, stoppedAt });
    assert.equal(r.messages.length, 0, `stoppedAt ${stoppedAt}`);
    assert.match(r.errors[0]?.message ?? '', /stoppedAt/);
  }
});

test('a batch far over the target is encoded about twice, not once per halving', () => {
  const encodings = new Map<number, number>();
  // msgpackr reads every property of an object it encodes: the getter counts each encoding.
  const counted = (i: number) => ({
    type: 'release-keys',
    get keys() {
      encodings.set(i, (encodings.get(i) ?? 0) + 1);
      return [`${i}:`.padEnd(8 * 1024, 'k')];
    },
  });
  const batch = Array.from({ length: 64 }, (_, i) => counted(i)); // 512 KiB: eight times the target
  const target = 64 * 1024;
  const frames = encodeFrames(batch, target);
  for (const f of frames) assert.ok(f.byteLength <= target, `a frame of ${f.byteLength} bytes`);
  assert.deepEqual(
    frames.flatMap((f) => (decode(f) as { keys: string[] }[]).map((m) => m.keys[0]?.slice(0, 3))),
    batch.map((_, i) => `${i}:`.padEnd(3, 'k')),
  );
  assert.ok(
    [...encodings.values()].every((n) => n <= 2),
    `encodings per message: ${[...new Set(encodings.values())].join(', ')}`,
  );
});

test('a target that is no size still sends every message, in order: one a frame', () => {
  const batch = [released(1, 10), released(2, 10), released(3, 10)];
  for (const target of [Number.NaN, 0, -1]) {
    const frames = encodeFrames(batch, target);
    assert.deepEqual(
      frames.flatMap((f) => decode(f) as unknown[]),
      batch,
      `target ${target}`,
    );
  }
});
