/** The channel between a client and the scheduler (one WebSocket). */
import * as v from 'valibot';
import { MAX_FUNCTION_SOURCE_LENGTH, MAX_MODULE_SOURCE_LENGTH, MAX_TASK_ARGS_BYTES, MAX_VERIFY } from '../constants.js';
import { ByteCount, Bytes, Count, ErrorReply, Holder, Key, Keys, ModuleRef, RequestId, Resources, TaskTimeoutMs, Ticket, ValueHash, Welcome, WireErrorSchema } from './common.js';

export const ClientHello = v.object({
  type: v.literal('hello'),
  protocolVersion: v.number(),
  role: v.literal('client'),
  name: v.optional(v.string()),
  token: v.optional(v.string()),
  /**
   * A task's client capability (tasks from tasks): what the scheduler sent with the task's
   * `compute-task`. It admits a non-admin client acting for the client the task runs for, while
   * that client is connected, instead of a token; a wrong or expired one is refused (AUTH_FAILED).
   */
  capability: v.optional(v.string()),
});

/**
 * A task function, referred to by id. Either its source text, or (with `module`) the name of an
 * export of an uploaded module: then `source` is that export's name. It goes with each
 * `update-graph` whose new tasks use it: the scheduler keeps a function only while tasks use it
 * (a function a graph sends that none of its tasks uses is not kept).
 */
export const FunctionSpec = v.object({
  id: v.string(),
  name: v.string(),
  source: v.pipe(v.string(), v.maxLength(MAX_FUNCTION_SOURCE_LENGTH)),
  module: v.optional(ModuleRef),
});

/** An encoded argument list: at most MAX_TASK_ARGS_BYTES (a larger value is scattered, and its future passed). */
export const TaskArgs = v.pipe(
  Bytes,
  v.check((b) => b.byteLength <= MAX_TASK_ARGS_BYTES, `encoded arguments over MAX_TASK_ARGS_BYTES (${MAX_TASK_ARGS_BYTES} bytes)`),
);

export const TaskSpec = v.object({
  key: Key,
  /** Id of a FunctionSpec in the same message (or of one the scheduler holds for a task it has). */
  fn: v.string(),
  /** The encoded argument list; FutureRefs inside stand for `deps`. */
  args: TaskArgs,
  deps: Keys,
  /** Higher runs first among ready tasks. */
  priority: v.number(),
  retries: Count,
  resources: v.optional(Resources),
  workers: v.optional(v.array(v.string())),
  allowOtherWorkers: v.optional(v.boolean()),
  /** A run lasting longer fails with TIMEOUT and its thread is replaced. */
  timeoutMs: v.optional(TaskTimeoutMs),
  /** Run on this many distinct workers and accept the result only when they agree byte for byte. */
  verify: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_VERIFY))),
});
export type TaskSpec = v.InferOutput<typeof TaskSpec>;

export const UpdateGraph = v.object({
  type: v.literal('update-graph'),
  fns: v.array(FunctionSpec),
  tasks: v.array(TaskSpec),
  /** Keys this client now holds one more future for. */
  wants: Keys,
});

/** The client holds no more futures for these keys (one release per earlier want). */
export const ReleaseKeys = v.object({ type: v.literal('release-keys'), keys: Keys });

/** Answered once every key has settled. */
export const Gather = v.object({ type: v.literal('gather'), id: RequestId, keys: Keys });

/**
 * Cancels keys the client holds futures for (dask's semantics): the client drops its interest in
 * them and in its keys downstream of them, and a task no other client needs is released (running
 * ones abandoned). With `force` (admin only) they and everything downstream are cancelled for
 * every client; each client holding futures for them gets `key-cancelled` and drops those futures.
 */
export const Cancel = v.object({ type: v.literal('cancel'), keys: Keys, force: v.optional(v.boolean()) });

/** Where should these values go? Answered by `scatter-plan`; nothing changes yet. */
export const ScatterPlan = v.object({
  type: v.literal('scatter-plan'),
  id: RequestId,
  /** Each value's key, size and value hash: a worker stores only the bytes the plan announced to it. */
  items: v.array(v.object({ key: Key, nbytes: ByteCount, hash: ValueHash })),
  /** Only these workers (ids or names), when given. */
  workers: v.optional(v.array(v.string())),
  /** Every value to every worker. */
  broadcast: v.optional(v.boolean()),
});

/**
 * Values the client has put on workers (over the peer link, `put-data`). They become keys in
 * memory with no lineage; `wants` as in update-graph.
 */
export const Scattered = v.object({
  type: v.literal('scattered'),
  items: v.array(v.object({ key: Key, nbytes: ByteCount, hash: v.optional(ValueHash), workers: v.array(v.string()) })),
  wants: Keys,
});

export const WhoHas = v.object({ type: v.literal('who-has'), id: RequestId, keys: Keys });

/**
 * The holder a gather named did not hand over `key`, or sent bytes that do not match its hash:
 * the scheduler drops that copy (and recomputes the value when it was the last).
 */
export const MissingData = v.object({ type: v.literal('missing-data'), key: Key, holder: v.string() });

/** Runs `fn(...args)` once on every connected worker (not as a task); answered by `run-reply`. */
export const Run = v.object({
  type: v.literal('run'),
  id: RequestId,
  fn: FunctionSpec,
  args: TaskArgs,
  /** Only these workers (ids or names), when given. */
  workers: v.optional(v.array(v.string())),
});

/** Stores a module under `name`, served to workers at /modules/<name>.mjs; answered by `upload-reply`. */
export const Upload = v.object({
  type: v.literal('upload'),
  id: RequestId,
  name: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/)),
  source: v.pipe(v.string(), v.maxLength(MAX_MODULE_SOURCE_LENGTH)),
});

export const ClientToServer = v.variant('type', [
  ClientHello,
  UpdateGraph,
  ReleaseKeys,
  Gather,
  Cancel,
  ScatterPlan,
  Scattered,
  WhoHas,
  MissingData,
  Run,
  Upload,
]);
export type ClientToServer = v.InferOutput<typeof ClientToServer>;

export const KeyFinished = v.object({ type: v.literal('key-finished'), key: Key });
export const KeyErred = v.object({ type: v.literal('key-erred'), key: Key, error: WireErrorSchema });

/** One key of a gather: its value inline, or where to fetch it, or why it has none. */
export const GatherItem = v.object({
  key: Key,
  value: v.optional(Bytes),
  holders: v.optional(v.array(Holder)),
  /** With `holders`: the value's size and hash, which the fetched bytes must match. */
  nbytes: v.optional(ByteCount),
  hash: v.optional(ValueHash),
  /** With `holders`: the get ticket the holders' data links ask for this key (tickets.ts). */
  ticket: v.optional(Ticket),
  error: v.optional(WireErrorSchema),
});
export type GatherItem = v.InferOutput<typeof GatherItem>;

export const GatherReply = v.object({ type: v.literal('gather-reply'), id: RequestId, items: v.array(GatherItem) });

/** The key was cancelled: this client's futures for it are cancelled and no longer held. */
export const KeyCancelled = v.object({ type: v.literal('key-cancelled'), key: Key });

export const ScatterPlanReply = v.object({
  type: v.literal('scatter-plan-reply'),
  id: RequestId,
  /** Per item, in order: the workers to put it on (one, or every worker for a broadcast). */
  targets: v.array(v.array(Holder)),
  /**
   * Per item, in order: the put ticket the targets' data links ask for its key (tickets.ts), or
   * null when the client may not scatter under that key (another client's, or of the pure form):
   * the `scattered` that names it is answered with `key-erred`.
   */
  tickets: v.optional(v.array(v.nullable(Ticket))),
});

export const WhoHasReply = v.object({ type: v.literal('who-has-reply'), id: RequestId, holders: v.record(v.string(), v.array(v.string())) });

/** Per worker id: the encoded return value, or the error. */
export const RunReply = v.object({
  type: v.literal('run-reply'),
  id: RequestId,
  results: v.record(v.string(), v.object({ value: v.optional(Bytes), error: v.optional(WireErrorSchema) })),
});

/** `hash` names this version of the module; tasks refer to it by name and hash. */
export const UploadReply = v.object({ type: v.literal('upload-reply'), id: RequestId, name: v.string(), hash: v.string() });

export const ServerToClient = v.variant('type', [
  Welcome,
  KeyFinished,
  KeyErred,
  KeyCancelled,
  GatherReply,
  ScatterPlanReply,
  WhoHasReply,
  RunReply,
  UploadReply,
  ErrorReply,
]);
export type ServerToClient = v.InferOutput<typeof ServerToClient>;

export type { Holder };
export { RequestId, Count };
