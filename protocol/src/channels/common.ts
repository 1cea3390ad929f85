/** Schema pieces shared by every channel. */
import * as v from 'valibot';
import { MAX_CANDIDATE_CHARS, MAX_KEY_LENGTH, MAX_REPORTED_VALUE_BYTES, MAX_RESOURCE_AMOUNT, MAX_SDP_CHARS, MAX_TASK_TIMEOUT_MS, TICKET_HEX_CHARS } from '../constants.js';

export const Key = v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_KEY_LENGTH));
export const Keys = v.array(Key);
/** Raw bytes (any Uint8Array, whatever buffer backs it). */
export const Bytes = v.custom<Uint8Array>((x) => x instanceof Uint8Array, 'expected bytes');
/** A count: a whole number that stays exact (at most 2^53 - 1). */
export const Count = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
/** The size of one value, in bytes (see MAX_REPORTED_VALUE_BYTES). */
export const ByteCount = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_REPORTED_VALUE_BYTES));
/** Resources a worker declares or a task asks for, by name: finite amounts from 0 to MAX_RESOURCE_AMOUNT. */
export const Resources = v.record(
  v.pipe(v.string(), v.maxLength(MAX_KEY_LENGTH)),
  v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(MAX_RESOURCE_AMOUNT)),
);
export const Millis = v.pipe(v.number(), v.finite(), v.minValue(0));
/** A task's run-time limit, in milliseconds: over 0, at most MAX_TASK_TIMEOUT_MS. */
export const TaskTimeoutMs = v.pipe(v.number(), v.gtValue(0), v.maxValue(MAX_TASK_TIMEOUT_MS));
export const RequestId = v.pipe(v.number(), v.integer(), v.minValue(0));
/** The value hash (`valueHash`: BLAKE3) of a value's encoded bytes, lower-case hex. */
export const ValueHash = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/));
/** A data ticket for one key (tickets.ts); only bounded here: a wrong one is refused per key, not per frame. */
export const Ticket = v.pipe(v.string(), v.maxLength(TICKET_HEX_CHARS));

export const WireErrorSchema = v.object({
  code: v.string(),
  name: v.string(),
  message: v.string(),
  stack: v.optional(v.string()),
  key: v.optional(v.string()),
  workerId: v.optional(v.string()),
});

/** An uploaded module, by name and content hash (served at /modules/<name>.mjs?v=<hash>). */
export const ModuleRef = v.object({ name: v.string(), hash: v.string() });
export type ModuleRef = v.InferOutput<typeof ModuleRef>;

/**
 * Where a value can be fetched: a worker and the address of its data link: `tcp://host:port`
 * for a Node worker, WEBRTC_ADDRESS for a worker reached over WebRTC by its id (a browser tab).
 */
export const Holder = v.object({ id: v.string(), address: v.string() });

/** The address of a holder that is reached over WebRTC, by id (signalled through the scheduler). */
export const WEBRTC_ADDRESS = 'webrtc';
export type Holder = v.InferOutput<typeof Holder>;

/** Codes of the `error` reply any end may send; the connection stays open unless it says otherwise. */
export const ReplyCode = {
  /** The frame or a message in it could not be decoded or did not match its schema. */
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
  /** The message's `type` is not one this channel knows. */
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  /** `hello` named another protocol version; the connection is closed. */
  VERSION_MISMATCH: 'VERSION_MISMATCH',
  /**
   * The token was missing or wrong; the connection is closed. On a worker's data link it also
   * answers, per key (`replyTo` and `key` set), a client's `get-data` or `put-data` of a key without
   * a valid ticket: nothing was served or stored for that key, and the connection stays open.
   */
  AUTH_FAILED: 'AUTH_FAILED',
  /** The frame was over the size limit; the connection is closed. */
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  /** The message was well formed but cannot be done (e.g. `hello` sent twice). */
  BAD_REQUEST: 'BAD_REQUEST',
  /** The connection sent messages faster than MAX_MESSAGES_PER_SECOND: the frame was dropped; keeping on closes the connection. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** A limit of the scheduler was reached (connections, pending tasks per client): the request was refused. */
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  /** A browser page's origin may not reach the scheduler (an HTTP 403 answer, in the body of a refused request or upgrade). */
  ORIGIN_REFUSED: 'ORIGIN_REFUSED',
  /** The message named a key this client holds no future for, or another client's key: nothing was done with it. */
  NOT_YOURS: 'NOT_YOURS',
} as const;
export type ReplyCode = (typeof ReplyCode)[keyof typeof ReplyCode];

export const ErrorReply = v.object({
  type: v.literal('error'),
  code: v.picklist(Object.values(ReplyCode)),
  message: v.string(),
  /** The id of the request this answers, when it had one. */
  replyTo: v.optional(RequestId),
  /** The one key of that request this refusal is about, when the request named several (a data link's `get-data`). */
  key: v.optional(Key),
});
export type ErrorReply = v.InferOutput<typeof ErrorReply>;

/** ICE servers for WebRTC, as RTCPeerConnection takes them (the scheduler answers STUN itself). */
export const IceServers = v.array(
  v.object({
    urls: v.union([v.string(), v.array(v.string())]),
    /** For TURN servers. */
    username: v.optional(v.string()),
    credential: v.optional(v.string()),
  }),
);
export type IceServers = v.InferOutput<typeof IceServers>;

export const Welcome = v.object({
  type: v.literal('welcome'),
  protocolVersion: v.number(),
  /** The id the scheduler gave this connection. */
  id: v.string(),
  /** For peers that open WebRTC connections. */
  iceServers: v.optional(IceServers),
  /**
   * To a worker, never to a client: the scheduler's data secret (random per scheduler, with or
   * without tokens). Workers present it in their data-link `hello` to each other; clients instead
   * present tickets made with it (tickets.ts), which the scheduler hands them per key.
   */
  dataToken: v.optional(v.string()),
  /** To a client: it came with the admin token (or the scheduler has none), so it may `cancel` with `force`. */
  admin: v.optional(v.boolean()),
});

/**
 * What two peers say to each other, through the scheduler, to open a WebRTC connection. The
 * peer with the lower id offers; the other asks it to with `request-offer`. Never renegotiated.
 */
export const SignalPayload = v.variant('kind', [
  v.object({ kind: v.literal('offer'), sdp: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_SDP_CHARS)) }),
  v.object({ kind: v.literal('answer'), sdp: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_SDP_CHARS)) }),
  v.object({
    kind: v.literal('candidate'),
    candidate: v.pipe(v.string(), v.maxLength(MAX_CANDIDATE_CHARS)),
    sdpMid: v.nullable(v.pipe(v.string(), v.maxLength(MAX_CANDIDATE_CHARS))),
    sdpMLineIndex: v.nullable(v.pipe(v.number(), v.integer(), v.minValue(0))),
  }),
  v.object({ kind: v.literal('end-of-candidates') }),
  v.object({ kind: v.literal('request-offer') }),
  /** From the scheduler: the sender left the cluster; close the connection to it. */
  v.object({ kind: v.literal('bye') }),
]);
export type SignalPayload = v.InferOutput<typeof SignalPayload>;
