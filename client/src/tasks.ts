/**
 * Turning a call into a task: the function's spec, the encoded arguments, the key, the options.
 * Everything here is synchronous and throws before anything is sent:
 * SerializationError for what cannot travel, GraphError for options that make no sense.
 */
import {
  ClientChannel,
  GraphError,
  MAX_FUNCTION_SOURCE_LENGTH,
  MAX_KEY_LENGTH,
  MAX_TASK_ARGS_BYTES,
  MAX_TASK_TIMEOUT_MS,
  MAX_VERIFY,
  SerializationError,
  checkSerialisable,
  encodeValue,
  functionId,
  hexOf,
  ownString,
  taskDigest,
} from '@meshwork/protocol';
import { MAX_KEY_NAME_LENGTH, RANDOM_KEY_BYTES } from './constants.js';
import type { TaskOptions } from './types.js';

export type UpdateGraph = Extract<ClientChannel.ClientToServer, { type: 'update-graph' }>;
export type FunctionSpec = UpdateGraph['fns'][number];
export type TaskSpec = ClientChannel.TaskSpec;

const fnSpecs = new WeakMap<object, FunctionSpec>();

/** Makes `functionSpec(fn)` return `spec` (stand-ins for exports of uploaded modules). */
export function registerFunctionSpec(fn: object, spec: FunctionSpec): void {
  fnSpecs.set(fn, spec);
}

/** The spec of a task function: its source, rebuilt on the worker, and an id that hashes it. */
export function functionSpec(fn: unknown): FunctionSpec {
  if (typeof fn !== 'function') {
    throw new SerializationError(
      `fn: a task function must be a function, got ${fn === null ? 'null' : typeof fn}`,
      'fn',
    );
  }
  const known = fnSpecs.get(fn);
  if (known) return known;
  const source = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    throw new SerializationError(
      `fn: ${fn.name || 'this function'} is native or bound, so its source cannot be sent; wrap it: (...a) => f(...a)`,
      'fn',
    );
  }
  if (/^class[\s{]/.test(source))
    throw new SerializationError(`fn: a class (${fn.name}) cannot be a task function`, 'fn');
  if (source.length > MAX_FUNCTION_SOURCE_LENGTH) {
    throw new SerializationError(
      `fn: source of ${source.length} characters is over ${MAX_FUNCTION_SOURCE_LENGTH}; upload a module`,
      'fn',
    );
  }
  const spec: FunctionSpec = { id: functionId(source), name: fn.name, source };
  fnSpecs.set(fn, spec);
  return spec;
}

/** Checks and encodes an argument list; `deps` are the keys of every future inside it. */
export function encodeArgs(args: readonly unknown[]): { bytes: Uint8Array; deps: string[] } {
  checkSerialisable(args, 'args');
  const { bytes, refs } = encodeValue(args);
  checkArgsSize(bytes, 'args');
  return { bytes, deps: refs };
}

/**
 * Refuses encoded arguments over MAX_TASK_ARGS_BYTES: sent, they would make a frame the scheduler
 * closes the connection for, failing every other future of this client with it.
 */
export function checkArgsSize(bytes: Uint8Array, path: string): void {
  if (bytes.byteLength <= MAX_TASK_ARGS_BYTES) return;
  throw new SerializationError(
    `${path}: the encoded arguments are ${bytes.byteLength} bytes, over MAX_TASK_ARGS_BYTES (${MAX_TASK_ARGS_BYTES} bytes); ` +
      'put a large value on the cluster with client.scatter and pass its future instead',
    path,
  );
}

/** The name part of a key: the function's name made key-safe, or `lambda`. */
export function keyName(fn: FunctionSpec): string {
  const name = fn.name.replace(/[^\w$.]+/g, '_').slice(0, MAX_KEY_NAME_LENGTH);
  return name.length > 0 ? name : 'lambda';
}

/** What the `name` option may be: a key name as `keyName` makes them, so key and task group agree. */
const TASK_NAME = new RegExp(`^[\\w$.]{1,${MAX_KEY_NAME_LENGTH}}$`);

/**
 * `fn` under the `name` option, when given: the scheduler groups tasks by their function's name,
 * and workers name it in errors. (A function sent under two names is grouped under the first.)
 */
export function namedSpec(fn: FunctionSpec, name: string | undefined): FunctionSpec {
  return name === undefined || name === fn.name ? fn : { ...fn, name };
}

/**
 * `<name>-<digest>`: the digest covers the function's source, the encoded arguments and the
 * options that decide the value (see taskDigest), so the scheduler can check it and other clients
 * may share it. `spec` is the task's spec but for its key.
 */
export function pureKey(prefix: string, spec: TaskSpec): string {
  return checkKey(`${prefix}-${taskDigest(spec)}`);
}

/** The spec of a task with the key its options call for: `o.key`, a pure key, or a random one. */
export function keyedSpec(prefix: string, fn: FunctionSpec, args: { bytes: Uint8Array; deps: string[] }, o: ResolvedOptions, key?: string): TaskSpec {
  const spec = taskSpec('', fn, args, o);
  spec.key = key ?? (o.pure ? pureKey(prefix, spec) : randomKey(prefix));
  return spec;
}

/** Random bytes drawn in bulk: one `getRandomValues` per key was ~4 µs of each submit's ~150. */
const randomPool = new Uint8Array(RANDOM_KEY_BYTES * 512);
let randomAt = randomPool.length;

/** `<name>-<random hex>`: each key takes bytes of the pool no other key took. */
export function randomKey(prefix: string): string {
  if (randomAt + RANDOM_KEY_BYTES > randomPool.length) {
    globalThis.crypto.getRandomValues(randomPool);
    randomAt = 0;
  }
  const hex = hexOf(randomPool, randomAt, randomAt + RANDOM_KEY_BYTES);
  randomAt += RANDOM_KEY_BYTES;
  return checkKey(`${prefix}-${hex}`);
}

/** `key` if it may be one, as a string of its own (see `ownString`: a key lives as long as its futures). */
export function checkKey(key: string): string {
  // Plain JavaScript may pass anything.
  if (typeof key !== 'string') throw new GraphError(`a key must be a string, got ${typeof key}`);
  if (key.length === 0 || key.length > MAX_KEY_LENGTH)
    throw new GraphError(`a key must have 1 to ${MAX_KEY_LENGTH} characters, got ${key.length}`);
  return ownString(key);
}

/** Options checked once, when `with(...)` is called, so a bad one throws there. */
export interface ResolvedOptions {
  pure: boolean;
  key: string | undefined;
  name: string | undefined;
  retries: number;
  priority: number;
  resources: Record<string, number> | undefined;
  workers: string[] | undefined;
  allowOtherWorkers: boolean | undefined;
  timeoutMs: number | undefined;
  verify: number;
}

export const defaultOptions: ResolvedOptions = {
  pure: true,
  key: undefined,
  name: undefined,
  retries: 0,
  priority: 0,
  resources: undefined,
  workers: undefined,
  allowOtherWorkers: undefined,
  timeoutMs: undefined,
  verify: 1,
};

/** Merges `options` over `base`, refusing values the scheduler could not honour. */
export function resolveOptions(base: ResolvedOptions, options: TaskOptions): ResolvedOptions {
  const out: ResolvedOptions = { ...base };
  if (options.pure !== undefined) out.pure = Boolean(options.pure);
  if (options.key !== undefined) {
    if (typeof options.key !== 'string') throw new GraphError('options.key must be a string');
    out.key = checkKey(options.key);
  }
  if (options.name !== undefined) {
    const name: unknown = options.name;
    if (typeof name !== 'string' || !TASK_NAME.test(name)) {
      const got = typeof name === 'string' ? `a string of ${name.length} characters` : typeof name;
      throw new GraphError(
        `options.name must be 1 to ${MAX_KEY_NAME_LENGTH} letters, digits, '_', '$' or '.'; got ${got}`,
      );
    }
    out.name = name;
  }
  if (options.retries !== undefined) {
    if (!Number.isInteger(options.retries) || options.retries < 0)
      throw new GraphError('options.retries must be an integer >= 0');
    out.retries = options.retries;
  }
  if (options.priority !== undefined) {
    if (!Number.isFinite(options.priority)) throw new GraphError('options.priority must be a finite number');
    out.priority = options.priority;
  }
  if (options.resources !== undefined) {
    for (const [name, amount] of Object.entries(options.resources)) {
      if (!(typeof amount === 'number' && amount >= 0 && Number.isFinite(amount))) {
        throw new GraphError(`options.resources.${name} must be a finite number >= 0`);
      }
    }
    out.resources = { ...options.resources };
  }
  if (options.workers !== undefined) {
    const list = typeof options.workers === 'string' ? [options.workers] : [...options.workers];
    if (list.some((w) => typeof w !== 'string' || w.length === 0))
      throw new GraphError('options.workers must be non-empty strings');
    out.workers = list;
  }
  if (options.allowOtherWorkers !== undefined) out.allowOtherWorkers = Boolean(options.allowOtherWorkers);
  if (options.timeoutMs !== undefined) {
    const ms: unknown = options.timeoutMs;
    if (typeof ms !== 'number' || !(ms > 0 && ms <= MAX_TASK_TIMEOUT_MS)) {
      const got = typeof ms === 'number' ? String(ms) : typeof ms;
      throw new GraphError(`options.timeoutMs must be milliseconds over 0, at most ${MAX_TASK_TIMEOUT_MS}; got ${got}`);
    }
    out.timeoutMs = ms;
  }
  if (options.verify !== undefined) {
    if (!Number.isInteger(options.verify) || options.verify < 1 || options.verify > MAX_VERIFY)
      throw new GraphError(`options.verify must be an integer from 1 to ${MAX_VERIFY}`);
    out.verify = options.verify;
  }
  return out;
}

/** The wire spec of one task; optional fields appear only when set. */
export function taskSpec(
  key: string,
  fn: FunctionSpec,
  args: { bytes: Uint8Array; deps: string[] },
  o: ResolvedOptions,
): TaskSpec {
  const spec: TaskSpec = {
    key,
    fn: fn.id,
    args: args.bytes,
    deps: args.deps,
    priority: o.priority,
    retries: o.retries,
  };
  if (o.resources) spec.resources = o.resources;
  if (o.workers) spec.workers = o.workers;
  if (o.allowOtherWorkers !== undefined) spec.allowOtherWorkers = o.allowOtherWorkers;
  if (o.timeoutMs !== undefined) spec.timeoutMs = o.timeoutMs;
  if (o.verify > 1) spec.verify = o.verify;
  return spec;
}
