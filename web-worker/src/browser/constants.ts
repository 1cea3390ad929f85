/**
 * Limits and timeouts of the browser host (the /join page), each named with its unit. Shared
 * ones (heartbeat interval, connect and hello timeouts) live in `@meshwork/protocol`.
 */

/** Web Workers when `?threads=` is absent and the browser does not tell its core count. */
export const FALLBACK_THREADS = 2;

/** Most Web Workers one tab may run (`?threads=` above this is clamped). */
export const MAX_TAB_THREADS = 64;

/** Longest worker name accepted from `?name=`, in characters. */
export const MAX_NAME_CHARS = 128;

/** WebSocket close code of a tab that leaves on purpose (Leave button, tab closed). */
export const LEAVE_CLOSE_CODE = 1000;

/** Longest close reason sent to the scheduler, in characters (WebSocket allows 123 bytes of UTF-8). */
export const MAX_CLOSE_REASON_CHARS = 60;

/**
 * A tab that lost its scheduler tries to join it again for this long before it gives up, in
 * milliseconds: longer than a Node worker (REJOIN_TIMEOUT_MS), since a volunteer's tab stays open
 * while the scheduler is restarted and nobody is there to reload it.
 */
export const TAB_REJOIN_TIMEOUT_MS = 5 * 60_000;
