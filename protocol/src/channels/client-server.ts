/** The channel between a client and the scheduler (one WebSocket). */
import * as v from 'valibot';
import { MAX_FUNCTION_SOURCE_LENGTH } from '../constants.js';
import { Bytes, Count, ErrorReply, Holder, Key, Keys, RequestId, Welcome, WireErrorSchema } from './common.js';

export const ClientHello = v.object({
  type: v.literal('hello'),
  protocolVersion: v.number(),
  role: v.literal('client'),
  name: v.optional(v.string()),
  token: v.optional(v.string()),
});

/** A task function, sent once per connection and referred to by id. */
export const FunctionSpec = v.object({
  id: v.string(),
  name: v.string(),
  source: v.pipe(v.string(), v.maxLength(MAX_FUNCTION_SOURCE_LENGTH)),
});

export const TaskSpec = v.object({
  key: Key,
  /** Id of a FunctionSpec sent on this connection. */
  fn: v.string(),
  /** The encoded argument list; FutureRefs inside stand for `deps`. */
  args: Bytes,
  deps: Keys,
  /** Higher runs first among ready tasks. */
  priority: v.number(),
  retries: Count,
  resources: v.optional(v.record(v.string(), v.number())),
  workers: v.optional(v.array(v.string())),
  allowOtherWorkers: v.optional(v.boolean()),
  timeoutMs: v.optional(v.number()),
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

export const ClientToServer = v.variant('type', [ClientHello, UpdateGraph, ReleaseKeys, Gather]);
export type ClientToServer = v.InferOutput<typeof ClientToServer>;

export const KeyFinished = v.object({ type: v.literal('key-finished'), key: Key });
export const KeyErred = v.object({ type: v.literal('key-erred'), key: Key, error: WireErrorSchema });

/** One key of a gather: its value inline, or where to fetch it, or why it has none. */
export const GatherItem = v.object({
  key: Key,
  value: v.optional(Bytes),
  holders: v.optional(v.array(Holder)),
  error: v.optional(WireErrorSchema),
});
export type GatherItem = v.InferOutput<typeof GatherItem>;

export const GatherReply = v.object({ type: v.literal('gather-reply'), id: RequestId, items: v.array(GatherItem) });

export const ServerToClient = v.variant('type', [Welcome, KeyFinished, KeyErred, GatherReply, ErrorReply]);
export type ServerToClient = v.InferOutput<typeof ServerToClient>;

export type { Holder };
export { RequestId, Count };
