/**
 * The data link between peers (worker↔worker, client→worker). A frame is
 * `[u32 header length][u32 body length][header: encoded message][body: raw bytes]`,
 * so a value's bytes are written as they are stored, never re-encoded.
 */
import * as v from 'valibot';
import { Count, ErrorReply, Key, Keys, RequestId, Ticket } from './common.js';

/**
 * `token`: the data token of a worker's welcome. A hello with it is a peer worker's, served every
 * key; a wrong one is refused (AUTH_FAILED, the link closes). A hello without it is a client's:
 * served only the keys it presents tickets for (tickets.ts).
 */
export const PeerHello = v.object({ type: v.literal('hello'), protocolVersion: v.number(), from: v.string(), token: v.optional(v.string()) });
/**
 * `tickets`: a client's get tickets, one per key in order (from its gather reply); a key without a
 * valid one is answered by an `error` AUTH_FAILED naming it. Peers send none.
 */
export const GetData = v.object({ type: v.literal('get-data'), id: RequestId, keys: Keys, tickets: v.optional(v.array(Ticket)) });
/**
 * Store the frame's body under `key` (a client scattering data); answered by `put-ok` or `error`.
 * `ticket`: the put ticket of the client's scatter plan; without a valid one, AUTH_FAILED.
 */
export const PutData = v.object({ type: v.literal('put-data'), id: RequestId, key: Key, ticket: v.optional(Ticket) });
export const PeerRequest = v.variant('type', [PeerHello, GetData, PutData]);
export type PeerRequest = v.InferOutput<typeof PeerRequest>;

/** One value; its bytes are the frame's body. */
export const Data = v.object({ type: v.literal('data'), id: RequestId, key: Key, nbytes: Count });
export const DataMissing = v.object({ type: v.literal('data-missing'), id: RequestId, key: Key });
export const PutOk = v.object({ type: v.literal('put-ok'), id: RequestId, key: Key });
export const PeerReply = v.variant('type', [Data, DataMissing, PutOk, ErrorReply]);
export type PeerReply = v.InferOutput<typeof PeerReply>;

/** Bytes before a frame's header: two u32 lengths. */
export const PEER_FRAME_PREFIX_BYTES = 8;
