// Frames for tests/integration/fuzz.test.mjs: valid messages of every type of the client and
// worker channels, and mutations of them (fields dropped, flipped to other types, truncated,
// oversized, deeply nested, unknown types, garbage bytes, MessagePack extension types), all
// drawn from a seeded PRNG so that a failing run can be replayed with FUZZ_SEED.
import {
  MAX_CONTROL_FRAME_BYTES,
  MAX_FUNCTION_SOURCE_LENGTH,
  MAX_KEY_LENGTH,
  MAX_MESSAGES_PER_FRAME,
  PROTOCOL_VERSION,
  encode,
  encodeValue,
  digestString,
} from '@meshwork/protocol';

/** mulberry32: a small, fast, seedable PRNG. */
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: (xs) => xs[int(xs.length)],
    chance: (p) => next() < p,
    bytes: (n) => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    },
  };
}

const SOURCE = '(x) => x + 1';
const FN_ID = digestString(SOURCE);
/** A fresh object each time: mutations change messages in place. */
const fnSpec = () => ({ id: FN_ID, name: 'fuzzed', source: SOURCE });
const args = encodeValue([1]).bytes;
const hash64 = 'ab'.repeat(32);

/**
 * Where the fuzzer's messages point: keys of real tasks (the victim's, those sent to the fuzzing
 * worker), ids of real workers and of the fuzzing worker itself, and made-up ones.
 */
export class Pool {
  keys = ['fuzz-a', 'fuzz-b'];
  workers = ['worker-none'];
  self = 'worker-self';
  addKey(k) {
    this.keys.push(k);
    if (this.keys.length > 4096) this.keys.shift();
  }
}

/** A valid message of each client → scheduler type. */
function clientMessages(r, pool) {
  const key = () => (r.chance(0.7) ? r.pick(pool.keys) : `fuzz-${r.int(1e6)}`);
  const keys = () => Array.from({ length: r.int(4) }, key);
  const id = r.int(1e6);
  const newKey = `fuzz-${r.int(1e9)}`;
  return {
    hello: { type: 'hello', protocolVersion: PROTOCOL_VERSION, role: 'client', name: 'again' },
    'update-graph': {
      type: 'update-graph',
      fns: [fnSpec()],
      tasks: [
        {
          key: newKey,
          fn: FN_ID,
          args,
          deps: r.chance(0.3) ? [r.pick(pool.keys)] : [],
          priority: r.int(10) - 5,
          retries: r.int(3),
          ...(r.chance(0.2) ? { resources: { gpu: 1 } } : {}),
          ...(r.chance(0.2) ? { workers: [r.pick(pool.workers)], allowOtherWorkers: r.chance(0.5) } : {}),
        },
      ],
      wants: r.chance(0.5) ? [newKey] : [],
    },
    'release-keys': { type: 'release-keys', keys: keys() },
    gather: { type: 'gather', id, keys: keys() },
    cancel: { type: 'cancel', keys: r.chance(0.5) ? [`fuzz-${r.int(1e6)}`] : keys() },
    'scatter-plan': {
      type: 'scatter-plan',
      id,
      items: [{ key: newKey, nbytes: r.int(1000), hash: '0'.repeat(64) }],
      broadcast: r.chance(0.2),
    },
    scattered: {
      type: 'scattered',
      items: [{ key: key(), nbytes: r.int(100), workers: [r.pick(pool.workers)] }],
      wants: [],
    },
    'who-has': { type: 'who-has', id, keys: keys() },
    'missing-data': { type: 'missing-data', key: key(), holder: r.pick(pool.workers) },
    run: { type: 'run', id, fn: fnSpec(), args, workers: [pool.self] },
    upload: { type: 'upload', id, name: `fuzz${r.int(8)}`, source: 'export const x = 1;' },
  };
}

/** A valid message of each worker → scheduler type, many of them semantically hostile. */
function workerMessages(r, pool) {
  const key = () => (r.chance(0.8) ? r.pick(pool.keys) : `fuzz-${r.int(1e6)}`);
  const t = Date.now();
  const worker = () => (r.chance(0.3) ? pool.self : r.pick(pool.workers));
  return {
    signal: { type: 'signal', to: pool.self, payload: { kind: 'request-offer' } },
    relay: {
      type: 'relay',
      to: r.chance(0.5) ? pool.self : `worker-${r.int(100)}`,
      ack: r.int(100),
      ...(r.chance(0.3) ? { close: true } : {}),
    },
    hello: {
      type: 'hello',
      protocolVersion: PROTOCOL_VERSION,
      role: 'worker',
      kind: 'node',
      threads: 1,
      memoryLimit: null,
      resources: {},
      dataAddress: null,
      agent: 'fuzz',
    },
    'task-finished': {
      type: 'task-finished',
      key: key(),
      nbytes: r.pick([0, 9, Number.MAX_SAFE_INTEGER, 2 ** 40]),
      value: encodeValue(r.int(100)).bytes,
      startedAt: t,
      stoppedAt: t + r.int(10),
      thread: r.int(4),
      ...(r.chance(0.3) ? { hash: hash64 } : {}),
    },
    'task-erred': {
      type: 'task-erred',
      key: key(),
      error: { code: 'REMOTE_ERROR', name: 'Error', message: 'fuzzed' },
      startedAt: t,
      stoppedAt: t,
      thread: 0,
    },
    heartbeat: {
      type: 'heartbeat',
      memoryUsed: r.pick([0, 1, 2 ** 40, Number.MAX_SAFE_INTEGER]),
      traffic: Array.from({ length: r.int(4) }, () => ({
        peer: worker(),
        path: r.pick(['tcp', 'webrtc', 'relay']),
        bytesSent: r.pick([0, 1, Number.MAX_SAFE_INTEGER]),
        bytesReceived: r.pick([0, 5, Number.MAX_SAFE_INTEGER]),
      })),
    },
    'dep-missing': { type: 'dep-missing', key: key(), dep: key(), holder: worker() },
    'task-seceded': { type: 'task-seceded', key: key() },
    'task-rejoined': { type: 'task-rejoined', key: key() },
    'run-result': { type: 'run-result', id: r.int(20), value: encodeValue(1).bytes },
    'steal-response': { type: 'steal-response', key: key(), ok: r.chance(0.5) },
    acquired: {
      type: 'acquired',
      id: r.int(20),
      items: [{ key: key(), nbytes: r.int(100) }],
      missing: [{ key: key(), ...(r.chance(0.5) ? { holder: worker() } : {}) }],
    },
  };
}

/** Values of every kind a field should not hold. */
function wrongValue(r) {
  switch (r.int(22)) {
    case 0:
      return null;
    case 1:
      return undefined;
    case 2:
      return NaN;
    case 3:
      return Infinity;
    case 4:
      return -Infinity;
    case 5:
      return -1;
    case 6:
      return -r.int(1e9) - 0.5;
    case 7:
      return 1e308;
    case 8:
      return 2 ** 64;
    case 9:
      return r.chance(0.5) ? 'x'.repeat(MAX_KEY_LENGTH + 1) : 'y'.repeat(r.int(20_000));
    case 10:
      return '';
    case 11:
      return true;
    case 12:
      return {};
    case 13:
      return [];
    case 14:
      return Array.from({ length: r.chance(0.9) ? 1000 : 100_000 }, (_, i) => i);
    case 15:
      return nest(r.pick([100, 1000]));
    case 16:
      return r.bytes(r.int(64));
    case 17:
      return new Map([[1, 2]]);
    case 18:
      return new Date(r.int(1e12));
    case 19:
      return BigInt(r.int(1e9)) * 10n ** 20n;
    case 20:
      return new Float64Array(r.int(16));
    default:
      return { type: 'nested', deeper: { than: [1, 'two', null] } };
  }
}

function nest(depth) {
  let v = 0;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** Mutates one field somewhere in a message (in place). */
function mutateMessage(r, m) {
  const paths = [];
  const walk = (obj, depth) => {
    if (
      depth > 3 ||
      obj === null ||
      typeof obj !== 'object' ||
      ArrayBuffer.isView(obj) ||
      obj instanceof Map ||
      obj instanceof Date
    )
      return;
    for (const k of Object.keys(obj)) {
      paths.push([obj, k]);
      walk(obj[k], depth + 1);
    }
  };
  walk(m, 0);
  const [obj, k] = r.pick(paths);
  switch (r.int(8)) {
    case 0:
      delete obj[k];
      return 'dropped ' + k;
    case 1:
      obj[k] = wrongValue(r);
      return 'wrong value at ' + k;
    case 2:
      m.type = r.pick(['launch-missiles', '', 'HELLO', 'welcome', 'error', 'compute-task', 'x'.repeat(10_000)]);
      return 'unknown type';
    case 3:
      m.type = r.pick([7, null, ['gather'], { t: 1 }]);
      return 'type of wrong type';
    case 4:
      if (typeof obj[k] === 'string') obj[k] = 'k'.repeat(r.pick([MAX_KEY_LENGTH, MAX_KEY_LENGTH + 1, 70_000]));
      else obj[k] = r.int(2) ? -r.int(100) : 0.5;
      return 'out of range at ' + k;
    case 5:
      if (Array.isArray(obj[k])) {
        // Up to 300,000 items, but no more than ~8 MB of them: encoding a bigger frame is the
        // test's own time, and past the size limit it would only close the connection.
        const item = obj[k][0] ?? 'k';
        const itemBytes =
          typeof item === 'string' ? item.length + 2 : item instanceof Uint8Array ? item.byteLength + 8 : 256;
        const n = Math.min(r.chance(0.9) ? 5_000 : 300_000, Math.floor(8e6 / itemBytes));
        obj[k] = Array.from({ length: n }, () => item);
      } else obj[k] = [obj[k]];
      return 'huge array at ' + k;
    case 6:
      obj[`extra${r.int(5)}`] = wrongValue(r);
      return 'extra field';
    default:
      obj[k] = nest(r.pick([50, 1000]));
      return 'deep nesting at ' + k;
  }
}

/** A minimal MessagePack writer for frames the codec would not write (extension types). */
const str = (s) => {
  const b = Buffer.from(s);
  return [0xa0 | b.length, ...b];
};
const ext = (type, data) => {
  const t = type & 0xff;
  if (data.length === 1) return [0xd4, t, ...data];
  if (data.length === 2) return [0xd5, t, ...data];
  if (data.length === 4) return [0xd6, t, ...data];
  if (data.length === 8) return [0xd7, t, ...data];
  return [0xc7, data.length, t, ...data];
};

function extFrame(r) {
  const type = r.pick([-1, 0x01, 0x02, 0x42, 0x52, 0x65, 0x69, 0x70, 0x72, 0x73, 0x74, 0x78, r.int(256) - 128]);
  const data = [...r.bytes(r.pick([1, 2, 4, 8, 0, 3, 9, 12, 40]))];
  const value = ext(type, data);
  // Alone in the frame, or in the `id` or `keys` of a who-has.
  if (r.chance(0.3)) return Uint8Array.from([0x91, ...value]);
  if (r.chance(0.5))
    return Uint8Array.from([
      0x91,
      0x83,
      ...str('type'),
      ...str('who-has'),
      ...str('id'),
      ...value,
      ...str('keys'),
      0x90,
    ]);
  return Uint8Array.from([
    0x91,
    0x83,
    ...str('type'),
    ...str('who-has'),
    ...str('id'),
    0x01,
    ...str('keys'),
    0x91,
    ...value,
  ]);
}

/**
 * One fuzzed frame for `channel` ('client' | 'worker'): `{ bytes, what, text?, oversized? }`.
 * `what` says what was done, for the failure message.
 */
export function fuzzFrame(r, channel, pool) {
  // Frames over the size limit close the connection: that is tested on its own (oversizedFrame).
  for (;;) {
    const frame = anyFrame(r, channel, pool);
    if (frame.bytes.byteLength <= MAX_CONTROL_FRAME_BYTES) return frame;
  }
}

function anyFrame(r, channel, pool) {
  const valid = () => {
    const all = channel === 'client' ? clientMessages(r, pool) : workerMessages(r, pool);
    const type = r.pick(Object.keys(all));
    return { type, message: all[type] };
  };
  const roll = r.next();
  if (roll < 0.2) {
    // Valid messages, mostly hostile in meaning (see workerMessages), a few at a time.
    const ms = Array.from({ length: 1 + r.int(3) }, valid);
    return { bytes: encode(ms.map((m) => m.message)), what: `valid ${ms.map((m) => m.type).join(', ')}` };
  }
  if (roll < 0.65) {
    // A valid frame with one message mutated, maybe beside valid ones.
    const { type, message } = valid();
    const how = mutateMessage(r, message);
    const batch = r.chance(0.3) ? [valid().message, message, valid().message] : [message];
    return { bytes: encode(batch), what: `${type}: ${how}` };
  }
  if (roll < 0.75) {
    // The bytes of a valid frame, truncated or with bytes flipped.
    const bytes = encode([valid().message, valid().message]);
    if (r.chance(0.5)) return { bytes: bytes.subarray(0, r.int(bytes.length)), what: 'truncated' };
    const b = Uint8Array.from(bytes);
    for (let i = 0, n = 1 + r.int(4); i < n; i++) b[r.int(b.length)] = r.int(256);
    return { bytes: b, what: 'flipped bytes' };
  }
  if (roll < 0.82) return { bytes: r.bytes(r.int(r.chance(0.9) ? 64 : 100_000)), what: 'garbage bytes' };
  if (roll < 0.89) return { bytes: extFrame(r), what: 'extension type' };
  if (roll < 0.003) return r.pick(big());
  if (roll < 0.93) {
    const shapes = [{ type: 'who-has', id: 1, keys: [] }, 'who-has', 42, null, new Map(), [[1, 2]], nest(1000), []];
    const v = r.pick(shapes);
    return { bytes: encode(v), what: 'frame of another shape' };
  }
  if (roll < 0.95) {
    // Deep nesting written by hand: deeper than the codec's own writer would go.
    return { bytes: Uint8Array.from({ length: 1001 }, (_, i) => (i < 1000 ? 0x91 : 0xc0)), what: 'nesting 1000 deep' };
  }
  if (roll < 0.97) return { bytes: encode(['x', 1, null, { no: 'type' }]), what: 'messages that are not objects' };
  if (roll < 0.98)
    return {
      bytes: encode(Array.from({ length: 500 }, () => ({ type: 'nope' }))),
      what: '500 messages of an unknown type',
    };
  return { bytes: Buffer.from(JSON.stringify([valid().message])), what: 'a text frame', text: true };
}

/** Large frames, made once (encoding them is the slow part): sent now and then, as they are. */
let bigFrames;
function big() {
  bigFrames ??= [
    {
      bytes: Uint8Array.from({ length: 100_001 }, (_, i) => (i < 100_000 ? 0x91 : 0xc0)),
      what: 'nesting 100,000 deep',
    },
    {
      bytes: encode(Array.from({ length: MAX_MESSAGES_PER_FRAME + 1 }, () => ({ type: 'nope' }))),
      what: 'a frame of too many messages',
    },
    {
      bytes: encode([{ type: 'upload', id: 1, name: 'big', source: 's'.repeat(MAX_FUNCTION_SOURCE_LENGTH) }]),
      what: 'an upload of 1 MiB',
    },
    {
      bytes: encode([{ type: 'upload', id: 1, name: 'big', source: 's'.repeat(5_000_000) }]),
      what: 'an upload over the limit',
    },
    {
      bytes: encode([{ type: 'who-has', id: 1, keys: Array.from({ length: 100_000 }, (_, i) => `k${i}`) }]),
      what: 'who-has of 100,000 keys',
    },
  ];
  return bigFrames;
}

/** A frame one byte over the limit: the scheduler closes the connection at its header. */
export function oversizedFrame() {
  return new Uint8Array(MAX_CONTROL_FRAME_BYTES + 1);
}
