/**
 * The value hash (BLAKE3) of arriving values on a thread of its own, while the socket keeps reading.
 *
 * A fetched value is checked against its producer's hash. Hashed on the thread that reads the
 * socket, every chunk waited for its hash before the next read: a 100 MB fetch spent ~55 of its
 * ~120 ms hashing (with SHA-256, then the value hash, at ~1.8 GB/s), and the same fetch unhashed
 * ran ~1,500 MB/s against ~850. Bodies in shared memory (a Node worker's) are hashed here instead: the reading
 * thread hands over each arrived range (no copy; ranges are coalesced to HASH_BATCH_BYTES, so a
 * 100 MB value is ~25 messages) and asks for the digest after the last byte.
 *
 * Any other body, or every body once the thread has failed (or where the native BLAKE3 cannot
 * load), is hashed where it arrives. A digest the thread cannot give (it died) is computed again
 * from the body itself.
 */
import { Worker } from 'node:worker_threads';
import type { IncrementalHash } from '../fetch.js';
import { blake3Hasher, nativeBlake3Path, nodeValueHash } from '../blake3.node.js';

/** Arrived bytes handed to the hashing thread at once (fewer messages; the tail waits at most this). */
export const HASH_BATCH_BYTES = 4 * 1024 * 1024;
/** Smaller bodies are hashed where they arrive: a round trip to the thread costs more than their hash. */
export const HASH_THREAD_MIN_BYTES = 1024 * 1024;

type ToThread =
  | { op: 'update'; id: number; buffer: SharedArrayBuffer; offset: number; length: number }
  | { op: 'digest'; id: number };
type FromThread = { id: number; hex: string };

const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { Blake3Hasher } = require(workerData.native);
const hashes = new Map();
parentPort.on('message', (m) => {
  let h = hashes.get(m.id);
  if (!h) hashes.set(m.id, (h = new Blake3Hasher()));
  if (m.op === 'update') return void h.update(Buffer.from(m.buffer, m.offset, m.length));
  hashes.delete(m.id);
  parentPort.postMessage({ id: m.id, hex: h.digest('hex') });
});
`;

class HashThread {
  private readonly worker: Worker;
  private nextId = 0;
  private readonly waiting = new Map<number, (hex: string | undefined) => void>();
  failed = false;

  constructor(native: string) {
    this.worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { native } });
    this.worker.on('message', (m: FromThread) => {
      const done = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) this.worker.unref();
      done?.(m.hex);
    });
    const fail = (): void => {
      this.failed = true;
      for (const done of this.waiting.values()) done(undefined);
      this.waiting.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', fail);
    // Alive only while a digest is awaited (after the listeners: adding one refs it again).
    this.worker.unref();
  }

  id(): number {
    return this.nextId++;
  }

  post(m: ToThread): void {
    this.worker.postMessage(m);
  }

  /** The digest of hash `id`; undefined if the thread could not give it. */
  digest(id: number): Promise<string | undefined> {
    if (this.failed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker.ref();
      this.post({ op: 'digest', id });
    });
  }
}

let shared: HashThread | undefined;

function thread(): HashThread | undefined {
  if (shared?.failed) return undefined;
  const native = nativeBlake3Path();
  if (native === undefined) return undefined;
  try {
    shared ??= new HashThread(native);
  } catch {
    return undefined;
  }
  return shared;
}

/**
 * An IncrementalHash for a body of `bodyBytes` that hashes it on the hashing thread when it is in
 * shared memory and at least HASH_THREAD_MIN_BYTES. Every body the link hashes arrives as
 * consecutive ranges of one buffer (stream-link.ts), which this relies on.
 */
export function threadedValueHasher(bodyBytes: number): IncrementalHash {
  if (bodyBytes < HASH_THREAD_MIN_BYTES) return blake3Hasher();
  let local: IncrementalHash | undefined;
  let remote: { t: HashThread; id: number } | undefined;
  /** The whole range handed over or pending, and the part not yet handed over. */
  let buffer: SharedArrayBuffer | undefined;
  let start = 0;
  let sent = 0;
  let end = 0;
  const flush = (): void => {
    if (!remote || !buffer || end === sent) return;
    remote.t.post({ op: 'update', id: remote.id, buffer, offset: sent, length: end - sent });
    sent = end;
  };
  return {
    update(bytes) {
      if (bytes.byteLength === 0) return;
      if (!local && !remote) {
        const t = bytes.buffer instanceof SharedArrayBuffer ? thread() : undefined;
        if (t) {
          remote = { t, id: t.id() };
          buffer = bytes.buffer as SharedArrayBuffer;
          start = sent = end = bytes.byteOffset;
        } else local = blake3Hasher();
      }
      if (local) return local.update(bytes);
      if (bytes.buffer !== buffer || bytes.byteOffset !== end)
        throw new Error('threaded hash: ranges must be consecutive in one buffer');
      end += bytes.byteLength;
      if (end - sent >= HASH_BATCH_BYTES) flush();
    },
    digest() {
      if (local) return local.digest();
      if (!remote || !buffer) return blake3Hasher().digest();
      flush();
      const whole = new Uint8Array(buffer, start, end - start);
      return remote.t.digest(remote.id).then((hex) => hex ?? nodeValueHash(whole));
    },
  };
}
