/**
 * MAX_PENDING_TASKS_PER_TOKEN: the tasks the clients of one principal created that may not have
 * finished yet. A principal is the token a client connection was admitted with: all connections
 * that came with one token share one budget (opening more connections buys no more room). A
 * scheduler with no token cannot tell its clients apart: they are all one principal. A task's
 * client (tasks from tasks) counts against the principal of the client its task runs for.
 *
 * Kept beside the state machine, not in it: a set of keys per principal, counted on the way in and
 * recounted against the state (dropping keys whose tasks finished, failed, were released or
 * forgotten) only when the set has doubled since the last recount or a graph would not fit, so
 * the cost per task stays constant and the set at most twice the pending tasks (plus a floor).
 */

/** Below this many keys a principal's set is never recounted (it costs nothing to keep). */
export const PENDING_RECOUNT_FLOOR = 4_096;
/** A principal at its limit is recounted at most this often, in milliseconds: refused graphs cannot make the scheduler recount a million keys each. */
export const PENDING_RECOUNT_MIN_INTERVAL_MS = 1_000;

interface Entry {
  readonly principal: string;
  keys: Set<string>;
  /** Client connections of this principal open now: the entry goes with the last. */
  clients: number;
  /** The set's size after the last recount. */
  afterRecount: number;
  /** When a graph that did not fit last made it recount (performance.now()). */
  overflowAt: number;
}

/** The principal of a client admitted with `token`: the token on a scheduler that has tokens, else one for all. */
export function principalOf(secured: boolean, token: string | undefined): string {
  return secured && token !== undefined ? `token:${token}` : 'open';
}

export class PendingTasks {
  private readonly byPrincipal = new Map<string, Entry>();
  private readonly clients = new Map<string, Entry>();

  constructor(
    private readonly limit: number,
    /** Whether the task under `key` is still to finish (waiting, queued or processing). */
    private readonly isPending: (key: string) => boolean,
  ) {}

  /** A client connection of `principal` (see principalOf) was admitted. */
  join(clientId: string, principal: string): void {
    let entry = this.byPrincipal.get(principal);
    if (!entry) {
      entry = { principal, keys: new Set(), clients: 0, afterRecount: 0, overflowAt: -Infinity };
      this.byPrincipal.set(principal, entry);
    }
    entry.clients++;
    this.clients.set(clientId, entry);
  }

  /** The principal a connected client counts against. */
  principalOfClient(clientId: string): string | undefined {
    return this.clients.get(clientId)?.principal;
  }

  /**
   * Records `keys` (tasks `clientId` just created) if they fit under its principal's limit;
   * otherwise records nothing and returns the number of tasks of that principal still pending.
   */
  admit(
    clientId: string,
    keys: readonly string[],
    now = performance.now(),
  ): { ok: true } | { ok: false; pending: number } {
    const entry = this.clients.get(clientId);
    if (!entry) return { ok: true }; // not joined (the scheduler joins every client at its hello): nothing to count against
    if (entry.keys.size + keys.length > this.limit) {
      if (now - entry.overflowAt >= PENDING_RECOUNT_MIN_INTERVAL_MS) {
        entry.overflowAt = now;
        this.recount(entry);
      }
      if (entry.keys.size + keys.length > this.limit) return { ok: false, pending: entry.keys.size };
    }
    for (const k of keys) entry.keys.add(k);
    if (entry.keys.size > Math.max(PENDING_RECOUNT_FLOOR, 2 * entry.afterRecount)) this.recount(entry);
    return { ok: true };
  }

  /** The client left; its principal's tasks still count while another of its connections is open. */
  forget(clientId: string): void {
    const entry = this.clients.get(clientId);
    if (!entry) return;
    this.clients.delete(clientId);
    if (--entry.clients > 0) return;
    this.byPrincipal.delete(entry.principal);
  }

  private recount(entry: Entry): void {
    for (const k of entry.keys) if (!this.isPending(k)) entry.keys.delete(k);
    entry.afterRecount = entry.keys.size;
  }
}
