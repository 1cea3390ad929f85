/**
 * `submit`, `map` and `with`: the calls that depend on task options. Everything that can be
 * refused (a function or value that cannot travel, a bad option) is refused synchronously,
 * before anything is queued.
 */
import type { ClientCore, PreparedTask } from './core.js';
import type { Future } from './future.js';
import {
  encodeArgs,
  functionSpec,
  keyName,
  keyedSpec,
  namedSpec,
  resolveOptions,
  type ResolvedOptions,
} from './tasks.js';
import type { TaskArgs, TaskOptions } from './types.js';

/** Submits with fixed task options: what `client.with(...)` returns. */
export class Submitter {
  /** @internal */
  constructor(
    protected readonly core: ClientCore,
    protected readonly options: ResolvedOptions,
  ) {}

  /**
   * Runs `fn(...args)` on the cluster; returns at once. Futures may stand anywhere inside `args`.
   * The future's key is `<name>-<hash>`, named after `fn`; code that will be minified (a web
   * app's production build) names it with `client.with({ name: 'inc' }).submit(inc, 1)`, as a
   * minifier renames functions.
   *
   * `fn` must not mutate its inputs (dask's rule): a large typed array it gets (64 KiB or more)
   * is a view of the bytes the worker stores, which other tasks read and peers fetch, not a copy.
   * Copy first (`x.slice()`) to change one. A stored value that a task changed anyway no longer
   * matches its hash, and no peer accepts it. In a Node worker those views are of a
   * SharedArrayBuffer, which a few APIs refuse (`crypto.subtle`): pass them a copy.
   */
  submit<A extends readonly unknown[], R>(fn: (...args: A) => R, ...args: TaskArgs<A>): Future<Awaited<R>> {
    const o = this.options;
    const spec = namedSpec(functionSpec(fn), o.name);
    const encoded = encodeArgs(args);
    return this.core.queue([{ fn: spec, task: keyedSpec(keyName(spec), spec, encoded, o, o.key) }])[0] as Future<Awaited<R>>;
  }

  /**
   * One task per item: `fn(a[i], b[i], …)` over the iterables zipped (to the shortest).
   * With the `key` option each key is `<key>-<hash>`, with `name` `<name>-<hash>`. All or nothing: one bad item refuses the whole map.
   * `fn` must not mutate its inputs: see `submit`.
   */
  map<A extends readonly unknown[], R>(
    fn: (...args: A) => R,
    ...iterables: { [I in keyof A]: Iterable<MaybeFutureItem<A[I]>> }
  ): Future<Awaited<R>>[] {
    const o = this.options;
    const spec = namedSpec(functionSpec(fn), o.name);
    const prefix = o.key ?? keyName(spec);
    const prepared: PreparedTask[] = [];
    for (const args of zip(iterables as readonly Iterable<unknown>[])) {
      const encoded = encodeArgs(args);
      prepared.push({ fn: spec, task: keyedSpec(prefix, spec, encoded, o) });
    }
    return this.core.queue(prepared) as Future<Awaited<R>>[];
  }

  /** The same calls with these options layered over the current ones. */
  with(options: TaskOptions): Submitter {
    return new Submitter(this.core, resolveOptions(this.options, options));
  }
}

export type MaybeFutureItem<T> = TaskArgs<[T]>[0];

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
