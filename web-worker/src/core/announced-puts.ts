/**
 * Which values clients may put here, runtime-free. A worker stores a client's `put-data` only for
 * a key the scheduler announced to it (`expect-put`, sent with the client's scatter plan), of the
 * announced size and value hash, and only once: anyone with the data secret (every worker of a
 * volunteer cluster) can reach this data link, so a put is believed only when the scheduler said
 * it was coming. A put that arrives before its announcement (they travel different connections)
 * waits up to PUT_ANNOUNCE_WAIT_MS. The scheduler keeps each client's announcements to a worker
 * under MAX_ANNOUNCED_PUTS_PER_CLIENT and all of them under MAX_ANNOUNCED_PUTS, counting until the
 * worker reports them used (`puts-stored`) or they expire, so one client's plans cannot push
 * another's announcements out of this table.
 */
import { ANNOUNCED_PUT_TTL_MS, MAX_ANNOUNCED_PUTS, valueMismatch } from '@meshwork/protocol';
import { MAX_WAITING_PUTS, PUT_ANNOUNCE_WAIT_MS } from '../constants.js';
import type { Digest } from './interfaces.js';

export interface Announcement {
  nbytes: number;
  hash: string;
}

/** Accepted, with the announced value hash the bytes matched; or refused, with why. */
type Verdict = { ok: true; hash: string } | { ok: false; message: string };

export class AnnouncedPuts {
  /** Key → what may be put under it and until when, the oldest first. */
  private readonly expected = new Map<string, Announcement & { until: number }>();
  /** Puts waiting for their key's announcement. */
  private readonly waiting = new Map<string, Set<() => void>>();
  private waiters = 0;

  constructor(
    private readonly digest: Digest | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  announce(items: readonly ({ key: string } & Announcement)[]): void {
    const until = this.now() + ANNOUNCED_PUT_TTL_MS;
    for (const { key, nbytes, hash } of items) {
      this.expected.delete(key);
      this.expected.set(key, { nbytes, hash, until });
      for (const wake of this.waiting.get(key) ?? []) wake();
    }
    while (this.expected.size > MAX_ANNOUNCED_PUTS) {
      const oldest = this.expected.keys().next();
      if (oldest.done) break;
      this.expected.delete(oldest.value);
    }
  }

  /**
   * Whether `bytes` may be stored under `key`: announced (waiting for it if need be), of the
   * announced size and hash. An accepted announcement is used up.
   */
  async check(key: string, bytes: Uint8Array, signal?: AbortSignal): Promise<Verdict> {
    const announced = this.current(key) ?? (await this.waitFor(key, signal));
    if (!announced)
      return {
        ok: false,
        message: `no scatter of '${key.slice(0, 64)}' to this worker was announced by the scheduler`,
      };
    const mismatch = await valueMismatch(bytes, announced, this.digest);
    if (mismatch !== undefined)
      return {
        ok: false,
        message: `the bytes put under '${key.slice(0, 64)}' are not the announced value: ${mismatch}`,
      };
    if (this.expected.get(key) === announced) this.expected.delete(key);
    return { ok: true, hash: announced.hash };
  }

  /** Drops the announcement of `key` (the same bytes were stored already); whether there was one. */
  discard(key: string): boolean {
    return this.expected.delete(key);
  }

  private current(key: string): (Announcement & { until: number }) | undefined {
    const a = this.expected.get(key);
    if (a && a.until < this.now()) {
      this.expected.delete(key);
      return undefined;
    }
    return a;
  }

  private waitFor(key: string, signal?: AbortSignal): Promise<(Announcement & { until: number }) | undefined> {
    if (this.waiters >= MAX_WAITING_PUTS || signal?.aborted) return Promise.resolve(undefined);
    this.waiters++;
    return new Promise((resolve) => {
      const wakers = this.waiting.get(key) ?? new Set<() => void>();
      this.waiting.set(key, wakers);
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        wakers.delete(done);
        if (wakers.size === 0 && this.waiting.get(key) === wakers) this.waiting.delete(key);
        this.waiters--;
        resolve(this.current(key));
      };
      const timer = setTimeout(done, PUT_ANNOUNCE_WAIT_MS);
      signal?.addEventListener('abort', done, { once: true });
      wakers.add(done);
    });
  }
}
