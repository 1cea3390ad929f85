/**
 * Every limit and timeout of the client, named, with its unit.
 * Wire limits shared with the scheduler live in @meshwork/protocol (constants.ts).
 */
import {
  CONNECT_TIMEOUT_MS,
  INLINE_VALUE_MAX_BYTES,
  MAX_ANNOUNCED_PUTS_PER_CLIENT,
  MAX_KEYS_PER_REQUEST,
  PEER_FETCH_TIMEOUT_MS,
} from '@meshwork/protocol';

/** `Client.connect` gives up after this long unless `timeoutMs` says otherwise, in milliseconds. */
export const DEFAULT_CONNECT_TIMEOUT_MS = CONNECT_TIMEOUT_MS;

/** Opening the data link to a worker gives up after this long, in milliseconds. */
export const PEER_CONNECT_TIMEOUT_MS = CONNECT_TIMEOUT_MS;

/** One direct fetch of a batch of keys from one worker gives up after this long, in milliseconds. */
export const PEER_FETCH_BATCH_TIMEOUT_MS = PEER_FETCH_TIMEOUT_MS;

/**
 * A settled result up to this size (encoded, in bytes) is kept on the future's shared state,
 * so a second `result()` needs no round trip. Larger values are not kept: the worker holds them.
 */
export const RESULT_CACHE_MAX_BYTES = INLINE_VALUE_MAX_BYTES;

/**
 * How many times one key is asked of the scheduler when none of its holders could hand it over
 * (the data may have moved between the reply and the fetch, or its holder died and the scheduler
 * has not learnt it yet) before the wait fails.
 */
export const GATHER_ATTEMPTS = 8;

/**
 * How many times one key is asked of the scheduler while it answers that only browser tabs hold
 * it (which clients cannot reach): it copies such values onto a Node worker before answering when
 * it has one, so this answer means it has none (or the copy failed); the wait then fails within
 * a second (pauses of 100, 200 and 400 ms) with a ConnectionError that says to start a Node worker.
 */
export const ONLY_TABS_GATHER_ATTEMPTS = 4;

/** First pause before asking again for a key no holder handed over, in milliseconds (doubles each time). */
export const GATHER_RETRY_MS = 100;

/** Longest pause between two asks for the same key, in milliseconds (all 8 asks span about 10 s). */
export const GATHER_RETRY_MAX_MS = 4_000;

/**
 * One `update-graph` message holds at most this many tasks, or this many bytes of encoded
 * arguments (the first task over it starts the next message): a map of a million items leaves as
 * many modest messages, each handled by the scheduler as it arrives.
 */
export const GRAPH_MESSAGE_MAX_TASKS = 10_000;
export const GRAPH_MESSAGE_MAX_BYTES = 4 * 1024 * 1024;

/**
 * One `gather` or `who-has` message asks for at most this many keys, the scheduler's limit (a
 * gather of a million leaves as many messages, answered as each is ready).
 */
export const GATHER_MESSAGE_MAX_KEYS = MAX_KEYS_PER_REQUEST;

/** `close()` waits this long for the socket's closing handshake, in milliseconds. */
export const CLOSE_TIMEOUT_MS = 2_000;

/** Longest function-name prefix of a generated key, in characters. */
export const MAX_KEY_NAME_LENGTH = 64;

/** Bytes of randomness in the key of an impure task (`pure: false`). */
export const RANDOM_KEY_BYTES = 8;

/**
 * `scatter` waits this long for a worker to put data on (none connected, or none of `workers`),
 * unless `timeoutMs` says otherwise, in milliseconds.
 */
export const SCATTER_WORKER_WAIT_MS = CONNECT_TIMEOUT_MS;

/**
 * Values one scatter plan asks for at most; `scatter` plans and puts a larger one batch by batch.
 * A quarter of the scheduler's MAX_ANNOUNCED_PUTS_PER_CLIENT: the announcements of a batch just
 * put may still count for a moment (the worker's `puts-stored` is in flight) when the next is planned.
 */
export const SCATTER_PLAN_BATCH = MAX_ANNOUNCED_PUTS_PER_CLIENT / 4;

/**
 * First pause before asking for a scatter plan again when no worker could take the data, or the
 * scheduler refused the plan for announcements not yet used (LIMIT_EXCEEDED), in milliseconds (doubles each time).
 */
export const SCATTER_PLAN_RETRY_MS = 50;

/** Longest pause between two scatter plans, in milliseconds. */
export const SCATTER_PLAN_RETRY_MAX_MS = 1_000;

/** How many times a value that no planned worker stored is planned again before `scatter` fails. */
export const SCATTER_ATTEMPTS = 3;

/** Putting one batch of values on one worker gives up after this long, in milliseconds. */
export const PEER_PUT_BATCH_TIMEOUT_MS = PEER_FETCH_TIMEOUT_MS;

/**
 * A client that lost its scheduler tries to reconnect for this long before its futures and calls
 * fail for good with ConnectionError, in milliseconds (`reconnectTimeoutMs` overrides it; 0: never).
 */
export const RECONNECT_TIMEOUT_MS = 60_000;

/** Pause after the first failed attempt to reconnect, in milliseconds; it doubles after each failure. */
export const RECONNECT_FIRST_DELAY_MS = 100;

/** Longest pause between two attempts to reconnect, in milliseconds. */
export const RECONNECT_MAX_DELAY_MS = 5_000;

/** Each pause between attempts to reconnect moves by up to this fraction either way (jitter). */
export const RECONNECT_JITTER = 0.2;

/** Messages (submits, releases, requests) queued while reconnecting; past this, calls throw ConnectionError. */
export const RECONNECT_QUEUE_MAX_MESSAGES = 100_000;
