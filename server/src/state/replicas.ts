/**
 * Where a verified task's next replica runs (see verify.ts). One attacker may hold several worker
 * connections, so nothing a worker says of itself buys it a vote: not its `kind`, not its `threads`
 * (it holds at most `maxReplicas`, see placement.ts `allowed`), not its name. A replica goes to a worker
 * chosen at random among those with room, preferring an address that has not voted on the task
 * yet; while some worker of such an address could run it but is busy, the replica waits for it
 * rather than let an address vote twice. Workers that share one address (loopback, a NAT, a proxy
 * in front of the scheduler) are told apart by nothing: among them the choice is random.
 */
import { allowed } from './placement.js';
import type { TaskState, WorkerState } from './types.js';

/**
 * The address a worker is counted under: an IPv4 address (IPv4-mapped IPv6 included) as is, an
 * IPv6 address by its /64 prefix (one host commonly holds a whole /64), '' when unknown.
 */
export function addressGroup(ip: string | undefined): string {
  if (ip === undefined) return '';
  const v4 = /^(?:::ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (v4) return v4[1] as string;
  if (!ip.includes(':')) return ip;
  const [head = '', tail] = (ip.split('%')[0] ?? '').split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}

/** True when `w` could ever run `t` (its restrictions allow it, whatever it is busy with now) and has not voted on it. */
export function couldRun(t: TaskState, w: WorkerState): boolean {
  return allowed(t, w, false);
}

/** True when some live worker could still run `t`: a further vote is possible. */
export function anyEligible(t: TaskState, workers: Iterable<WorkerState>): boolean {
  for (const w of workers) if (couldRun(t, w)) return true;
  return false;
}

/**
 * The worker for `t`'s next replica among `candidates` (workers with room), or null to wait.
 * `workers`: every live worker (looked at only when no candidate has an unused address).
 */
export function chooseReplica(
  t: TaskState,
  candidates: Iterable<WorkerState>,
  workers: Iterable<WorkerState>,
  random: () => number,
): WorkerState | null {
  const used = new Set<string>();
  for (const v of t.replicas?.votes ?? []) used.add(v.worker.address);
  const fresh: WorkerState[] = [];
  const rest: WorkerState[] = [];
  for (const w of candidates) {
    if (!allowed(t, w)) continue; // it has not voted, and has room for a replica
    (used.has(w.address) ? rest : fresh).push(w);
  }
  let pool = fresh;
  if (pool.length === 0) {
    // A worker of an unused address is busy (not paused: it may never resume): wait for it.
    if (used.size > 0) for (const w of workers) if (!w.paused && !used.has(w.address) && couldRun(t, w)) return null;
    pool = rest;
  }
  if (pool.length === 0) return null;
  return pool[Math.min(pool.length - 1, Math.floor(random() * pool.length))] ?? null;
}
