/**
 * The public client: connecting, and every call that is not tied to task options
 * (`gather`, `asCompleted`, `progress`, `wait`, `cancel`, `whoHas`, `run`, `get`, `getExecutor`,
 * `upload`, `scatter`, `close`). `submit`, `map` and `with` come from Submitter. Each call lives in its
 * own module; this file only checks arguments and delegates.
 */
import { ConnectionError, type MeshworkError } from '@meshwork/protocol';
import { AsCompleted } from './as-completed.js';
import { toWebSocketUrl } from './connection.js';
import { DEFAULT_CONNECT_TIMEOUT_MS, RECONNECT_TIMEOUT_MS } from './constants.js';
import { ClientCore } from './core.js';
import type { WaitOptions } from './deadline.js';
import { Executor } from './executor.js';
import { Future, atCaller } from './future.js';
import { collectFutures, replaceFutures } from './gather-tree.js';
import { compileGraph, type Graph, type KeySpec } from './graph.js';
import { upload, uploadPackage, type ModuleHandle, type UploadPackageOptions } from './modules.js';
import { Progress } from './progress.js';
import { deferredPlatform, type Platform } from './platform.js';
import { run, whoHas, type RunOptions } from './remote.js';
import { scatter, type ScatterOptions } from './scatter.js';
import { Submitter } from './submitter.js';
import { defaultOptions, resolveOptions } from './tasks.js';
import type { ConnectOptions, Gathered, Logger, ResultOptions, TaskOptions } from './types.js';
import { waitFor, type DoneAndNotDone, type WaitForOptions } from './wait.js';

export interface GetOptions extends ResultOptions {
  /** false: return the futures (in the shape of `keys`) instead of their values. Default true. */
  sync?: boolean;
}

/** Futures in the shape of a nested list of keys (arrays of futures, to any depth). */
export type FutureTree = Future<unknown> | readonly unknown[];

type OneOrMany<T> = T | Iterable<T>;

function many<T>(value: OneOrMany<T>, isOne: (v: unknown) => v is T): T[] {
  return isOne(value) ? [value] : [...value];
}
const isFuture = (v: unknown): v is Future<unknown> => v instanceof Future;

export class Client extends Submitter {
  /** The address this client connected to. */
  readonly address: string;

  private constructor(core: ClientCore, address: string) {
    super(core, defaultOptions);
    this.address = address;
  }

  private static core(address: string, options: ConnectOptions, platform: Platform): ClientCore {
    const logger: Logger = options.logger ?? { warn() {} };
    const callbackLogger: Logger = options.logger ?? {
      warn(_message, error) {
        // Like an event listener that throws: surface it as an uncaught error, don't swallow it.
        setTimeout(() => {
          throw error;
        }, 0);
      },
    };
    return new ClientCore(platform, toWebSocketUrl(address), logger, callbackLogger, options.onWait);
  }

  /**
   * Connects to a scheduler (`ws://host:port`). Rejects with ConnectionError if the socket cannot
   * open, AuthError if the token is refused, ProtocolError on a version mismatch, TimeoutError
   * after `timeoutMs` (default DEFAULT_CONNECT_TIMEOUT_MS).
   */
  static async connect(address: string, options: ConnectOptions = {}): Promise<Client> {
    toWebSocketUrl(address); // a bad address throws before the adapter loads
    const platform: Platform = options.platform ?? (await import('#platform')).platform;
    const core = Client.core(address, options, platform);
    await core.conn.open({
      name: options.name,
      token: options.token,
      capability: options.capability,
      timeoutMs: options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      reconnectTimeoutMs: options.reconnectTimeoutMs ?? RECONNECT_TIMEOUT_MS,
    });
    return new Client(core, address);
  }

  /**
   * A client usable at once, connecting in the background: calls made before the scheduler has
   * answered are queued and sent once it has. If connecting fails, pending and later waits fail
   * with ConnectionError (its `cause` says why: AuthError, TimeoutError…). Used inside tasks.
   */
  static connectInBackground(address: string, options: ConnectOptions = {}): Client {
    const platform = options.platform ?? deferredPlatform(import('#platform').then((m) => m.platform));
    const core = Client.core(address, options, platform);
    core.conn
      .open({
        name: options.name,
        token: options.token,
        capability: options.capability,
        timeoutMs: options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        queueEarly: true,
        reconnectTimeoutMs: options.reconnectTimeoutMs ?? RECONNECT_TIMEOUT_MS,
      })
      .catch((e: Error) =>
        core.onLost(new ConnectionError(`could not connect to ${address}: ${e.message}`, { cause: e })),
      );
    return new Client(core, address);
  }

  /** The id the scheduler gave this client ('' until it has answered; a new one after each reconnect). */
  get id(): string {
    return this.core.conn.id;
  }

  /**
   * False once closed or once the connection to the scheduler is lost for good. True while
   * reconnecting: calls made meanwhile are queued and sent once the scheduler answers again.
   */
  get connected(): boolean {
    return this.core.unusable === undefined;
  }

  /**
   * Resolves once this client is done for good, with why (a ConnectionError): `close()` was
   * called, or the connection dropped and could not be reopened within `reconnectTimeoutMs`
   * (or the scheduler refused the new hello). Then every pending wait fails with that error.
   *
   * While the client reconnects, the futures it held are given up, because a scheduler does not
   * keep a client's keys across a lost connection and the client does not resend graphs behind
   * your back: unsettled futures, and finished ones whose value is not cached here, fail with
   * LostError saying so (finished ones with a small value keep it). Work submitted after the
   * drop is sent once the client is reconnected.
   *
   * Like every wait on the scheduler, awaiting it keeps a Node process alive until it resolves.
   */
  get closed(): Promise<ConnectionError> {
    return this.core.conn.hold(this.core.ended);
  }

  /**
   * Replaces every future inside `value` (arrays and plain objects, to any depth) by its result;
   * anything else passes through. Throws the first error in traversal order.
   */
  async gather<T>(value: T, options: ResultOptions = {}): Promise<Gathered<T>> {
    const futures = collectFutures(value);
    // All asked in this turn: one `gather` message. Failures surface in traversal order (as dask).
    const pending = futures.map((f) => f.result(options));
    for (const p of pending) void p.catch(() => {}); // the first in order is thrown below
    const values = new Map<Future<unknown>, unknown>();
    try {
      for (const [i, f] of futures.entries()) values.set(f, await pending[i]);
    } catch (e) {
      // eslint-disable-next-line @typescript-eslint/unbound-method -- only its identity: where the stack starts
      throw atCaller(e, Client.prototype.gather);
    }
    return replaceFutures(value, (f) => values.get(f)) as Gathered<T>;
  }

  /**
   * The futures as they settle (finished, error, cancelled or lost), in that order:
   * `for await (const f of client.asCompleted(fs)) …`; `add(f)` adds more while iterating.
   * `timeoutMs` bounds the whole iteration (TimeoutError).
   */
  asCompleted<T>(futures: Iterable<Future<T>> = [], options: WaitOptions = {}): AsCompleted<T> {
    return new AsCompleted<T>(this.core, futures, options);
  }

  /**
   * How far these futures have got: an async iterable of `{ done, total, erred }`, first the
   * current counts, then each change, ending once all have settled:
   * `for await (const p of client.progress(fs)) bar.update(p.done / p.total)`, or
   * `await client.progress(fs).forEach(draw)`. `timeoutMs` bounds the whole iteration
   * (TimeoutError); `signal` stops it.
   */
  progress(futures: Iterable<Future<unknown>>, options: WaitOptions = {}): Progress {
    return new Progress(this.core, futures, options);
  }

  /** Waits until `returnWhen` holds (default 'ALL_COMPLETED'); TimeoutError if `timeoutMs` passes first. */
  wait<T>(futures: OneOrMany<Future<T>>, options: WaitForOptions = {}): Promise<DoneAndNotDone<T>> {
    return waitFor(this.core, many(futures, isFuture) as Future<T>[], options);
  }

  /**
   * Cancels the futures (dask's semantics): this client drops its interest in their keys and in
   * its keys downstream of them; a task no other client wants is stopped. `{ force: true }`
   * (admin token only, else AuthError) cancels them for every client, and every task downstream.
   * Resolves once the request is sent; these futures are 'cancelled' at once (their `result()`
   * throws CancelledError), dependents as the scheduler reports them.
   */
  cancel(futures: OneOrMany<Future<unknown>>, options: { force?: boolean } = {}): Promise<void> {
    return this.core.cancel(many(futures, isFuture), options.force === true);
  }

  /** `{ [key]: workerIds }` for these futures (default: every key this client holds). */
  whoHas(futures?: OneOrMany<Future<unknown> | string>, options: WaitOptions = {}): Promise<Record<string, string[]>> {
    const isOne = (v: unknown): v is Future<unknown> | string => typeof v === 'string' || v instanceof Future;
    return whoHas(this.core, futures === undefined ? undefined : many(futures, isOne), options);
  }

  /**
   * `fn(...args)` once on every worker, outside the task machinery: `{ [workerId]: result }`.
   * A worker's error is thrown (RemoteError). For options (`workers`, `onError`, `timeoutMs`)
   * use `runWith`.
   */
  run<A extends readonly unknown[], R>(fn: (...args: A) => R, ...args: A): Promise<Record<string, Awaited<R>>> {
    return this.runWith({}, fn, ...args);
  }

  /**
   * `run` with options: `client.runWith({ workers: ['w1'] }, fn, ...args)`. With
   * `onError: 'return'`, a worker's error is its entry instead of being thrown.
   */
  runWith<A extends readonly unknown[], R>(
    options: RunOptions & { onError: 'return' },
    fn: (...args: A) => R,
    ...args: A
  ): Promise<Record<string, Awaited<R> | MeshworkError>>;
  runWith<A extends readonly unknown[], R>(
    options: RunOptions,
    fn: (...args: A) => R,
    ...args: A
  ): Promise<Record<string, Awaited<R>>>;
  runWith(
    options: RunOptions,
    fn: (...args: unknown[]) => unknown,
    ...args: unknown[]
  ): Promise<Record<string, unknown>> {
    return run(this.core, fn, args, options);
  }

  /**
   * Computes keys of a dask-style graph (`{ a: 1, b: [inc, 'a'], c: [add, 'a', 'b'] }`; see
   * graph.ts): one key gives its value, a (nested) list of keys gives values in that shape.
   * A bad graph throws synchronously (GraphError, SerializationError), before anything is sent.
   * The graph's tasks go in one `update-graph`; only the requested keys are held, and released
   * once gathered. With `sync: false`, returns the futures instead (nothing is released).
   */
  get<T = unknown>(graph: Graph, keys: string, options?: GetOptions & { sync?: true }): Promise<T>;
  get(graph: Graph, keys: readonly KeySpec[], options?: GetOptions & { sync?: true }): Promise<unknown[]>;
  get(graph: Graph, keys: string, options: GetOptions & { sync: false }): Future<unknown>;
  get(graph: Graph, keys: readonly string[], options: GetOptions & { sync: false }): Future<unknown>[];
  get(graph: Graph, keys: readonly KeySpec[], options: GetOptions & { sync: false }): FutureTree[];
  get(graph: Graph, keys: KeySpec, options: GetOptions = {}): unknown {
    const compiled = compileGraph(graph, keys, this.options);
    const futures = this.core.submitGraph(compiled.tasks, compiled.wanted);
    const tree = compiled.shape(futures);
    if (options.sync === false) return tree;
    return this.gather(tree, options).finally(() => {
      for (const f of futures) f.release();
    });
  }

  /** Plain promises instead of futures (concurrent.futures' Executor); `options` as in `with`. */
  getExecutor(options: TaskOptions = {}): Executor {
    return new Executor(this.core, new Submitter(this.core, resolveOptions(this.options, options)));
  }

  /**
   * Stores an ES module on the scheduler, served to every worker; `mod.fn('name')` then stands
   * for its export `name` in `submit`, `map`, `run` and `get`.
   */
  upload(name: string, source: string, options: WaitOptions = {}): Promise<ModuleHandle> {
    return upload(this.core, name, source, options);
  }

  /**
   * Uses an npm package in tasks: bundles `specifier` (a package name, or a `./` path to a file)
   * with what it imports into one ES module here, with esbuild, and uploads it, so no worker
   * needs the package installed: `(await client.uploadPackage('fflate')).fn('gzipSync')`. Node
   * only (in a web app, bundle at build time and use `upload`). Refused with a GraphError when it
   * cannot be bundled for browsers (a package that needs Node's built-ins).
   */
  uploadPackage(specifier: string, options: UploadPackageOptions = {}): Promise<ModuleHandle> {
    return uploadPackage(this.core, specifier, options);
  }

  /**
   * Puts values on workers: an array gives an array of futures, a plain object `{ name: value }`
   * an object of futures (keyed by those names), any other value one future. Keys hash the
   * encoded values (`float64array-…`), so the same value scattered twice has one key.
   * Throws SerializationError (nothing sent) for a value that cannot travel; TimeoutError if no
   * worker can take the data within `timeoutMs` (default SCATTER_WORKER_WAIT_MS).
   */
  scatter<T>(values: readonly T[], options?: ScatterOptions): Promise<Future<T>[]>;
  scatter<T extends Record<string, unknown>>(
    values: T,
    options?: ScatterOptions,
  ): Promise<{ [K in keyof T]: Future<T[K]> }>;
  scatter<T>(value: T, options?: ScatterOptions): Promise<Future<T>>;
  scatter(values: unknown, options: ScatterOptions = {}): Promise<unknown> {
    return scatter(this.core, values, options);
  }

  /** Releases every key this client holds, closes the connection, fails pending waits. Idempotent. */
  close(): Promise<void> {
    return this.core.close();
  }
}
