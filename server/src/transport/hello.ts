/** The first frame of every connection: a `hello` naming the role, checked for version and token. */
import * as v from 'valibot';
import type { Access, Role } from './access.js';
import { ClientChannel, DashboardChannel, PROTOCOL_VERSION, ReplyCode, WorkerChannel, decode } from '@meshwork/protocol';

export type Hello =
  | { role: 'client'; message: v.InferOutput<typeof ClientChannel.ClientHello> }
  | { role: 'worker'; message: v.InferOutput<typeof WorkerChannel.WorkerHello> }
  | { role: 'dashboard'; message: v.InferOutput<typeof DashboardChannel.DashboardHello> };

export type HelloResult =
  | {
      ok: true;
      hello: Hello;
      rest: unknown[];
      /** Came with the admin token (or no token is set). */
      admin: boolean;
      /** A task's client (it came with a capability, see capabilities.ts): the client it acts for, the same tenant. */
      parentClientId?: string;
    }
  | { ok: false; code: ReplyCode; message: string };

/**
 * Parses the first frame; the messages after `hello` in it are returned raw for the role's parser.
 * `crossOrigin`: the connection is a browser page of an origin the scheduler does not allow (let
 * in only because it has tokens): it needs a valid token whatever its role, a dashboard too.
 */
export function parseHello(bytes: Uint8Array, access: Access, crossOrigin = false): HelloResult {
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch {
    return { ok: false, code: ReplyCode.PROTOCOL_ERROR, message: 'undecodable frame' };
  }
  const first: unknown = Array.isArray(raw) ? raw[0] : undefined;
  const rest = Array.isArray(raw) ? raw.slice(1) : [];
  if (typeof first !== 'object' || first === null || (first as { type?: unknown }).type !== 'hello') {
    return { ok: false, code: ReplyCode.PROTOCOL_ERROR, message: 'the first message on a connection must be hello' };
  }
  const version = (first as { protocolVersion?: unknown }).protocolVersion;
  if (version !== PROTOCOL_VERSION) {
    return {
      ok: false,
      code: ReplyCode.VERSION_MISMATCH,
      message: `this scheduler speaks protocol version ${PROTOCOL_VERSION}, the peer speaks ${String(version)}: use matching meshwork versions`,
    };
  }
  const role = (first as { role?: unknown }).role;
  const parsed =
    role === 'client'
      ? v.safeParse(ClientChannel.ClientHello, first)
      : role === 'worker'
        ? v.safeParse(WorkerChannel.WorkerHello, first)
        : role === 'dashboard'
          ? v.safeParse(DashboardChannel.DashboardHello, first)
          : null;
  if (!parsed) return { ok: false, code: ReplyCode.PROTOCOL_ERROR, message: `unknown role ${String(role).slice(0, 32)}` };
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const at = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    return { ok: false, code: ReplyCode.PROTOCOL_ERROR, message: `bad hello${at ? ` at ${at}` : ''}: ${issue.message}` };
  }
  if (role === 'client' && 'capability' in parsed.output && parsed.output.capability !== undefined) {
    // A capability instead of a token: it acts for the client its task runs for, while that one is
    // connected, and is no admin on a secured scheduler (an open one makes every client an admin).
    const parentClientId = access.capabilities.clientOf(parsed.output.capability);
    if (parentClientId === undefined) {
      return { ok: false, code: ReplyCode.AUTH_FAILED, message: 'unknown or expired capability: a task client is admitted only while the client its task runs for is connected' };
    }
    return { ok: true, hello: { role, message: parsed.output }, rest, admin: !access.secured, parentClientId };
  }
  const given = parsed.output.token;
  // A dashboard shows what /api/state shows: the same rule.
  const admitted =
    role === 'dashboard'
      ? { ok: crossOrigin ? given !== undefined && access.mayAdmin(given) : access.mayReadState(given), admin: false }
      : access.admit(role as Role, given);
  if (!admitted.ok) {
    const what = role === 'dashboard' ? 'the admin token' : `a ${String(role)} token (or the admin token)`;
    return { ok: false, code: ReplyCode.AUTH_FAILED, message: `missing or wrong token: a ${String(role)} needs ${what}` };
  }
  const hello = (role === 'client' ? { role, message: parsed.output } : { role, message: parsed.output }) as Hello;
  return { ok: true, hello, rest, admin: admitted.admin };
}
