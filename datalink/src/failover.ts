/**
 * THE failover of the data plane, runtime-free: `fetchWithFailover` asks holders in order, the
 * next one only for what is still missing, each within an overall deadline, and decides whom to
 * blame for what no one delivered (the one blame rule, below). A HolderFetcher asks one holder
 * over one kind of link; routing.ts picks it per holder.
 */
import { TimeoutError, valueMismatch, type Holder } from '@meshwork/protocol';
import { FETCH_DEADLINE_FLOOR_BYTES_PER_S, FETCH_DEADLINE_SLACK_MS, HOLDER_FAILURES_TO_BLAME } from './constants.js';
import { arrivedOr, type Digest, type Expected, type FetchOptions, type FetchResult, type TransferPath } from './fetch.js';
import { silentLogger, type Logger } from './logger.js';

/** What one holder answered. */
export interface HolderDelivery {
  values: Map<string, Uint8Array>;
  /** The path the values came by, when the fetcher chose it (WebRTC, or relayed through the scheduler). */
  path?: TransferPath;
  /** Keys the holder said it does not hold. */
  missing: string[];
}

/** Asks one holder over one kind of link. */
export interface HolderFetcher {
  /**
   * Resolves with what `holder` delivered and what it said it lacks; rejects when it could not be
   * reached, failed or stalled (bounded by PEER_FETCH_TIMEOUT_MS without progress), or `signal` aborted.
   */
  fetchFrom(holder: Holder, keys: readonly string[], options: { signal: AbortSignal }): Promise<HolderDelivery>;
}

/**
 * How long one holder may take to hand over `keys`, in milliseconds: their expected bytes at the
 * floor bandwidth, plus slack. A holder that trickles bytes (each one restarting the link's
 * silence timer) is cut off here.
 */
export function fetchDeadlineMs(keys: readonly string[], expect?: ReadonlyMap<string, Expected>): number {
  let bytes = 0;
  for (const key of keys) bytes += expect?.get(key)?.nbytes ?? 0;
  return FETCH_DEADLINE_SLACK_MS + Math.ceil((bytes / FETCH_DEADLINE_FLOOR_BYTES_PER_S) * 1000);
}

/**
 * Failed fetches (link failures, stalls, deadlines) per holder, since it last delivered. A holder
 * that fails HOLDER_FAILURES_TO_BLAME times in a row is blamed as surely lacking what it failed to
 * hand over, so the scheduler drops its copy and fetches elsewhere or recomputes: a live holder
 * that never delivers would otherwise be asked again forever.
 */
export class HolderFailures {
  private readonly counts = new Map<string, number>();
  /** Errors already counted: one closed link fails every fetch waiting on it with the same error. */
  private readonly counted = new WeakSet<object>();

  /**
   * Counts one failure of `holder`, unless `cause` (the error the fetch failed with) was counted
   * already: a link that closed under several fetches at once is one failure, not several (a
   * wedged data channel would otherwise get an honest holder blamed in one go).
   */
  failed(holder: string, cause?: unknown): number {
    if (typeof cause === 'object' && cause !== null) {
      if (this.counted.has(cause)) return this.counts.get(holder) ?? 0;
      this.counted.add(cause);
    }
    const n = (this.counts.get(holder) ?? 0) + 1;
    this.counts.set(holder, n);
    if (this.counts.size > MAX_TRACKED_HOLDERS) this.counts.delete(this.counts.keys().next().value as string);
    return n;
  }

  delivered(holder: string): void {
    this.counts.delete(holder);
  }

  /** The holder has failed often enough to be blamed. */
  blamed(holder: string): boolean {
    return (this.counts.get(holder) ?? 0) >= HOLDER_FAILURES_TO_BLAME;
  }
}

/** Holders whose failures are remembered; past this the oldest is forgotten. */
const MAX_TRACKED_HOLDERS = 4_096;

export interface FailoverOptions {
  logger?: Logger;
  /** This worker's id: its own store was looked in first, so a listing of it is passed over. */
  skip?: string;
  /** Checks fetched bytes against `expect`'s hashes; without it only sizes are checked. */
  digest?: Digest;
  /** Failure counts per holder, kept across fetches by the caller. */
  failures?: HolderFailures;
  /** How long one holder may take for `keys` (default `fetchDeadlineMs`), in milliseconds. */
  deadlineMs?: (keys: readonly string[], expect?: ReadonlyMap<string, Expected>) => number;
}

/**
 * The PeerFetcher contract over `fetchFrom`: tries `holders` in order, asking each for the keys
 * still missing, each holder within `fetchDeadlineMs`. THE blame rule: a key no one delivered is
 * blamed on the first holder that surely lacks a good copy (`absent`): it said data-missing, sent
 * bytes that do not match `expect`, or has failed HOLDER_FAILURES_TO_BLAME fetches in a row; else
 * on the first holder, not `absent` (its link failed: it may be alive and slow). Rejects only when
 * `signal` aborts.
 */
export async function fetchWithFailover(
  holders: readonly Holder[],
  keys: readonly string[],
  options: FetchOptions,
  fetchFrom: HolderFetcher['fetchFrom'],
  o: FailoverOptions = {},
): Promise<FetchResult> {
  const { signal, expect } = options;
  const given = o.digest;
  const digest: Digest | undefined = given && arrivedOr(given);
  const log = o.logger ?? silentLogger;
  const values = new Map<string, Uint8Array>();
  const saidMissing = new Map<string, string>();
  let remaining = [...new Set(keys)];
  for (const holder of holders) {
    if (remaining.length === 0) break;
    signal.throwIfAborted();
    if (holder.id === o.skip) {
      // Callers look in their own store first: the scheduler listing this worker is wrong about it.
      for (const key of remaining) if (!saidMissing.has(key)) saidMissing.set(key, holder.id);
      continue;
    }
    const deadline = AbortSignal.timeout((o.deadlineMs ?? fetchDeadlineMs)(remaining, expect));
    try {
      const got = await fetchFrom(holder, remaining, { signal: AbortSignal.any([signal, deadline]) });
      if (got.values.size > 0) o.failures?.delivered(holder.id);
      for (const [key, bytes] of got.values) {
        const wrong = await valueMismatch(bytes, expect?.get(key), digest);
        if (wrong === undefined) {
          values.set(key, bytes);
          continue;
        }
        log.warn('a peer sent bytes that do not match the producer\'s; asking another holder', { holder: holder.id, key, why: wrong });
        if (!saidMissing.has(key)) saidMissing.set(key, holder.id);
      }
      for (const key of got.missing) if (!saidMissing.has(key)) saidMissing.set(key, holder.id);
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      const error = deadline.aborted ? new TimeoutError(`${holder.id} did not hand over ${remaining.length} value(s) within the fetch deadline`) : e;
      const failures = o.failures?.failed(holder.id, e);
      log.warn('fetch from a holder failed; trying the next', { holder: holder.id, address: holder.address, failures, error });
      if (o.failures?.blamed(holder.id)) for (const key of remaining) if (!saidMissing.has(key)) saidMissing.set(key, holder.id);
    }
    remaining = remaining.filter((k) => !values.has(k));
  }
  const blame = holders[0]?.id ?? '';
  return {
    values,
    missing: remaining.map((key) => {
      const said = saidMissing.get(key);
      return said === undefined ? { key, holder: blame } : { key, holder: said, absent: true as const };
    }),
  };
}

