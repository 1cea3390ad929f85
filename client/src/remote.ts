/**
 * Questions to the cluster that are not tasks: `who-has` (which workers hold these keys) and
 * `run` (call a function once on every worker, outside the task machinery, as dask's `run`).
 */
import { GraphError, SerializationError, decodeValue, errorFromWire, type MeshworkError } from '@meshwork/protocol';
import { GATHER_MESSAGE_MAX_KEYS } from './constants.js';
import type { ClientCore } from './core.js';
import type { WaitOptions } from './deadline.js';
import type { Future } from './future.js';
import { encodeArgs, functionSpec } from './tasks.js';

export interface RunOptions extends WaitOptions {
  /** Only these workers (ids or names); default every connected worker. */
  workers?: string | readonly string[];
  /**
   * 'raise' (default, as dask): throw the first worker's error (RemoteError);
   * 'return': put each error in the result, under its worker, as the error object.
   */
  onError?: 'raise' | 'return';
}

/** `{ [key]: workerIds }` for the keys of `futures` (default: every key this client holds). */
export async function whoHas(
  core: ClientCore,
  futures: Iterable<Future<unknown> | string> | undefined,
  options: WaitOptions,
): Promise<Record<string, string[]>> {
  const unusable = core.unusable;
  if (unusable) throw unusable;
  const keys =
    futures === undefined
      ? [...core.states.keys()]
      : [...new Set(Array.from(futures, (f) => (typeof f === 'string' ? f : f.key)))];
  if (keys.length === 0) return {};
  // The scheduler answers at most GATHER_MESSAGE_MAX_KEYS keys a request: more are asked in several.
  const asks: Promise<Record<string, readonly string[]>>[] = [];
  for (let i = 0; i < keys.length; i += GATHER_MESSAGE_MAX_KEYS) {
    const some = keys.slice(i, i + GATHER_MESSAGE_MAX_KEYS);
    asks.push(core.requests.ask((id) => ({ type: 'who-has', id, keys: some }), 'who-has-reply', 'who-has', options).then((r) => r.holders));
  }
  const replies = await Promise.all(asks);
  const out: Record<string, string[]> = {};
  for (const [i, key] of keys.entries()) out[key] = [...(replies[Math.floor(i / GATHER_MESSAGE_MAX_KEYS)]?.[key] ?? [])];
  return out;
}

/** `fn(...args)` once on each worker: `{ [workerId]: result }`. */
export async function run(
  core: ClientCore,
  fn: unknown,
  args: readonly unknown[],
  options: RunOptions,
): Promise<Record<string, unknown>> {
  const spec = functionSpec(fn);
  const encoded = encodeArgs(args);
  if (encoded.deps.length > 0)
    throw new SerializationError('args: run takes plain values; futures are for tasks (use submit)', 'args');
  if (options.onError !== undefined && options.onError !== 'raise' && options.onError !== 'return')
    throw new GraphError(`run: options.onError must be 'raise' or 'return'`);
  const unusable = core.unusable;
  if (unusable) throw unusable;
  const workers =
    options.workers === undefined ? undefined : typeof options.workers === 'string' ? [options.workers] : [...options.workers];
  const reply = await core.requests.ask(
    (id) => ({ type: 'run', id, fn: spec, args: encoded.bytes, ...(workers ? { workers } : {}) }),
    'run-reply',
    `run of ${spec.name || 'a function'}`,
    options,
  );
  const out: Record<string, unknown> = {};
  let first: MeshworkError | undefined;
  for (const [workerId, r] of Object.entries(reply.results)) {
    if (r.error) {
      const error = errorFromWire({ ...r.error, workerId: r.error.workerId ?? workerId });
      first ??= error;
      out[workerId] = error;
    } else {
      out[workerId] = r.value ? decodeValue(r.value) : undefined;
    }
  }
  if (first && options.onError !== 'return') throw first;
  return out;
}
