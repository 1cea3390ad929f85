/** The channel between a worker and the scheduler (one WebSocket, control only: no bulk data). */
import * as v from 'valibot';
import { MAX_KEY_LENGTH, MAX_RELAY_CHUNK_BYTES, MAX_TRAFFIC_PER_HEARTBEAT } from '../constants.js';
import { ByteCount, Bytes, Count, ErrorReply, Holder, Key, Keys, Millis, ModuleRef, RequestId, Resources, SignalPayload, TaskTimeoutMs, ValueHash, Welcome, WireErrorSchema } from './common.js';

export const WorkerHello = v.object({
  type: v.literal('hello'),
  protocolVersion: v.number(),
  role: v.literal('worker'),
  name: v.optional(v.string()),
  kind: v.picklist(['node', 'browser']),
  threads: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1024)),
  /** Bytes; null for no limit. */
  memoryLimit: v.nullable(v.number()),
  resources: Resources,
  /** Where peers fetch this worker's data (`tcp://host:port`); null when it serves none. */
  dataAddress: v.nullable(v.string()),
  /** Node version or browser user agent. */
  agent: v.string(),
  token: v.optional(v.string()),
});

export const TaskFinished = v.object({
  type: v.literal('task-finished'),
  key: Key,
  /** Size of the encoded result, in bytes. */
  nbytes: ByteCount,
  /** The value hash (BLAKE3) of the encoded result: whoever fetches it from a peer checks the bytes against it. */
  hash: v.optional(ValueHash),
  /** The encoded result, when it is small enough to ride the control channel. */
  value: v.optional(Bytes),
  startedAt: Millis,
  stoppedAt: Millis,
  thread: Count,
});

export const TaskErred = v.object({
  type: v.literal('task-erred'),
  key: Key,
  error: WireErrorSchema,
  startedAt: Millis,
  stoppedAt: Millis,
  thread: Count,
});

/** How values reached or left a worker: the direct Node link, a WebRTC data channel, or relayed through the scheduler. */
export const TransferPath = v.picklist(['tcp', 'webrtc', 'relay']);
export type TransferPath = v.InferOutput<typeof TransferPath>;

/** Bytes of values traded with one peer over one path since the worker joined (totals, not deltas). */
export const PeerTraffic = v.object({ peer: v.pipe(v.string(), v.maxLength(MAX_KEY_LENGTH)), path: TransferPath, bytesSent: Count, bytesReceived: Count });
export type PeerTraffic = v.InferOutput<typeof PeerTraffic>;

export const Heartbeat = v.object({
  type: v.literal('heartbeat'),
  memoryUsed: Count,
  /** The peers whose traffic changed since the last heartbeat. */
  traffic: v.optional(v.pipe(v.array(PeerTraffic), v.maxLength(MAX_TRAFFIC_PER_HEARTBEAT))),
});

/**
 * A dependency could not be fetched: `holder` is the one that said it lacks it or sent bad bytes,
 * when one did (a failed link names no one).
 */
export const DepMissing = v.object({ type: v.literal('dep-missing'), key: Key, dep: Key, holder: v.optional(v.string()) });

/**
 * The running task `key` is waiting on other tasks (it called into a client from inside): it no
 * longer counts against this worker's threads, and its thread is handed to other work.
 */
export const TaskSeceded = v.object({ type: v.literal('task-seceded'), key: Key });
/** The seceded task runs again and counts against the worker's threads. */
export const TaskRejoined = v.object({ type: v.literal('task-rejoined'), key: Key });

/** Answer to `run-function`. */
export const RunResult = v.object({
  type: v.literal('run-result'),
  id: RequestId,
  value: v.optional(Bytes),
  error: v.optional(WireErrorSchema),
});

/**
 * Answer to `acquire`: the keys now stored here, and those no holder delivered, each with the
 * holder that said it lacks the value or sent bad bytes, when one did (the scheduler drops that
 * copy, recomputing when it was the last; a failed link blames no one).
 */
export const Acquired = v.object({
  type: v.literal('acquired'),
  id: RequestId,
  items: v.array(v.object({ key: Key, nbytes: ByteCount })),
  missing: v.array(v.object({ key: Key, holder: v.optional(v.string()) })),
});

/**
 * Announced puts this worker took (stored, or it held the same bytes already): their
 * announcements are used up, and the scheduler stops counting them against the worker's table
 * and the announcing client's share of it (MAX_ANNOUNCED_PUTS, MAX_ANNOUNCED_PUTS_PER_CLIENT).
 * Keys the scheduler did not announce here are ignored.
 */
export const PutsStored = v.object({ type: v.literal('puts-stored'), keys: Keys });

/** Answer to `steal-request`: `ok` when the task had not started and was dropped here. */
export const StealResponse = v.object({ type: v.literal('steal-response'), key: Key, ok: v.boolean() });

/**
 * Peer data through the scheduler, for a pair with no direct path (no WebRTC connection would
 * open): `data` is the next chunk of the peer byte stream (peer frames, as on a data channel),
 * `ack` the bytes of `data` the receiver has taken (the sender's flow control), `close` ends the
 * relay link. The scheduler forwards it to `to` as `relay {from}` and counts `data` as relayed bytes.
 */
const RelayFields = {
  data: v.optional(v.pipe(Bytes, v.check((b) => b.byteLength <= MAX_RELAY_CHUNK_BYTES, 'relay chunk too large'))),
  ack: v.optional(Count),
  close: v.optional(v.literal(true)),
};
export const RelayTo = v.object({ type: v.literal('relay'), to: v.string(), ...RelayFields });
export const RelayFrom = v.object({ type: v.literal('relay'), from: v.string(), ...RelayFields });
export type RelayFrom = v.InferOutput<typeof RelayFrom>;

/** A WebRTC signal for worker `to`; the scheduler relays it as `signal {from}`. */
export const SignalTo = v.object({ type: v.literal('signal'), to: v.string(), payload: SignalPayload });

export const WorkerToServer = v.variant('type', [
  SignalTo,
  RelayTo,
  WorkerHello,
  TaskFinished,
  TaskErred,
  Heartbeat,
  DepMissing,
  TaskSeceded,
  TaskRejoined,
  RunResult,
  StealResponse,
  Acquired,
  PutsStored,
]);
export type WorkerToServer = v.InferOutput<typeof WorkerToServer>;

/** A value to fetch: where it is, and (when known) its size and hash, which the fetched bytes must match. */
export const DepSpec = v.object({ key: Key, holders: v.array(Holder), nbytes: v.optional(ByteCount), hash: v.optional(ValueHash) });
export type DepSpec = v.InferOutput<typeof DepSpec>;

export const ComputeTask = v.object({
  type: v.literal('compute-task'),
  key: Key,
  fn: v.string(),
  /** The function's source, on the first task of that function sent to this worker. */
  source: v.optional(v.string()),
  fnName: v.string(),
  /** Set when the function is an export of an uploaded module (then `source` is the export name). */
  module: v.optional(ModuleRef),
  args: Bytes,
  deps: v.array(DepSpec),
  /** Abort the run after this long (TIMEOUT) and replace the thread it ran on. */
  timeoutMs: v.optional(TaskTimeoutMs),
  /**
   * The capability of the client the task runs for: the task's `globalThis.meshwork.client()`
   * connects with it (ClientHello `capability`). The worker hands it to that task's thread alone.
   */
  capability: v.optional(v.string()),
});
export type ComputeTask = v.InferOutput<typeof ComputeTask>;

/** Drop these keys from the store: no one needs them any more. */
export const FreeKeys = v.object({ type: v.literal('free-keys'), keys: Keys });

/** Run `fn(...args)` once, outside the task machinery (client.run); answer with `run-result`. */
export const RunFunction = v.object({
  type: v.literal('run-function'),
  id: RequestId,
  fn: v.string(),
  fnName: v.string(),
  source: v.string(),
  module: v.optional(ModuleRef),
  args: Bytes,
});

/**
 * Fetch these values from their holders and keep them in the store (answer with `acquired`): a
 * Node worker copies a value held only by browser tabs so that a Node client can fetch it directly.
 */
export const Acquire = v.object({ type: v.literal('acquire'), id: RequestId, items: v.array(DepSpec) });

/**
 * A client will put these values here (its scatter plan names this worker): the only `put-data`
 * a worker stores, each under its key, of its size and value hash. Sent before the client learns
 * the plan; unanswered.
 */
export const ExpectPut = v.object({
  type: v.literal('expect-put'),
  items: v.array(v.object({ key: Key, nbytes: ByteCount, hash: ValueHash })),
});

/** Give back `key` if it has not started (answer with `steal-response`). */
export const StealRequest = v.object({ type: v.literal('steal-request'), key: Key });

/** A WebRTC signal from worker `from`. */
export const SignalFrom = v.object({ type: v.literal('signal'), from: v.string(), payload: SignalPayload });

export const ServerToWorker = v.variant('type', [
  Welcome,
  RelayFrom,
  ComputeTask,
  FreeKeys,
  RunFunction,
  StealRequest,
  SignalFrom,
  Acquire,
  ExpectPut,
  ErrorReply,
]);
export type ServerToWorker = v.InferOutput<typeof ServerToWorker>;
