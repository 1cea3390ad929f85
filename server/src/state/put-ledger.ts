/**
 * The announced puts the scheduler has outstanding on each worker, pure (the scheduler's clock is
 * given). A worker stores a client's `put-data` only for a key announced to it (`expect-put`), and
 * keeps at most MAX_ANNOUNCED_PUTS announcements, dropping its oldest past that. If the scheduler
 * announced without count, one client (a rival tenant) could ask for huge plans it never puts and
 * push every other client's announcements out of a worker's table, so their scatters fail. So the
 * scheduler counts, per worker, what it announced and not yet saw used, and makes a plan only
 * within two limits: MAX_ANNOUNCED_PUTS per worker (the worker's table never overflows) and
 * MAX_ANNOUNCED_PUTS_PER_CLIENT per client (a tenant) on each worker (one client cannot take a
 * worker's whole table). A plan past either is refused whole.
 *
 * An announcement stops counting when the worker reports it used (`puts-stored`: the worker, not
 * the client, says so, since a client could claim puts it never made), or when it has expired on
 * the worker (ANNOUNCED_PUT_TTL_MS, and ANNOUNCED_PUT_COUNT_SLACK_MS more here: the scheduler
 * never believes a table emptier than it is). A worker's count goes with it when it leaves.
 */
import {
  ANNOUNCED_PUT_COUNT_SLACK_MS,
  ANNOUNCED_PUT_TTL_MS,
  MAX_ANNOUNCED_PUTS,
  MAX_ANNOUNCED_PUTS_PER_CLIENT,
} from '@meshwork/protocol';

export interface PutLedgerLimits {
  /** Outstanding announcements on one worker, all clients together. */
  perWorker: number;
  /** Outstanding announcements of one client (tenant) on one worker. */
  perClient: number;
}

/** How many more announcements a client may have on a worker now, and which limit is nearer. */
export interface Room {
  left: number;
  /** The limit that bounds `left`: the client's share or the worker's table. */
  bound: 'client' | 'worker';
  /** What the client has outstanding there, and all clients together. */
  client: number;
  worker: number;
}

interface WorkerLedger {
  /** Key → the client that announced it and until when it counts; every entry counts as long, so the first expires first. */
  readonly entries: Map<string, { tenant: string; until: number }>;
  readonly perTenant: Map<string, number>;
}

export class PutLedger {
  /** Per worker (its state object): a worker that leaves takes its count with it. */
  private readonly byWorker = new WeakMap<object, WorkerLedger>();

  constructor(
    private readonly now: () => number,
    readonly limits: PutLedgerLimits = { perWorker: MAX_ANNOUNCED_PUTS, perClient: MAX_ANNOUNCED_PUTS_PER_CLIENT },
  ) {}

  room(worker: object, tenant: string): Room {
    const l = this.byWorker.get(worker);
    if (l) this.expire(l);
    const client = l?.perTenant.get(tenant) ?? 0;
    const all = l?.entries.size ?? 0;
    const byClient = this.limits.perClient - client;
    const byWorker = this.limits.perWorker - all;
    return {
      left: Math.max(0, Math.min(byClient, byWorker)),
      bound: byClient <= byWorker ? 'client' : 'worker',
      client,
      worker: all,
    };
  }

  /** `tenant` announced `keys` to `worker`; a key announced there again counts once, for the latest. */
  announce(worker: object, tenant: string, keys: Iterable<string>): void {
    let l = this.byWorker.get(worker);
    if (!l) this.byWorker.set(worker, (l = { entries: new Map(), perTenant: new Map() }));
    const until = this.now() + ANNOUNCED_PUT_TTL_MS + ANNOUNCED_PUT_COUNT_SLACK_MS;
    for (const key of keys) {
      this.drop(l, key);
      l.entries.set(key, { tenant, until });
      l.perTenant.set(tenant, (l.perTenant.get(tenant) ?? 0) + 1);
    }
  }

  /** The worker took these announced puts (`puts-stored`); other keys are ignored. */
  used(worker: object, keys: readonly string[]): void {
    const l = this.byWorker.get(worker);
    if (l) for (const key of keys) this.drop(l, key);
  }

  /** Outstanding announcements on `worker`, after expiry (for tests and the invariant checker). */
  outstanding(worker: object): number {
    const l = this.byWorker.get(worker);
    if (!l) return 0;
    this.expire(l);
    return l.entries.size;
  }

  private drop(l: WorkerLedger, key: string): void {
    const e = l.entries.get(key);
    if (!e) return;
    l.entries.delete(key);
    const n = (l.perTenant.get(e.tenant) ?? 0) - 1;
    if (n > 0) l.perTenant.set(e.tenant, n);
    else l.perTenant.delete(e.tenant);
  }

  private expire(l: WorkerLedger): void {
    const now = this.now();
    for (const [key, e] of l.entries) {
      if (e.until > now) break;
      this.drop(l, key);
    }
  }
}
