/**
 * The public client: `Client.connect`, `submit`, `map`, `gather`, `with`, `close`.
 * Everything that can be refused (a function or value that cannot travel, a bad option) is
 * refused synchronously, before anything is queued.
 */
import { toWebSocketUrl } from './connection.js';
import { DEFAULT_CONNECT_TIMEOUT_MS } from './constants.js';
import { ClientCore, type PreparedTask } from './core.js';
import type { Future } from './future.js';
import { collectFutures, replaceFutures } from './gather-tree.js';
import type { Platform } from './platform.js';
import {
  defaultOptions,
  encodeArgs,
  functionSpec,
  keyName,
  pureKey,
  randomKey,
  resolveOptions,
  taskSpec,
  type ResolvedOptions,
} from './tasks.js';
import type { ConnectOptions, Gathered, Logger, ResultOptions, TaskArgs, TaskOptions } from './types.js';

/** Submits with fixed task options: what `client.with(...)` returns. */
export class Submitter {
  /** @internal */
  constructor(
    protected readonly core: ClientCore,
    protected readonly options: ResolvedOptions,
  ) {}

  /** Runs `fn(...args)` on the cluster; returns at once. Futures may stand anywhere inside `args`. */
  submit<A extends readonly unknown[], R>(fn: (...args: A) => R, ...args: TaskArgs<A>): Future<Awaited<R>> {
    const spec = functionSpec(fn);
    const encoded = encodeArgs(args);
    const o = this.options;
    const key = o.key ?? (o.pure ? pureKey(keyName(spec), spec, encoded.bytes) : randomKey(keyName(spec)));
    return this.core.queue([{ fn: spec, task: taskSpec(key, spec, encoded, o) }])[0] as Future<Awaited<R>>;
  }

  /**
   * One task per item: `fn(a[i], b[i], …)` over the iterables zipped (to the shortest).
   * With the `key` option, each key is `<key>-<hash>`. All or nothing: one bad item refuses the whole map.
   */
  map<A extends readonly unknown[], R>(
    fn: (...args: A) => R,
    ...iterables: { [I in keyof A]: Iterable<MaybeFutureItem<A[I]>> }
  ): Future<Awaited<R>>[] {
    const spec = functionSpec(fn);
    const o = this.options;
    const prefix = o.key ?? keyName(spec);
    const prepared: PreparedTask[] = [];
    for (const args of zip(iterables as readonly Iterable<unknown>[])) {
      const encoded = encodeArgs(args);
      const key = o.pure ? pureKey(prefix, spec, encoded.bytes) : randomKey(prefix);
      prepared.push({ fn: spec, task: taskSpec(key, spec, encoded, o) });
    }
    return this.core.queue(prepared) as Future<Awaited<R>>[];
  }

  /** The same calls with these options layered over the current ones. */
  with(options: TaskOptions): Submitter {
    return new Submitter(this.core, resolveOptions(this.options, options));
  }
}

type MaybeFutureItem<T> = TaskArgs<[T]>[0];

function* zip(iterables: readonly Iterable<unknown>[]): Generator<unknown[]> {
  if (iterables.length === 0) return;
  const iterators = iterables.map((it) => it[Symbol.iterator]());
  for (;;) {
    const row: unknown[] = [];
    for (const it of iterators) {
      const next = it.next();
      if (next.done) return;
      row.push(next.value);
    }
    yield row;
  }
}

export class Client extends Submitter {
  /** The address this client connected to. */
  readonly address: string;

  private constructor(core: ClientCore, address: string) {
    super(core, defaultOptions);
    this.address = address;
  }

  /**
   * Connects to a scheduler (`ws://host:port`). Rejects with ConnectionError if the socket cannot
   * open, AuthError if the token is refused, ProtocolError on a version mismatch, TimeoutError
   * after `timeoutMs` (default DEFAULT_CONNECT_TIMEOUT_MS).
   */
  static async connect(address: string, options: ConnectOptions = {}): Promise<Client> {
    const url = toWebSocketUrl(address);
    const platform: Platform = options.platform ?? (await import('#platform')).platform;
    const logger: Logger = options.logger ?? { warn() {} };
    const callbackLogger: Logger = options.logger ?? {
      warn(_message, error) {
        // Like an event listener that throws: surface it as an uncaught error, don't swallow it.
        setTimeout(() => {
          throw error;
        }, 0);
      },
    };
    const core = new ClientCore(platform, url, logger, callbackLogger);
    await core.conn.open({
      name: options.name,
      token: options.token,
      timeoutMs: options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    });
    return new Client(core, address);
  }

  /** The id the scheduler gave this client. */
  get id(): string {
    return this.core.conn.id;
  }

  /** False once closed or once the connection to the scheduler is lost. */
  get connected(): boolean {
    return this.core.unusable === undefined;
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
    for (const [i, f] of futures.entries()) values.set(f, await pending[i]);
    return replaceFutures(value, (f) => values.get(f)) as Gathered<T>;
  }

  /** Releases every key this client holds, closes the connection, fails pending waits. Idempotent. */
  close(): Promise<void> {
    return this.core.close();
  }
}
