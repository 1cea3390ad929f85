/** The first frame of every connection: a `hello` naming the role, checked for version and token. */
import { timingSafeEqual } from 'node:crypto';
import * as v from 'valibot';
import { ClientChannel, DashboardChannel, PROTOCOL_VERSION, ReplyCode, WorkerChannel, decode } from '@meshwork/protocol';

export type Hello =
  | { role: 'client'; message: v.InferOutput<typeof ClientChannel.ClientHello> }
  | { role: 'worker'; message: v.InferOutput<typeof WorkerChannel.WorkerHello> }
  | { role: 'dashboard'; message: v.InferOutput<typeof DashboardChannel.DashboardHello> };

export type HelloResult = { ok: true; hello: Hello; rest: unknown[] } | { ok: false; code: ReplyCode; message: string };

/** Parses the first frame; the messages after `hello` in it are returned raw for the role's parser. */
export function parseHello(bytes: Uint8Array, token: string | undefined): HelloResult {
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
  if (token !== undefined && !sameSecret(parsed.output.token, token)) {
    return { ok: false, code: ReplyCode.AUTH_FAILED, message: 'missing or wrong token' };
  }
  const hello = (role === 'client' ? { role, message: parsed.output } : { role, message: parsed.output }) as Hello;
  return { ok: true, hello, rest };
}

function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
