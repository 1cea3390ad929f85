/**
 * MAX_PENDING_TASKS_PER_CLIENT: the tasks each client created that may not have finished yet.
 *
 * Kept beside the state machine, not in it: a set of keys per client, counted on the way in and
 * recounted against the state (dropping keys whose tasks finished, failed, were released or
 * forgotten) only when the set has doubled since the last recount or a graph would not fit, so
 * the cost per task stays constant and the set at most twice the pending tasks (plus a floor).
 */

/** Below this many keys a client's set is never recounted (it costs nothing to keep). */
export const PENDING_RECOUNT_FLOOR = 4_096;
/** A client at its limit is recounted at most this often, in milliseconds: refused graphs cannot make the scheduler recount a million keys each. */
export const PENDING_RECOUNT_MIN_INTERVAL_MS = 1_000;

interface Entry {
  keys: Set<string>;
  /** The set's size after the last recount. */
  afterRecount: number;
  /** When a graph that did not fit last made it recount (performance.now()). */
  overflowAt: number;
}

export class PendingTasks {
  private readonly byClient = new Map<string, Entry>();

  constructor(
    private readonly limit: number,
    /** Whether the task under `key` is still to finish (waiting, queued or processing). */
    private readonly isPending: (key: string) => boolean,
  ) {}

  /**
   * Records `keys` (tasks `clientId` just created) if they fit under the limit; otherwise
   * records nothing and returns the number of tasks of that client still pending.
   */
  admit(
    clientId: string,
    keys: readonly string[],
    now = performance.now(),
  ): { ok: true } | { ok: false; pending: number } {
    let entry = this.byClient.get(clientId);
    if (!entry) this.byClient.set(clientId, (entry = { keys: new Set(), afterRecount: 0, overflowAt: -Infinity }));
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

  /** The client left. */
  forget(clientId: string): void {
    this.byClient.delete(clientId);
  }

  private recount(entry: Entry): void {
    for (const k of entry.keys) if (!this.isPending(k)) entry.keys.delete(k);
    entry.afterRecount = entry.keys.size;
  }
}
