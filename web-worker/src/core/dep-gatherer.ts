/**
 * Gathers a task's dependencies, runtime-free: from the store, from the cache of fetched deps, or
 * from peers through the PeerFetcher. One fetch per key at a time, shared by every task that
 * waits for it; a fetch that no task waits for any more (the tasks were stolen or freed) is
 * aborted.
 */
import type { WorkerChannel } from '@meshwork/protocol';
import { expectations, holdersSignature, storedCopy } from './acquire.js';
import type { Expected, FetchResult, PeerFetcher } from './interfaces.js';
import type { DepCache, Store } from './store.js';

type DepSpec = WorkerChannel.DepSpec;
/** Its bytes, or none: `missingAt` names the holder that surely lacks a good copy, if one does (see FetchResult). */
type DepResult = { bytes: Uint8Array } | { missingAt: string | undefined };

/** One fetch from one set of holders, shared by its waiters. */
interface Fetch {
  controller: AbortController;
  keys: string[];
  waiters: number;
  done: boolean;
}

export type Gathered =
  /** Every dependency's bytes; `fetched` are held in the DepCache until `release`d. */
  | { ok: true; deps: Map<string, Uint8Array>; fetched: string[] }
  /**
   * The first dependency no holder handed over, with the holder to blame when one said it lacks
   * the value or sent bad bytes (none when links failed: the holder may be alive and slow).
   */
  | { ok: false; dep: string; holder: string | undefined };

export class DepGatherer {
  private readonly inflight = new Map<string, { result: Promise<DepResult>; fetch: Fetch }>();

  constructor(
    private readonly store: Store,
    private readonly cache: DepCache,
    private readonly fetcher: PeerFetcher,
    /** Called whenever the bytes held in the cache change. */
    private readonly onChange: () => void = () => {},
  ) {}

  /**
   * Resolves with the dependencies, or the first missing one; rejects with `signal.reason` when
   * `signal` aborts (nothing is then held for the caller).
   */
  async gather(specs: readonly DepSpec[], signal: AbortSignal): Promise<Gathered> {
    signal.throwIfAborted();
    const deps = new Map<string, Uint8Array>();
    const fetched: string[] = [];
    const waits: [string, Promise<DepResult>][] = [];
    const joined = new Set<Fetch>();
    const groups = new Map<string, { holders: DepSpec['holders']; keys: string[] }>();
    const expect = expectations(specs);
    for (const dep of specs) {
      const local = storedCopy(dep, this.store, this.fetcher);
      if (local) {
        deps.set(dep.key, local);
        continue;
      }
      const cached = this.cache.peek(dep.key);
      if (cached) {
        this.cache.acquire(dep.key, cached);
        fetched.push(dep.key);
        deps.set(dep.key, cached);
        continue;
      }
      const pending = this.inflight.get(dep.key);
      if (pending) {
        waits.push([dep.key, pending.result]);
        joined.add(pending.fetch);
        continue;
      }
      const signature = holdersSignature(dep.holders);
      const group = groups.get(signature) ?? { holders: dep.holders, keys: [] };
      group.keys.push(dep.key);
      groups.set(signature, group);
    }
    for (const { holders, keys } of groups.values()) {
      const fetch = this.startFetch(holders, keys, expect);
      joined.add(fetch);
      for (const key of keys) waits.push([key, (this.inflight.get(key) as { result: Promise<DepResult> }).result]);
    }
    for (const f of joined) f.waiters++;

    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    let results: (readonly [string, DepResult])[];
    try {
      results = await Promise.race([Promise.all(waits.map(async ([key, p]) => [key, await p] as const)), aborted]);
    } catch (e) {
      for (const key of fetched) this.cache.release(key);
      this.onChange();
      throw e;
    } finally {
      signal.removeEventListener('abort', onAbort as () => void);
      for (const f of joined) if (--f.waiters === 0 && !f.done) this.abortFetch(f, signal.reason);
    }
    let missing: { dep: string; holder: string | undefined } | undefined;
    for (const [key, r] of results) {
      if ('bytes' in r) {
        this.cache.acquire(key, r.bytes);
        fetched.push(key);
        deps.set(key, r.bytes);
      } else {
        missing ??= { dep: key, holder: r.missingAt };
      }
    }
    if (missing) {
      for (const key of fetched) this.cache.release(key);
      this.onChange();
      return { ok: false, ...missing };
    }
    this.onChange();
    return { ok: true, deps, fetched };
  }

  /** Drops the caller's hold on fetched dependencies. */
  release(fetched: readonly string[]): void {
    for (const key of fetched) this.cache.release(key);
    if (fetched.length > 0) this.onChange();
  }

  private startFetch(holders: DepSpec['holders'], keys: string[], expect: ReadonlyMap<string, Expected>): Fetch {
    const fetch: Fetch = { controller: new AbortController(), keys, waiters: 0, done: false };
    const all = this.fetcher
      .fetch(holders, keys, { signal: fetch.controller.signal, expect })
      .catch((): FetchResult => ({ values: new Map(), missing: keys.map((key) => ({ key, holder: holders[0]?.id ?? '' })) })) // aborted
      .finally(() => {
        fetch.done = true;
        for (const key of keys) if (this.inflight.get(key)?.fetch === fetch) this.inflight.delete(key);
      });
    for (const key of keys) {
      const result = all.then((r): DepResult => {
        const bytes = r.values.get(key);
        const blamed = r.missing.find((m) => m.key === key && m.absent);
        return bytes ? { bytes } : { missingAt: blamed?.holder };
      });
      this.inflight.set(key, { result, fetch });
    }
    return fetch;
  }

  private abortFetch(fetch: Fetch, reason: unknown): void {
    fetch.done = true;
    for (const key of fetch.keys) if (this.inflight.get(key)?.fetch === fetch) this.inflight.delete(key);
    fetch.controller.abort(reason);
  }

  /** Aborts every fetch (the worker is closing). */
  close(reason: unknown): void {
    for (const { fetch } of [...this.inflight.values()]) if (!fetch.done) this.abortFetch(fetch, reason);
  }
}
