/**
 * The data link between peers (worker↔worker, client→worker). A frame is
 * `[u32 header length][u32 body length][header: encoded message][body: raw bytes]`,
 * so a value's bytes are written as they are stored, never re-encoded.
 */
import * as v from 'valibot';
import { Count, ErrorReply, Key, Keys, RequestId } from './common.js';

/** `token`: the data token from the scheduler's welcome, when it gave one (the link refuses without it). */
export const PeerHello = v.object({ type: v.literal('hello'), protocolVersion: v.number(), from: v.string(), token: v.optional(v.string()) });
export const GetData = v.object({ type: v.literal('get-data'), id: RequestId, keys: Keys });
/** Store the frame's body under `key` (a client scattering data); answered by `put-ok` or `error`. */
export const PutData = v.object({ type: v.literal('put-data'), id: RequestId, key: Key });
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
