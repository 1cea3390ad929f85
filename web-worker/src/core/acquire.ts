/**
 * `acquire`, runtime-free: copy values from their holders into this worker's store, so the
 * scheduler can name this worker as a holder (a Node worker copies a value only browser tabs
 * hold, for a Node client to fetch it directly). Values already here are reported at once; a
 * value some task of this worker has fetched already is taken from the DepCache; the rest are
 * fetched through the PeerFetcher, one fetch per distinct holder list. The memory limit is not
 * checked: the scheduler asks only workers it has not paused, and it needs the copy.
 */
import type { WorkerChannel } from '@meshwork/protocol';
import type { Expected, PeerFetcher } from './interfaces.js';
import type { DepCache, Store } from './store.js';

type DepSpec = WorkerChannel.DepSpec;

export interface Acquisition {
  /** The keys now in the store, with their sizes in bytes. */
  items: { key: string; nbytes: number }[];
  /**
   * Keys no holder delivered; with the holder to blame when one surely lacks a good copy (said
   * data-missing, or sent bytes that do not match). A failed link blames no one: the holder may
   * be alive and slow, and dropping its copy would recompute the value (a different one, if impure).
   */
  missing: { key: string; holder?: string }[];
}

/** Resolves with what is stored now and what is not; rejects only when `signal` aborts. */
export async function acquireValues(
  specs: readonly DepSpec[],
  o: { store: Store; cache: DepCache; fetcher: PeerFetcher; signal: AbortSignal },
): Promise<Acquisition> {
  const groups = new Map<string, { holders: DepSpec['holders']; keys: string[] }>();
  const expect = expectations(specs);
  for (const spec of specs) {
    if (storedCopy(spec, o.store, o.fetcher)) continue;
    const cached = o.cache.peek(spec.key);
    if (cached) {
      o.store.put(spec.key, cached, spec.hash);
      continue;
    }
    const signature = holdersSignature(spec.holders);
    const group = groups.get(signature) ?? { holders: spec.holders, keys: [] };
    group.keys.push(spec.key);
    groups.set(signature, group);
  }
  const fetched = await Promise.all([...groups.values()].map((g) => o.fetcher.fetch(g.holders, g.keys, { signal: o.signal, expect })));
  o.signal.throwIfAborted();
  const blame = new Map<string, string>();
  for (const r of fetched) {
    for (const [key, bytes] of r.values) o.store.put(key, bytes, expect.get(key)?.hash);
    for (const m of r.missing) if (m.absent) blame.set(m.key, m.holder);
  }
  const items: Acquisition['items'] = [];
  const missing: Acquisition['missing'] = [];
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.key)) continue;
    seen.add(spec.key);
    const bytes = o.store.get(spec.key);
    if (bytes) items.push({ key: spec.key, nbytes: bytes.byteLength });
    else {
      const holder = blame.get(spec.key);
      missing.push(holder === undefined ? { key: spec.key } : { key: spec.key, holder });
    }
  }
  return { items, missing };
}

/** Identifies a list of holders (id and address: every tab has the same address, 'webrtc'). */
export function holdersSignature(holders: DepSpec['holders']): string {
  return holders.map((h) => `${h.id} ${h.address}`).join('\n');
}

/** Key → the size and hash its fetched bytes must match (see PeerFetcher `expect`). */
export function expectations(specs: readonly DepSpec[]): Map<string, Expected> {
  return new Map(specs.map((s) => [s.key, { nbytes: s.nbytes, hash: s.hash }]));
}

/**
 * The stored bytes of `dep`, when they may be used as it: the scheduler lists this worker among
 * its holders, and the value hash they had when stored is the one the scheduler gave (either unknown:
 * trusted). A copy that is not the value the scheduler knows (planted, or from before the value
 * was made again) is dropped: the value is fetched from the other holders, and when none has it
 * this worker is blamed, so the scheduler drops it as a holder.
 */
export function storedCopy(dep: DepSpec, store: Store, fetcher: PeerFetcher): Uint8Array | undefined {
  if (!listedHere(dep, fetcher)) return undefined;
  const bytes = store.get(dep.key);
  if (bytes === undefined) return undefined;
  const had = store.hashOf(dep.key);
  if (dep.hash === undefined || had === undefined || had === dep.hash) return bytes;
  store.delete(dep.key);
  return undefined;
}

/**
 * Whether the scheduler lists this worker among the holders of `dep`, so its stored copy may be
 * used. Bytes a client put here under that key without the scheduler's word are not an input:
 * the value is fetched from the holders the scheduler named. (A fetcher that does not know its
 * id, as in some unit tests, trusts its store.)
 */
export function listedHere(dep: DepSpec, fetcher: PeerFetcher): boolean {
  const self = fetcher.localId;
  return self === undefined || dep.holders.some((h) => h.id === self);
}
