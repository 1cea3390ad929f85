/**
 * Limits and timeouts of the data plane, each named with its unit. The figures behind
 * them are in DESIGN.md ("Chunk bulk data…", "Open peer connections ahead of need").
 */

/** Largest data-channel message we send, in bytes (further capped by the remote's `sctp.maxMessageSize`). */
export const PEER_CHUNK_BYTES = 64 * 1024;

/** Smallest `max-message-size` we accept from a remote before refusing the link, in bytes (RFC 8841's default). */
export const MIN_PEER_MESSAGE_BYTES = 16 * 1024;

/** Stop handing chunks to a data channel once its `bufferedAmount` is above this, in bytes. */
export const CHANNEL_HIGH_WATER_BYTES = 1024 * 1024;

/** Resume on `bufferedamountlow`, which fires when `bufferedAmount` falls to this, in bytes. */
export const CHANNEL_LOW_WATER_BYTES = 256 * 1024;

/**
 * Frame bytes that may wait in one ChannelStream's queue before `send()` callers wait their turn,
 * in bytes. Chromium throws `send queue is full` at 16 MiB inside the channel; we keep the
 * channel itself under CHANNEL_HIGH_WATER_BYTES + one chunk and never exceed this in our queue
 * (a single frame larger than this is admitted alone, its body is not copied).
 */
export const MAX_QUEUED_SEND_BYTES = 16 * 1024 * 1024;

/** Frames that may wait in one ChannelStream's queue (small frames are bounded by count). */
export const MAX_QUEUED_SEND_FRAMES = 4_096;

/**
 * A data channel with frames waiting that makes no progress (its `bufferedAmount` does not fall,
 * nothing is handed to it) for this long is treated as dead, in milliseconds. Node's SCTP takes
 * messages in 64 KiB steps, ~5 s apart at the slowest live drain seen (~13 KB/s to a loaded tab);
 * a wedged association (docs/decisions.md, "A wedged SCTP association") never moves again.
 */
export const CHANNEL_STALL_TIMEOUT_MS = 10_000;

/** Opening a peer connection (signalling, ICE, DTLS, SCTP, channel open) gives up after this long, in milliseconds. */
export const PEER_CONNECT_TIMEOUT_MS = 10_000;

/** A connection whose ICE state stays `disconnected` this long is closed, in milliseconds. */
export const PEER_DISCONNECTED_GRACE_MS = 5_000;

/** Remote ICE candidates held until the remote description is set; more are dropped. */
export const MAX_PENDING_CANDIDATES = 256;

/** Longest SDP accepted from signalling, in characters. */
export const MAX_SDP_CHARS = 64 * 1024;

/** Longest ICE candidate line accepted from signalling, in characters. */
export const MAX_CANDIDATE_CHARS = 1024;

/** Open WebRTC connections per transport; past this the least recently used idle one is closed. */
export const MAX_RTC_CONNECTIONS = 32;

/** A connection with no request in flight for this long is closed, in milliseconds. */
export const RTC_IDLE_TIMEOUT_MS = 60_000;

/** Requests one peer may have queued on a link before it gets an error reply. */
export const MAX_QUEUED_PEER_REQUESTS = 1_024;

/** The data channel's label (its id is fixed: negotiated, id 0). */
export const DATA_CHANNEL_LABEL = 'meshwork-data';

/** The data channel's SCTP stream id (negotiated out of band: both ends create it). */
export const DATA_CHANNEL_ID = 0;

/** After a direct connection to a peer failed, its data goes through the scheduler's relay for this long before direct is tried again, in milliseconds. */
export const RELAY_RETRY_DIRECT_MS = 5 * 60_000;

/** Open data-link (TCP) connections per fetcher; past this the least recently used idle one is closed. */
export const MAX_PEER_CONNECTIONS = 256;

/** How long closing a listener waits for its connections to end, in milliseconds. */
export const CLOSE_TIMEOUT_MS = 5_000;

/**
 * The slowest a holder may hand over a value before it is cut off, in bytes per second (with the
 * slack below). Low: a WebRTC channel to a loaded browser tab was seen moving ~13 KB/s for seconds
 * while SCTP backed off, and a cut-off honest fetch costs a re-plan (three, the value itself).
 */
export const FETCH_DEADLINE_FLOOR_BYTES_PER_S = 64_000;

/** Added to every fetch's deadline, in milliseconds: connecting, queueing behind other requests. */
export const FETCH_DEADLINE_SLACK_MS = 15_000;

/** Failed fetches in a row after which a holder is blamed as lacking the value (its copy dropped). */
export const HOLDER_FAILURES_TO_BLAME = 3;

/**
 * After refusing a link, how long the refusing end waits for the remote to close it before
 * closing it itself, in milliseconds. The remote closes on reading the refusal; closed at once,
 * a data channel's close can overtake its last message at the far end, which then never learns why.
 */
export const REFUSAL_LINGER_MS = 1_000;
