/**
 * `client.scatter(values)`: put values on workers and get futures for them.
 *
 * 1. Each value is checked (`values[i]`: SerializationError, nothing sent) and encoded. Its key is
 *    `<type>-<hash of the encoded bytes>` (`float64array-…`; dask's tokenize), so scattering the
 *    same value twice from one process gives the same key (the hash is seeded per process); a plain object `{ name: value }` uses its names as keys.
 * 2. `scatter-plan` asks the scheduler which workers should take each value, SCATTER_PLAN_BATCH
 *    values at a time (each batch put before the next is planned: the scheduler keeps a client's
 *    announced puts not yet made under MAX_ANNOUNCED_PUTS_PER_CLIENT per worker). An empty answer
 *    (no worker yet, or none of `workers`), or a plan refused for announcements not yet used
 *    (LIMIT_EXCEEDED), is asked again until SCATTER_WORKER_WAIT_MS (`timeoutMs`) per batch.
 * 3. The values go straight to those workers over their data links (`put-data`; TCP from Node, a
 *    WebSocket from a page), each with the put ticket the plan gave for its key. A key the plan gives no ticket for (another client's, or of
 *    the pure form) is put nowhere.
 * 4. `scattered` tells the scheduler which workers took what; the futures are finished at once,
 *    but for keys put nowhere: the scheduler's `key-erred` settles those.
 *
 * Only Node workers take scattered values (tabs have no data link a client can dial): a cluster
 * of tabs alone gives empty plans, and scatter fails with TimeoutError saying so. A platform
 * without direct links sends each value as an identity task instead.
 */
import {
  ConnectionError,
  ProtocolError,
  ReplyCode,
  SerializationError,
  TimeoutError,
  checkSerialisable,
  encodeValue,
  hashBytes,
  valueHash,
  type Holder,
} from '@meshwork/protocol';
import {
  MAX_KEY_NAME_LENGTH,
  PEER_PUT_BATCH_TIMEOUT_MS,
  SCATTER_ATTEMPTS,
  SCATTER_PLAN_BATCH,
  SCATTER_PLAN_RETRY_MAX_MS,
  SCATTER_PLAN_RETRY_MS,
  SCATTER_WORKER_WAIT_MS,
} from './constants.js';
import type { ClientCore, ScatteredItem } from './core.js';
import { remaining, sleep, type WaitOptions } from './deadline.js';
import type { Future } from './future.js';
import { putToPeer } from './peer-fetch.js';
import { checkKey, defaultOptions, functionSpec, randomKey, resolveOptions, taskSpec } from './tasks.js';

export interface ScatterOptions extends WaitOptions {
  /** Only these workers (ids or names). */
  workers?: string | readonly string[];
  /** Every value to every worker. */
  broadcast?: boolean;
  /** Key each value by its content (default true); false gives random keys. */
  hash?: boolean;
}

interface Item {
  key: string;
  bytes: Uint8Array;
  /** The value hash of `bytes`: the plan announces it to the workers, which store nothing else. */
  hash: string;
  value: unknown;
  /** The put ticket of the latest plan (none from a scheduler that gives none). */
  ticket?: string | undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** `float64array`, `number`, `array`, `object`, `map`…: the key prefix of a scattered value. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  const proto = Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null;
  const name = typeof proto?.constructor?.name === 'string' ? proto.constructor.name : '';
  const clean = name.toLowerCase().replace(/[^\w$.]+/g, '_').slice(0, MAX_KEY_NAME_LENGTH);
  return clean.length > 0 ? clean : 'object';
}

/**
 * Seeds content keys with a secret of this process: scattering a value twice here gives one key,
 * but another client (a rival) cannot tell the key a value will get, so it cannot take the key
 * first (a scattered key belongs to the client that put it, see the README's trust model).
 */
const SCATTER_KEY_SEED = globalThis.crypto.getRandomValues(new Uint32Array(1))[0] as number;

/** The content key of encoded bytes (the length and this process's seed seed the hash). */
export function scatterKey(value: unknown, bytes: Uint8Array): string {
  return checkKey(`${typeName(value)}-${hashBytes(bytes, (bytes.byteLength ^ SCATTER_KEY_SEED) >>> 0)}`);
}

/** Checks and encodes one value; throws SerializationError naming `path`. */
export function prepareItem(value: unknown, path: string, name: string | undefined, hash: boolean): Omit<Item, 'hash'> {
  checkSerialisable(value, path);
  const { bytes, refs } = encodeValue(value);
  if (refs.length > 0)
    throw new SerializationError(`${path}: holds a future; pass futures to tasks instead of scattering them`, path);
  const own = new Uint8Array(bytes); // the codec may reuse its buffer
  const key = name !== undefined ? checkKey(name) : hash ? scatterKey(value, own) : randomKey(typeName(value));
  return { key, bytes: own, value };
}

/** Futures in the shape of the input: an array, an object of names, or one future. */
export async function scatter(core: ClientCore, values: unknown, options: ScatterOptions): Promise<unknown> {
  const hash = options.hash ?? true;
  let prepared: Omit<Item, 'hash'>[];
  let shape: (futures: Future<unknown>[]) => unknown;
  if (Array.isArray(values)) {
    prepared = values.map((v, i) => prepareItem(v, `values[${i}]`, undefined, hash));
    shape = (fs) => fs;
  } else if (isPlainObject(values)) {
    const names = Object.keys(values);
    prepared = names.map((n) => prepareItem(values[n], `values.${n}`, n, hash));
    shape = (fs) => Object.fromEntries(names.map((n, i) => [n, fs[i]]));
  } else {
    prepared = [prepareItem(values, 'values', undefined, hash)];
    shape = (fs) => fs[0];
  }
  const hashOf = core.platform.valueHash ?? valueHash;
  const items: Item[] = await Promise.all(prepared.map(async (i) => ({ ...i, hash: await hashOf(i.bytes) })));
  const unusable = core.unusable;
  if (unusable) throw unusable;
  const keys = items.map((i) => i.key);
  const unique = [...new Map(items.map((i) => [i.key, i])).values()];
  if (unique.length === 0) return shape([]);
  if (!core.platform.directLinks) return shape(await scatterAsTasks(core, unique, keys, options));
  const placed = await place(core, unique, options);
  return shape(core.adoptScattered(placed, keys));
}

/** Plans and puts, batch by batch, until every item is on at least one worker. */
async function place(core: ClientCore, items: readonly Item[], options: ScatterOptions): Promise<ScatteredItem[]> {
  const placed: ScatteredItem[] = [];
  for (let i = 0; i < items.length; i += SCATTER_PLAN_BATCH) placed.push(...(await placeBatch(core, items.slice(i, i + SCATTER_PLAN_BATCH), options)));
  return placed;
}

/** The scheduler refused a plan for announced puts not yet used (its own, or the worker's table full): they are used or expire. */
function refusedForRoom(e: unknown): boolean {
  const cause = e instanceof Error ? (e.cause as { type?: unknown; code?: unknown } | undefined) : undefined;
  return cause?.type === 'error' && cause.code === ReplyCode.LIMIT_EXCEEDED;
}

async function placeBatch(core: ClientCore, items: readonly Item[], options: ScatterOptions): Promise<ScatteredItem[]> {
  const waitMs = options.timeoutMs ?? SCATTER_WORKER_WAIT_MS;
  const deadline = Date.now() + waitMs;
  const workers = options.workers === undefined ? undefined : typeof options.workers === 'string' ? [options.workers] : [...options.workers];
  const placed: ScatteredItem[] = [];
  let pending = items;
  let pause = SCATTER_PLAN_RETRY_MS;
  const wait = async (): Promise<void> => {
    await sleep(Math.min(pause, remaining(deadline) ?? 0), options.signal);
    pause = Math.min(pause * 2, SCATTER_PLAN_RETRY_MAX_MS);
  };
  for (let attempt = 1; pending.length > 0; ) {
    const asked = core.requests.ask(
      (id) => ({
        type: 'scatter-plan',
        id,
        items: pending.map((i) => ({ key: i.key, nbytes: i.bytes.byteLength, hash: i.hash })),
        ...(workers ? { workers } : {}),
        ...(options.broadcast ? { broadcast: true } : {}),
      }),
      'scatter-plan-reply',
      'a scatter plan',
      { timeoutMs: waitMs, signal: options.signal },
    );
    const reply = await asked.catch((e: unknown) => {
      if (refusedForRoom(e) && (remaining(deadline) ?? 0) > 0) return null;
      throw e;
    });
    if (reply === null) {
      await wait();
      continue;
    }
    if (reply.targets.length !== pending.length || (reply.tickets && reply.tickets.length !== pending.length))
      throw new ProtocolError(`scatter-plan-reply has ${reply.targets.length} targets and ${reply.tickets?.length ?? 'no'} tickets for ${pending.length} values`);
    if (reply.targets.some((t) => t.length === 0)) {
      const left = remaining(deadline) ?? 0;
      if (left <= 0) {
        const where = workers ? ` among workers ${workers.join(', ')}` : '';
        throw new TimeoutError(
          `scatter: no worker${where} to put ${pending.length} value(s) on within ${waitMs} ms ` +
            '(values are put on Node workers; browser tabs take none: start one with npx meshwork worker <scheduler address>)',
        );
      }
      await wait();
      continue;
    }
    const toPut: Item[] = [];
    const targets: (readonly Holder[])[] = [];
    pending.forEach((item, i) => {
      const ticket = reply.tickets?.[i];
      // No ticket: not ours to scatter under. Named with no workers, the scheduler answers why (key-erred).
      if (ticket === null) placed.push({ key: item.key, bytes: item.bytes, hash: item.hash, workers: [] });
      else {
        toPut.push({ ...item, ticket });
        targets.push(reply.targets[i] ?? []);
      }
    });
    const { done, failed } = await put(core, toPut, targets);
    placed.push(...done);
    if (failed.length === 0) break;
    if (++attempt > SCATTER_ATTEMPTS) {
      const why = failed.map((f) => `'${f.item.key}': ${f.reasons.join('; ')}`).join(', ');
      throw new ConnectionError(`scatter: no worker stored ${failed.length} value(s) after ${SCATTER_ATTEMPTS} attempts: ${why}`);
    }
    pending = failed.map((f) => f.item);
  }
  return placed;
}

/** One put round: each item to its targets, one link per worker. */
async function put(
  core: ClientCore,
  items: readonly Item[],
  targets: readonly (readonly Holder[])[],
): Promise<{ done: ScatteredItem[]; failed: { item: Item; reasons: string[] }[] }> {
  const byAddress = new Map<string, { holder: Holder; items: Item[] }>();
  items.forEach((item, i) => {
    for (const holder of targets[i] ?? []) {
      const group = byAddress.get(holder.address) ?? { holder, items: [] };
      group.items.push(item);
      byAddress.set(holder.address, group);
    }
  });
  const stored = new Map<string, string[]>();
  const reasons = new Map<string, string[]>();
  const note = (map: Map<string, string[]>, key: string, value: string): void => {
    map.set(key, [...(map.get(key) ?? []), value]);
  };
  await Promise.all(
    [...byAddress.values()].map(async ({ holder, items: group }) => {
      try {
        const r = await putToPeer(core.platform, holder.address, { id: core.conn.id }, group, PEER_PUT_BATCH_TIMEOUT_MS);
        for (const key of r.stored) note(stored, key, holder.id);
        for (const [key, why] of r.refused) note(reasons, key, `${holder.id} refused: ${why}`);
      } catch (e) {
        for (const item of group) note(reasons, item.key, `${holder.id}: ${(e as Error).message}`);
      }
    }),
  );
  const done: ScatteredItem[] = [];
  const failed: { item: Item; reasons: string[] }[] = [];
  for (const item of items) {
    const workers = stored.get(item.key);
    if (workers && workers.length > 0) done.push({ key: item.key, bytes: item.bytes, hash: item.hash, workers });
    else failed.push({ item, reasons: reasons.get(item.key) ?? ['no answer'] });
  }
  return { done, failed };
}

function identity(value: unknown): unknown {
  return value;
}

/** Without direct links: each value rides an identity task under its scatter key. */
async function scatterAsTasks(
  core: ClientCore,
  items: readonly Item[],
  keys: readonly string[],
  options: ScatterOptions,
): Promise<Future<unknown>[]> {
  const spec = functionSpec(identity);
  const o = options.workers === undefined ? defaultOptions : resolveOptions(defaultOptions, { workers: options.workers });
  const prepared = items.map((item) => {
    const { bytes, refs } = encodeValue([item.value]);
    return { fn: spec, task: taskSpec(item.key, spec, { bytes, deps: refs }, o) };
  });
  const futures = core.submitGraph(prepared, keys);
  const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
  for (const f of futures) await f.exception({ timeoutMs: remaining(deadline), signal: options.signal });
  return futures;
}
