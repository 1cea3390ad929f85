// Codec benchmark for the meshwork wire protocol: msgpackr vs cbor-x.
//
//   node bench/codec.mjs [--reps 31] [--warmup 5] [--sample-ms 25]
//
// Prints one JSON line per measurement, e.g.
//   {"bench":"codec","codec":"msgpackr","variant":"maps","case":"f64-1M","op":"encode","ms":1.23,"bytes":8000007}
// `ms` is the median wall time of one operation over `reps` repetitions taken
// after `warmup` untimed repetitions. Small operations are looped inside a
// repetition (`inner`) so that each timed sample lasts at least ~25 ms; a full
// GC runs before each measurement.
// Lines with "op":"check" carry correctness facts (round-trip, copy vs view,
// stateless decoding) rather than timings.

import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { isDeepStrictEqual } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Packr, Unpackr } from "msgpackr";
// cbor-x is not a dependency of meshwork (the decision is made, see docs/codec.md); to re-run
// the comparison: `npm install --no-save cbor-x`.
const { Encoder, Decoder } = await import("cbor-x").catch(() => {
  console.error("bench/codec.mjs compares against cbor-x: run `npm install --no-save cbor-x` first");
  process.exit(2);
});

const args = process.argv.slice(2);
const argNum = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const REPS = Math.max(15, argNum("reps", 31));
const WARMUP = argNum("warmup", 5);
const MIN_SAMPLE_MS = argNum("sample-ms", 25);

// full GC between measurements, so garbage from one case is not collected
// while timing the next
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc");

// ---------------------------------------------------------------------------
// Codec configurations (explicit options; a fresh decoder per configuration).

const CODECS = [
  {
    codec: "msgpackr",
    variant: "maps", // recommended: standard msgpack maps, typed arrays as ext
    options: { moreTypes: true, useRecords: false },
  },
  {
    codec: "msgpackr",
    variant: "records", // msgpackr default record extension (definitions inlined per message)
    options: { moreTypes: true },
  },
  {
    codec: "cbor-x",
    variant: "maps", // recommended: standard CBOR maps, RFC 8746 typed-array tags
    options: { useRecords: false, tagUint8Array: true },
  },
  {
    codec: "cbor-x",
    variant: "records", // cbor-x default record extension (definitions inlined per message)
    options: { tagUint8Array: true },
  },
];

function makeCodec({ codec, options }) {
  if (codec === "msgpackr") {
    const packr = new Packr({ ...options });
    return {
      encode: (v) => packr.pack(v),
      newDecoder: () => {
        const u = new Unpackr({ ...options });
        return (b) => u.unpack(b);
      },
    };
  }
  const enc = new Encoder({ ...options });
  return {
    encode: (v) => enc.encode(v),
    newDecoder: () => {
      const d = new Decoder({ ...options });
      return (b) => d.decode(b);
    },
  };
}

// ---------------------------------------------------------------------------
// Timing helpers.

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

let sink = 0; // defeat dead-code elimination
function measure(fn) {
  gc();
  // untimed warm-up (JIT, buffer growth) before calibrating: >= WARMUP calls and >= 50 ms
  for (
    let n = 0, t0 = performance.now();
    n < WARMUP || performance.now() - t0 < 50;
    n++
  ) {
    sink ^= touch(fn());
  }
  // calibrate the inner loop so that one sample lasts >= MIN_SAMPLE_MS
  let inner = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) sink ^= touch(fn());
    const dt = performance.now() - t0;
    if (dt >= MIN_SAMPLE_MS || inner >= 1 << 20) break;
    inner *= dt > 0 ? Math.min(10, Math.ceil((MIN_SAMPLE_MS * 1.2) / dt)) : 10;
  }
  for (let w = 0; w < WARMUP; w++)
    for (let i = 0; i < inner; i++) sink ^= touch(fn()); // warm-up reps
  gc();
  const samples = [];
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) sink ^= touch(fn());
    samples.push((performance.now() - t0) / inner);
  }
  return {
    ms: median(samples),
    minMs: Math.min(...samples),
    inner,
    reps: REPS,
  };
}
function touch(v) {
  if (v == null) return 0;
  if (typeof v.length === "number") return v.length & 1;
  return 1;
}

function emit(obj) {
  const o = { bench: "codec", ...obj };
  if (typeof o.ms === "number") {
    o.opsPerSec = Math.round(1000 / o.ms);
    o.ms = Number(o.ms.toPrecision(4));
    o.minMs = Number(o.minMs.toPrecision(4));
  }
  process.stdout.write(JSON.stringify(o) + "\n");
}

const bytesOf = (v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
const sameBytes = (a, b) => Buffer.compare(bytesOf(a), bytesOf(b)) === 0;
const sharesInput = (decoded, input) => decoded.buffer === input.buffer;

// Put `encoded` into a fresh ArrayBuffer at `offset`, so alignment of the
// payload inside the input buffer can be controlled.
function placeAt(encoded, offset) {
  const ab = new ArrayBuffer(encoded.byteLength + offset);
  const u8 = new Uint8Array(ab, offset, encoded.byteLength);
  u8.set(encoded);
  return Buffer.from(ab, offset, encoded.byteLength);
}

// ---------------------------------------------------------------------------
// Case a: Float64Array of 1,000,000 random numbers (8 MB).

function caseF64() {
  const f64 = new Float64Array(1_000_000);
  for (let i = 0; i < f64.length; i++) f64[i] = Math.random() * 2e6 - 1e6;
  f64[0] = NaN;
  f64[1] = -0;
  f64[2] = Infinity;

  for (const cfg of CODECS.filter((c) => c.variant === "maps")) {
    const c = makeCodec(cfg);
    const decode = c.newDecoder();
    const encoded = c.encode(f64);
    const decoded = decode(encoded);
    const ok =
      decoded instanceof Float64Array &&
      decoded.length === f64.length &&
      sameBytes(decoded, f64);
    // payload offset of the raw doubles inside the encoded message
    const payloadOffset = encoded.byteLength - f64.byteLength;
    // decode again with the payload 8-byte aligned inside its ArrayBuffer
    const aligned = placeAt(encoded, (8 - (payloadOffset % 8)) % 8);
    const decodedAligned = decode(aligned);
    const base = {
      codec: cfg.codec,
      variant: cfg.variant,
      options: cfg.options,
      case: "f64-1M",
    };
    emit({
      ...base,
      op: "check",
      roundTrip: ok,
      decodedType: decoded?.constructor?.name,
      bytes: encoded.byteLength,
      rawBytes: encoded.byteLength - f64.byteLength <= 16,
      payloadOffset,
      decodedIsView: sharesInput(decoded, encoded),
      alignedInputRoundTrip: sameBytes(decodedAligned, f64),
      alignedInputDecodedIsView: sharesInput(decodedAligned, aligned),
    });
    if (!ok) throw new Error(`${cfg.codec}: Float64Array did not round-trip`);
    emit({
      ...base,
      op: "encode",
      ...measure(() => c.encode(f64)),
      bytes: encoded.byteLength,
    });
    emit({
      ...base,
      op: "decode",
      ...measure(() => decode(encoded)),
      bytes: encoded.byteLength,
    });
    emit({
      ...base,
      case: "f64-1M-aligned-input",
      op: "decode",
      ...measure(() => decode(aligned)),
      bytes: encoded.byteLength,
    });
  }
}

// ---------------------------------------------------------------------------
// Case b/c: one batch of 1,000 small task messages.

const hex = (n) => randomBytes(n).toString("hex");
function makeBatch(n = 1000, bin = (b) => new Uint8Array(b)) {
  const batch = [];
  for (let i = 0; i < n; i++) {
    const deps =
      i % 2 === 0
        ? []
        : [
            {
              key: `add-${hex(8)}`,
              holders: [`tcp://127.0.0.1:${40000 + (i % 1000)}`],
              nbytes: 8,
            },
          ];
    batch.push({
      type: "compute-task",
      key: `inc-${hex(8)}`,
      fn: `f-${hex(4)}`,
      args: bin(randomBytes(24)), // plain Uint8Array by default, not a Buffer
      deps,
      priority: [0, i],
      retries: 0,
    });
  }
  return batch;
}

// Normalise byte arrays (Buffer vs Uint8Array) for deep comparison.
const normalise = (v) =>
  JSON.parse(
    JSON.stringify(v, (k, x) =>
      x &&
      typeof x === "object" &&
      (x.type === "Buffer" || ArrayBuffer.isView(x))
        ? { bytes: Buffer.from(x.data ?? bytesOf(x)).toString("hex") }
        : x,
    ),
  );

function caseBatch(caseName, batch, configs) {
  const want = normalise(batch);
  const shapes = { a: makeBatch(3), b: { other: 1, shape: [makeBatch(1)[0]] } };

  for (const cfg of configs) {
    const c = makeCodec(cfg);
    const decode = c.newDecoder();
    const encoded = c.encode(batch);
    const decoded = decode(encoded);
    const ok = isDeepStrictEqual(normalise(decoded), want);
    const base = {
      codec: cfg.codec,
      variant: cfg.variant,
      options: cfg.options,
      case: caseName,
    };
    if (!ok)
      throw new Error(`${cfg.codec}/${cfg.variant}: batch did not round-trip`);
    // time first, on instances that have only seen this batch
    const enc = measure(() => c.encode(batch));
    const dec = measure(() => decode(encoded));

    // Stateless decoding: messages from a long-lived encoder (which has seen
    // many shapes already), decoded by fresh decoders and, out of order, by
    // one decoder shared across "connections".
    for (let i = 0; i < 200; i++)
      c.encode({ [`x${i}`]: i, y: { [`z${i % 70}`]: 1 } });
    const later = c.encode(batch);
    const other = makeCodec(cfg).encode(shapes); // from an independent encoder
    let freshOk = false;
    let sharedOk = false;
    try {
      freshOk =
        isDeepStrictEqual(normalise(c.newDecoder()(later)), want) &&
        isDeepStrictEqual(normalise(c.newDecoder()(encoded)), want);
      const shared = c.newDecoder();
      sharedOk =
        isDeepStrictEqual(normalise(shared(later)), want) &&
        isDeepStrictEqual(normalise(shared(other)), normalise(shapes)) &&
        isDeepStrictEqual(normalise(shared(encoded)), want);
    } catch {
      // leave false
    }
    emit({
      ...base,
      op: "check",
      roundTrip: ok,
      bytes: encoded.byteLength,
      argsType: decoded[0].args.constructor.name,
      argsIsView: sharesInput(decoded[0].args, encoded),
      freshDecoderOk: freshOk,
      sharedDecoderAcrossEncodersOk: sharedOk,
    });
    emit({ ...base, op: "encode", ...enc, bytes: encoded.byteLength });
    emit({ ...base, op: "decode", ...dec, bytes: encoded.byteLength });
  }
}

// Shared-structure mode (what actually needs state): msgpackr `structures`.
function caseSharedStructures() {
  const batch = makeBatch();
  const want = normalise(batch);
  const structures = [];
  const packr = new Packr({ moreTypes: true, structures });
  const encoded = packr.pack(batch);
  let freshOk = false;
  let err;
  try {
    freshOk = isDeepStrictEqual(
      normalise(new Unpackr({ moreTypes: true }).unpack(encoded)),
      want,
    );
  } catch (e) {
    err = String(e.message).slice(0, 120);
  }
  const withShared = new Unpackr({
    moreTypes: true,
    structures: [...structures],
  }).unpack(encoded);
  emit({
    codec: "msgpackr",
    variant: "shared-structures",
    options: { moreTypes: true, structures: "[]" },
    case: "batch-1k",
    op: "check",
    bytes: encoded.byteLength,
    freshDecoderOk: freshOk,
    freshDecoderError: err,
    sharedStructuresDecoderOk: isDeepStrictEqual(normalise(withShared), want),
  });
}

caseF64();
// b + c: Uint8Array args, msgpackr/cbor-x with and without their record extension
caseBatch("batch-1k", makeBatch(), CODECS);
// same batch with Node Buffer args (msgpackr+moreTypes sends a plain Uint8Array as a
// typed-array ext that is copied on decode, but a Buffer as plain bin that is a view)
caseBatch(
  "batch-1k-buffer-args",
  makeBatch(1000, (b) => Buffer.from(b)),
  CODECS.filter((c) => c.variant === "maps"),
);
caseSharedStructures();
if (sink === 42) console.error("");
