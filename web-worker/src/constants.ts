/**
 * Limits and timeouts of the worker runtime, each named with its unit. The ones both ends of a
 * connection must agree on live in `@meshwork/protocol` (constants.ts); these are local policy.
 */

/** Tasks a worker holds (fetching, ready or running) before it refuses more; the scheduler sends
 * about threads + WORKER_QUEUE_EXTRA, so this only guards against a runaway scheduler. */
export const MAX_QUEUED_TASKS = 100_000;

/** Task functions a thread keeps rebuilt; past this the least recently used is rebuilt on demand. */
export const MAX_CACHED_FUNCTIONS_PER_THREAD = 1_000;

/** A thread must load its script and answer a ping within this time, in milliseconds. */
export const THREAD_START_TIMEOUT_MS = 10_000;

/** Closing (a socket, the scheduler link, a thread) waits this long before forcing, in milliseconds. */
export const CLOSE_TIMEOUT_MS = 5_000;

/** Host the data link binds to when none is given. */
export const DEFAULT_DATA_HOST = '127.0.0.1';

/** A `run-function` (client.run) gives up after this long, in milliseconds; its thread is replaced. */
export const RUN_FUNCTION_TIMEOUT_MS = 10 * 60_000;

/** Fetching an uploaded module's source gives up after this long, in milliseconds. */
export const MODULE_FETCH_TIMEOUT_MS = 30_000;

/**
 * Module versions whose source a worker's host keeps (each at most MAX_MODULE_SOURCE_LENGTH
 * characters) to send to its threads; past this the least recently used is fetched again on demand.
 */
export const MAX_CACHED_MODULE_SOURCES = 8;

/**
 * A heartbeat leaves at once (in the current turn's batch) when the memory in use has moved by
 * more than this fraction of the memory limit since the last report; otherwise every
 * HEARTBEAT_INTERVAL_MS. The scheduler pauses a worker above MEMORY_PAUSE_FRACTION of its limit.
 */
export const MEMORY_REPORT_FRACTION = 0.05;

/** Threads beyond `threads` started for tasks of tasks (seceded tasks give their slot away). */
export const MAX_EXTRA_THREADS = 1_024;

/**
 * A Node worker that lost its scheduler tries to join it again for this long before it stops,
 * in milliseconds (`rejoinTimeoutMs` overrides it; 0 stops at once).
 */
export const REJOIN_TIMEOUT_MS = 60_000;

/** Pause after the first failed attempt to rejoin, in milliseconds; it doubles after each failure. */
export const REJOIN_FIRST_DELAY_MS = 100;

/** Longest pause between two attempts to rejoin, in milliseconds. */
export const REJOIN_MAX_DELAY_MS = 5_000;

/** Each pause between attempts to rejoin moves by up to this fraction either way (jitter). */
export const REJOIN_JITTER = 0.2;

/**
 * Jobs a task thread holds at once: the one it runs and the next, which it starts as soon as the
 * first ends instead of waiting for the host to hear of the end and send another (a wake-up of
 * each side per task; core/job-queue.ts).
 */
export const JOBS_PER_THREAD = 2;

/**
 * While its jobs are short, a thread holds up to MAX_JOBS_PER_THREAD, about QUEUED_THREAD_WORK_MS
 * of work: the host then wakes it once for several jobs, and a slow one holds few others back.
 */
export const MAX_JOBS_PER_THREAD = 8;
export const QUEUED_THREAD_WORK_MS = 4;

/**
 * How long a job aborted while queued (stolen, freed) may run once it turns out its thread had
 * already started it, before the thread is ended: short tasks finish, and the thread is kept.
 */
export const ABANDONED_GRACE_MS = 1_000;

/**
 * A client's `put-data` that arrives before the scheduler's `expect-put` for it (the two travel
 * different connections) waits for it this long, in milliseconds, then is refused.
 */
export const PUT_ANNOUNCE_WAIT_MS = 5_000;

/** `put-data` waiting for their announcement at once, at most; past it one is refused at once. */
export const MAX_WAITING_PUTS = 64;
