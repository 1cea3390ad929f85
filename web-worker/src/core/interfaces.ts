/**
 * The seams between the runtime-free core and a host: where tasks run (Executor) and how
 * dependencies arrive from peers (PeerFetcher). Node implements them with worker_threads and
 * TCP; the browser host will implement them with Web Workers and WebRTC.
 */
import type { WireError, WorkerChannel } from '@meshwork/protocol';

/** An uploaded module, by name and content hash. */
export type ModuleRef = NonNullable<WorkerChannel.ComputeTask['module']>;

/** One task, ready to run: every dependency's encoded bytes are at hand. */
export interface Job {
  key: string;
  /** Function id; threads cache the rebuilt function under it. */
  fn: string;
  fnName: string;
  /**
   * The function's source text (the executor sends it only to threads that lack it); with
   * `module`, the name of the module's export that is the function.
   */
  source: string;
  /**
   * Set when the function is an export of an uploaded module; the executor fetches its source
   * (`ModuleSources`) for threads that lack the function.
   */
  module?: ModuleRef | undefined;
  /** The capability of the client the task runs for (compute-task `capability`), for the task's client. */
  capability?: string | undefined;
  /** The encoded argument array; FutureRefs inside stand for `deps`. */
  args: Uint8Array;
  /** Dependency key → encoded value. The executor must not mutate or transfer these. */
  deps: ReadonlyMap<string, Uint8Array>;
}

interface Timing {
  /** Date.now() when the function was called and when it returned. */
  startedAt: number;
  stoppedAt: number;
  /** Index of the thread that ran it. */
  thread: number;
}

export type { Digest, Expected, FetchOptions, FetchResult, PeerFetcher } from '@meshwork/datalink';

export type Outcome = (Timing & { ok: true; bytes: Uint8Array; hash?: string | undefined }) | (Timing & { ok: false; error: WireError });

/** What a running job may tell its caller before it ends. */
export interface RunHooks {
  /**
   * The job started (true) or stopped (false) waiting on other tasks through a client inside the
   * task (dask's secede/rejoin). Called only on changes, and never after the job's outcome.
   */
  onWait?(waiting: boolean): void;
  /**
   * The job has a thread and is about to be sent to it; called at most once, before the outcome.
   * A task's `timeoutMs` counts from here, not from the wait for a thread (a thread replacing a
   * timed-out one takes a while to start). Every executor must call it.
   */
  onStart?(): void;
}

export interface Executor {
  readonly threads: number;
  /** Jobs it takes at once, plus one per waiting job (default `threads`): a thread pool queues the next job in each thread. */
  readonly jobsAtOnce?: number;
  /**
   * Runs a job on a free thread. Never rejects: a thrown task, a dead thread and an abort all
   * come back as `ok: false` (an abort as `errorToWire(signal.reason)`). At most `jobsAtOnce` jobs
   * are given at once, plus one more for each job that is waiting (`onWait(true)`): the executor
   * starts an extra thread for it when none is idle, and stops extra threads as they come free.
   */
  run(job: Job, signal: AbortSignal, hooks?: RunHooks): Promise<Outcome>;
  close(): Promise<void>;
}

