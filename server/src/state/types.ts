/** The records of the scheduler's state machine. Plain data: no I/O, no timers. */
import type { SmallMap, SmallSet } from './compact.js';
import type { Replicas } from './verify.js';
import type { WireError } from '@meshwork/protocol';

/**
 * - waiting: some dependency is not in memory yet
 * - queued: ready to run, held by the scheduler until a worker has room
 * - processing: sent to a worker
 * - memory: the result sits on one or more workers
 * - erred: it (or a dependency) failed
 * - released: no result anywhere and no one needs one; kept only as lineage for its dependents
 */
export type TaskStatus = 'waiting' | 'queued' | 'processing' | 'memory' | 'erred' | 'released';

export interface TaskState {
  readonly key: string;
  /** Function id; '' for scattered data, which has no lineage, and for a task whose function was never sent (it fails at once). */
  readonly fn: string;
  readonly fnName: string;
  /** The encoded arguments, one byte per character (see compact.ts). */
  readonly args: string;
  readonly deps: readonly TaskState[];
  /** Tasks that take this one as an input and still exist (sparse: see sparse.ts). */
  dependents: Set<TaskState>;
  /** Dependents that still need this result (waiting, queued or processing; sparse). */
  waiters: Set<TaskState>;
  /** How many deps are not in memory (meaningful while waiting). */
  waitingOn: number;
  status: TaskStatus;
  processingOn: WorkerState | null;
  /** The worker it was last sent to: a result from any other worker was never asked for. */
  lastSentTo: WorkerState | null;
  readonly whoHas: SmallSet<WorkerState>;
  nbytes: number;
  /** Value hash (BLAKE3) of the encoded result as its producer reported it (null when not reported): fetched copies must match. */
  hash: string | null;
  /** The encoded result, kept when small (see SCHEDULER_INLINE_CACHE_BYTES), one byte per character (see compact.ts). */
  inline: string | null;
  error: WireError | null;
  /** Client id → how many futures it holds for this key. */
  readonly wants: SmallMap<number>;
  /**
   * The tenant that created it (the client whose message did, or for a task's client the client
   * that task runs for, see tenancy.ts): whom it runs for when no client wants it (see `runsFor`).
   */
  readonly creator: string;
  readonly priority: number;
  readonly order: number;
  retriesLeft: number;
  /** Workers that died while running it. */
  suspicious: number;
  /** Distinct workers that must compute the same bytes before the result is believed (1: no check). */
  readonly verify: number;
  /** With `verify` > 1: its runs so far (who reported what) and who gave its replica back; null when none is pending. */
  replicas: Replicas | null;
  /** Workers whose copy of this value a peer surely found missing or wrong: it is made again elsewhere when it can be. */
  shunned: WorkerState[] | null;
  /** Workers that held it past their lease (see leases.ts), oldest first: their copies may still win; null when none. */
  stragglers: WorkerState[] | null;
  readonly restrictions: Restrictions | null;
  readonly timeoutMs: number | undefined;
  /** Gathers waiting for this key to settle (sparse). */
  gathers: SmallSet<PendingGather>;
  /** Position in the ready queue's lazy deletion scheme: bumped whenever it leaves the queue. */
  queueEpoch: number;
  /** Data put on workers by a client: cannot be recomputed. */
  readonly scattered: boolean;
  /** A steal-request for it is out. */
  stealing: boolean;
  /** Its group's counters (tasks of the same function, by status), moved with its status. */
  readonly group: TaskGroup;
}

/** The tasks of one function (the name part of their keys), counted by status; see groups.ts. */
export interface TaskGroup {
  /** The function's name; 'scatter' for scattered data. */
  readonly name: string;
  readonly counts: Record<TaskStatus, number>;
  /** Tasks of the group the scheduler knows (the sum of `counts`). */
  size: number;
  /** Since the scheduler started; kept after the group's last task goes (see groups.ts). */
  readonly totals: GroupTotals;
}

/** What a task group did since the scheduler started, released tasks included. */
export interface GroupTotals {
  /** Runs that finished (a result was stored). */
  finished: number;
  /** Tasks that failed for good (no retries left). */
  failed: number;
}

export interface Restrictions {
  workers: string[] | undefined;
  allowOtherWorkers: boolean;
  resources: Record<string, number> | undefined;
}

export interface WorkerState {
  readonly id: string;
  /**
   * Times it was outvoted on a verified task (see verify.ts), plus the distinct peers that surely
   * found a value it held missing or wrong (`blamedBy`).
   */
  suspicions: number;
  /** Workers that blamed it with certainty (each counts once toward `suspicions`); null when none. */
  blamedBy: Set<string> | null;
  /** Outvoted too often: it gets no more tasks. */
  excluded: boolean;
  readonly name: string;
  readonly kind: 'node' | 'browser';
  readonly agent: string;
  readonly threads: number;
  readonly resources: Record<string, number>;
  readonly dataAddress: string | null;
  /** The address its connection came from, as replicas.ts counts it (an IPv6 address by its /64); '' when unknown. */
  readonly address: string;
  readonly memoryLimit: number | null;
  memoryUsed: number;
  /** Replicas of verified tasks it is processing (running or seceded). */
  replicas: number;
  /** Its votes that agreed with a verdict: what it was seen to compute right (see `trustedThreads`). */
  agreed: number;
  paused: boolean;
  /** Tasks it held past their lease that now run elsewhere too, while its copies last (see leases.ts): they hold its threads. */
  readonly overdue: Set<TaskState>;
  /** Its copies overtaken by a later copy of the same task (see leases.ts). */
  racesLost: number;
  /** Tasks sent to it that count against its threads. */
  readonly processing: Set<TaskState>;
  /** Tasks sent to it that wait on other tasks (seceded): they do not count against its threads. */
  readonly seceded: Set<TaskState>;
  /** Resources held by its processing tasks. */
  readonly resourcesUsed: Record<string, number>;
  readonly hasWhat: Set<TaskState>;
  bytesStored: number;
  tasksDone: number;
  /** Time per task at its recent pace, as the scheduler saw its results arrive (a moving average × threads), in ms; null before it is known. */
  msPerTask: number | null;
  /** When its last result arrived while it still had tasks (the scheduler's clock); null when it was left idle. */
  busySince: number | null;
  /** Function ids whose source this worker has been sent. */
  readonly fnsSent: Set<string>;
}

/** A task function the scheduler holds: kept while some task uses it, forgotten with the last. */
export interface FunctionEntry {
  /** Its id, a string of its own (see `ownString`): tasks name their function with this one. */
  readonly id: string;
  readonly name: string;
  readonly source: string;
  readonly module: { name: string; hash: string } | undefined;
  /** Tasks the scheduler has that use it. */
  tasks: number;
  /** Workers it was sent to (their `fnsSent` name it). */
  readonly sentTo: Set<WorkerState>;
}

export interface ClientState {
  readonly id: string;
  readonly name: string;
  /** The client it acts for (a task client, see tenancy.ts), else its own id. */
  readonly tenant: string;
  /** Keys this client wants (holds futures for). */
  readonly wants: Set<TaskState>;
}

export interface PendingGather {
  readonly clientId: string;
  readonly id: number;
  readonly keys: string[];
  remaining: number;
  /** Keys cancelled while the gather waited: answered with CancelledError. */
  cancelled?: Set<string>;
  /** Values held only by tabs were copied to a Node worker for it (once). */
  acquired?: boolean;
}
