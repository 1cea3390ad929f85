/**
 * Control frames: one WebSocket message holds a batch (an array) of messages.
 * `parseFrame` turns untrusted bytes into typed messages once, at the edge; every message
 * that does not match gets its own error reply and the others still go through.
 */
import * as v from 'valibot';
import { decode, encode } from './codec.js';
import { FRAME_TARGET_BYTES, MAX_CONTROL_FRAME_BYTES, MAX_MESSAGES_PER_FRAME } from './constants.js';
import { ReplyCode, type ErrorReply } from './channels/common.js';

export interface ParsedFrame<T> {
  messages: T[];
  /** One reply per message (or for the whole frame) that was refused. */
  errors: ErrorReply[];
}

type Schema<T> = v.GenericSchema<unknown, T>;

function reply(code: ReplyCode, message: string, replyTo?: unknown): ErrorReply {
  const r: ErrorReply = { type: 'error', code, message };
  if (typeof replyTo === 'number' && Number.isInteger(replyTo) && replyTo >= 0) r.replyTo = replyTo;
  return r;
}

/** Decodes and validates one frame against a channel's schema (a `v.variant` on `type`). */
export function parseFrame<T>(bytes: Uint8Array, schema: Schema<T>, knownTypes: ReadonlySet<string>): ParsedFrame<T> {
  if (bytes.byteLength > MAX_CONTROL_FRAME_BYTES) {
    return { messages: [], errors: [reply(ReplyCode.FRAME_TOO_LARGE, `frame of ${bytes.byteLength} bytes is over ${MAX_CONTROL_FRAME_BYTES}`)] };
  }
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch (e) {
    return { messages: [], errors: [reply(ReplyCode.PROTOCOL_ERROR, `undecodable frame: ${(e as Error).message}`)] };
  }
  if (!Array.isArray(raw)) return { messages: [], errors: [reply(ReplyCode.PROTOCOL_ERROR, 'a frame must be an array of messages')] };
  if (raw.length > MAX_MESSAGES_PER_FRAME) {
    return { messages: [], errors: [reply(ReplyCode.PROTOCOL_ERROR, `a frame holds at most ${MAX_MESSAGES_PER_FRAME} messages`)] };
  }
  const messages: T[] = [];
  const errors: ErrorReply[] = [];
  for (const item of raw as unknown[]) {
    const result = parseMessage(item, schema, knownTypes);
    if (result.ok) messages.push(result.message);
    else errors.push(result.error);
  }
  return { messages, errors };
}

export function parseMessage<T>(
  item: unknown,
  schema: Schema<T>,
  knownTypes: ReadonlySet<string>,
): { ok: true; message: T } | { ok: false; error: ErrorReply } {
  const type = typeof item === 'object' && item !== null ? (item as { type?: unknown }).type : undefined;
  const id = typeof item === 'object' && item !== null ? (item as { id?: unknown }).id : undefined;
  if (typeof type !== 'string') return { ok: false, error: reply(ReplyCode.PROTOCOL_ERROR, 'a message must be an object with a string `type`', id) };
  if (!knownTypes.has(type)) return { ok: false, error: reply(ReplyCode.UNKNOWN_TYPE, `unknown message type '${type.slice(0, 64)}'`, id) };
  const parsed = v.safeParse(schema, item);
  if (parsed.success) return { ok: true, message: parsed.output };
  const issue = parsed.issues[0];
  const where = issue.path?.map((p) => String(p.key)).join('.') ?? '';
  return { ok: false, error: reply(ReplyCode.PROTOCOL_ERROR, `bad '${type}' message${where ? ` at ${where}` : ''}: ${issue.message}`, id) };
}

/** The `type` values a variant schema accepts. */
export function typesOf(schema: { options: readonly { entries: { type: { literal?: unknown } } }[] }): ReadonlySet<string> {
  return new Set(schema.options.map((o) => String(o.entries.type.literal)));
}

/** Encodes a batch of messages into one frame. */
export function encodeFrame(messages: readonly unknown[]): Uint8Array {
  return encode(messages);
}

/**
 * Encodes a batch of messages into one frame, or several in order: a batch over `targetBytes`
 * (FRAME_TARGET_BYTES) or MAX_MESSAGES_PER_FRAME is cut into as many parts as its size says, and
 * a part still over is cut again, until each frame is within both or holds one message. A batch
 * of like messages is so encoded twice in all (halving it would encode each message once per
 * halving: five times for a client's million-task `map`).
 */
export function encodeFrames(messages: readonly unknown[], targetBytes = FRAME_TARGET_BYTES): Uint8Array[] {
  if (messages.length > MAX_MESSAGES_PER_FRAME) return parts(messages, Math.ceil(messages.length / MAX_MESSAGES_PER_FRAME), targetBytes);
  const frame = encode(messages);
  if (frame.byteLength <= targetBytes || messages.length === 1) return [frame];
  return parts(messages, Math.ceil((frame.byteLength * SPLIT_SLACK) / targetBytes), targetBytes);
}

/** Parts are cut by count: this much more than the bytes alone ask for, so that most land under the target. */
const SPLIT_SLACK = 1.25;

function parts(messages: readonly unknown[], count: number, targetBytes: number): Uint8Array[] {
  // A count that is not a number (a target that is not one) cuts in two, as halving did: never none.
  const n = Math.min(messages.length, Math.max(2, Number.isNaN(count) ? 2 : count));
  const frames: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const part = messages.slice(Math.floor((i * messages.length) / n), Math.floor(((i + 1) * messages.length) / n));
    frames.push(...encodeFrames(part, targetBytes));
  }
  return frames;
}
