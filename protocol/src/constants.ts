/**
 * Every limit and timeout of the protocol, named, with its unit.
 * Both ends read these; a change here is a protocol change.
 */

/**
 * Bumped on any incompatible change of a schema, of the framing or of what a field means. 3: value
 * hashes are BLAKE3 (they were SHA-256), so peers of versions 2 and 3 would refuse each other's bytes.
 */
export const PROTOCOL_VERSION = 3;

/** Default port of a scheduler: HTTP and WebSocket share it. */
export const DEFAULT_SCHEDULER_PORT = 8786;

/** Largest control frame (one WebSocket message) accepted, in bytes. Larger closes that connection. */
export const MAX_CONTROL_FRAME_BYTES = 64 * 1024 * 1024;

/** Most messages in one control frame (a batch). */
export const MAX_MESSAGES_PER_FRAME = 200_000;

/**
 * A batch leaves in frames of about this size at most, in bytes (split between messages; a single
 * larger message leaves alone): far from MAX_CONTROL_FRAME_BYTES, and no giant frame to decode at once.
 */
export const FRAME_TARGET_BYTES = 8 * 1024 * 1024;

/** Values up to this size ride the control channel inline; larger ones go peer to peer. */
export const INLINE_VALUE_MAX_BYTES = 64 * 1024;

/** Longest key accepted, in characters. */
export const MAX_KEY_LENGTH = 512;

/** Longest function source accepted, in characters. */
export const MAX_FUNCTION_SOURCE_LENGTH = 1024 * 1024;

/** A connection must send `hello` within this time, in milliseconds. */
export const HELLO_TIMEOUT_MS = 10_000;

/** How often a worker reports that it is alive, in milliseconds. */
export const HEARTBEAT_INTERVAL_MS = 1_000;

/** A worker silent for this long is removed, in milliseconds. */
export const HEARTBEAT_TIMEOUT_MS = 15_000;

/** How many workers a task may kill (die while running it) before it fails with KilledWorkerError. */
export const DEFAULT_ALLOWED_FAILURES = 3;

/** Tasks a worker may hold beyond its thread count, so its threads never wait on a round trip. */
export const WORKER_QUEUE_EXTRA = 2;

/** Largest value one peer transfer carries, in bytes. */
export const MAX_VALUE_BYTES = 2 ** 31 - 1;

/** Largest header of a peer frame, in bytes. */
export const MAX_PEER_HEADER_BYTES = 1024 * 1024;

/**
 * A worker's data link also speaks WebSocket on the same port, for browser clients: the byte
 * stream of peer frames is cut into binary messages of at most this many bytes (a frame may span
 * messages), and a side that receives a larger message closes the link (close code 1009).
 */
export const DATA_LINK_WS_MESSAGE_MAX_BYTES = 256 * 1024;

/** Opening a connection (scheduler or peer) gives up after this long, in milliseconds. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** A peer fetch of one batch of keys gives up after this long, in milliseconds. */
export const PEER_FETCH_TIMEOUT_MS = 60_000;

/**
 * Longest per-task timeout (`client.with({ timeoutMs })`), in milliseconds: the longest delay a
 * timer honours (a longer one would fire at once), about 24.8 days.
 */
export const MAX_TASK_TIMEOUT_MS = 2 ** 31 - 1;

/** Small values the scheduler keeps for quick gathers, in bytes over all keys. */
export const SCHEDULER_INLINE_CACHE_BYTES = 256 * 1024 * 1024;

/** Largest module accepted by `upload`, in characters. */
export const MAX_MODULE_SOURCE_LENGTH = 4 * 1024 * 1024;

/** A worker whose memory use passes this fraction of its limit takes no new tasks until it drops. */
export const MEMORY_PAUSE_FRACTION = 0.8;

/** The global a task finds its handles under: `globalThis.meshwork.client()`. */
export const TASK_GLOBAL = 'meshwork';

/** Longest SDP accepted in a WebRTC signal, in characters. */
export const MAX_SDP_CHARS = 64 * 1024;

/** Longest ICE candidate (or mid) accepted in a WebRTC signal, in characters. */
export const MAX_CANDIDATE_CHARS = 1024;

/** Most workers one task may be verified on (`verify: k`). */
export const MAX_VERIFY = 16;

/** Largest chunk of peer data one `relay` message carries through the scheduler, in bytes. */
export const MAX_RELAY_CHUNK_BYTES = 256 * 1024;

/** Peers whose traffic one heartbeat reports at most (the entries that changed since the last one; the rest wait for the next). */
export const MAX_TRAFFIC_PER_HEARTBEAT = 256;

// ---- limits against hostile or runaway peers (see the README's Limits section) ----------------

/** Messages one connection may send per second, sustained (a token bucket refilled at this rate). */
export const MAX_MESSAGES_PER_SECOND = 50_000;

/**
 * Messages one connection may send at once, in a burst (the token bucket's size): one full frame.
 * A frame over what is left is refused with RATE_LIMITED; a connection that keeps sending until it
 * owes more than one burst is closed.
 */
export const MESSAGE_BURST = MAX_MESSAGES_PER_FRAME;

/** Open TCP connections on a scheduler's port (HTTP and WebSocket together); past it new ones are dropped. */
export const MAX_CONNECTIONS = 10_000;

/** WebSocket connections that have not yet said `hello`; past it new ones are refused (closed with 1013). */
export const MAX_UNAUTHENTICATED_CONNECTIONS = 1_024;

/** Bytes a connection may send before its `hello` is read (the hello frame included); more closes it. */
export const MAX_HELLO_BYTES = 1024 * 1024;

/** An HTTP request (a WebSocket upgrade included) must send its headers within this time, in milliseconds. */
export const HTTP_HEADERS_TIMEOUT_MS = 10_000;

/** An HTTP request must arrive whole within this time, in milliseconds. */
export const HTTP_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Tasks the scheduler holds unfinished (waiting, queued or running) for the clients of one token,
 * all their connections together; an `update-graph` past it is refused. A scheduler with no token
 * counts all its clients as one.
 */
export const MAX_PENDING_TASKS_PER_TOKEN = 1_000_000;

/** @deprecated The limit is per token (all connections that came with it): MAX_PENDING_TASKS_PER_TOKEN. */
export const MAX_PENDING_TASKS_PER_CLIENT = MAX_PENDING_TASKS_PER_TOKEN;

/**
 * Keys one `gather` or `who-has` may list; a request over it is refused (LIMIT_EXCEEDED) and
 * nothing is looked up. A client asks for more in several requests.
 */
export const MAX_KEYS_PER_REQUEST = 50_000;

/**
 * Announced puts (`expect-put`, sent with a client's scatter plan) one worker holds at most. The
 * scheduler counts what it announced to each worker and not yet used (`puts-stored`) or expired,
 * and refuses a plan past it (LIMIT_EXCEEDED), so a worker never has to drop an announcement
 * early; the worker still drops its oldest past it.
 */
export const MAX_ANNOUNCED_PUTS = 16_384;

/**
 * Announced puts one client (a tenant: a task's client counts as the client it acts for) may have
 * outstanding on one worker; a scatter plan past it is refused (LIMIT_EXCEEDED) and nothing is
 * announced. A fraction of MAX_ANNOUNCED_PUTS, so that one client cannot take a worker's whole
 * table. The npm client plans SCATTER_PLAN_BATCH values at a time, well under it.
 */
export const MAX_ANNOUNCED_PUTS_PER_CLIENT = 2_048;

/** An announced put not made within this is forgotten by the worker, in milliseconds. */
export const ANNOUNCED_PUT_TTL_MS = 5 * 60_000;

/**
 * The scheduler counts an unused announcement this much longer than the worker keeps it, in
 * milliseconds: the two clocks start apart (the `expect-put` is in flight), and the scheduler
 * must never believe a worker's table emptier than it is.
 */
export const ANNOUNCED_PUT_COUNT_SLACK_MS = 30_000;

/**
 * A `gather` or `who-has` counts against the message rate (MAX_MESSAGES_PER_SECOND) as one
 * message per this many keys it lists, and at least one: asking for many keys costs in proportion.
 */
export const KEYS_PER_COUNTED_MESSAGE = 10;

/**
 * Largest encoded argument list of one task, in bytes (the arguments ride the control channel with
 * the task): half of MAX_CONTROL_FRAME_BYTES, leaving room for the function's source and the rest
 * of the message. A larger value goes to the cluster with `scatter`, and its future is passed instead.
 */
export const MAX_TASK_ARGS_BYTES = 32 * 1024 * 1024;

/** Modules the scheduler stores (`upload`); another name past it is refused (LIMIT_EXCEEDED). */
export const MAX_MODULES = 256;

/**
 * Bytes of module source (UTF-8) the scheduler stores, all modules together; an upload past it is
 * refused (LIMIT_EXCEEDED). Replacing a module frees the old version's bytes.
 */
export const MAX_MODULE_STORE_BYTES = 64 * 1024 * 1024;

/**
 * Largest size of one value a worker or client may report, in bytes (1 TiB): every byte count the
 * scheduler adds up stays an exact integer (8,192 such values sum below 2^53).
 */
export const MAX_REPORTED_VALUE_BYTES = 2 ** 40;

/** Largest amount of one resource a worker may declare or a task may ask for. */
export const MAX_RESOURCE_AMOUNT = 2 ** 20;

/** A peer that does not answer our WebSocket close frame is cut off after this long, in milliseconds. */
export const CLOSE_HANDSHAKE_TIMEOUT_MS = 1_000;

/**
 * Hex characters of a data ticket (see tickets.ts), in characters: the first 128 bits of an
 * HMAC-SHA-256, beyond guessing for anyone without the scheduler's data secret.
 */
export const TICKET_HEX_CHARS = 32;
