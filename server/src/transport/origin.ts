/**
 * Which web pages may reach the scheduler. Any page a developer visits can open a WebSocket to a
 * loopback port, and DNS rebinding lets it send HTTP requests there under its own name; a browser
 * says who is asking in `Origin` and which name it meant in `Host`. Node clients and workers send
 * no `Origin` and are not concerned.
 *
 * The rules:
 * - `Host` on a scheduler bound to loopback must be a loopback name (`localhost`, 127.x, `[::1]`):
 *   a page that rebound its own name to 127.0.0.1 is refused, HTTP and WebSocket alike.
 * - A WebSocket upgrade or a state-changing request (not GET/HEAD/OPTIONS) with an `Origin` is
 *   same-origin when the origin names this scheduler (its scheme, port, and a name it is bound to
 *   or known by), or allowed when the origin was given with `--allow-origin` (`*`: every origin).
 * - Any other origin is refused on a scheduler without tokens; on one with tokens it may connect,
 *   and its `hello` must then carry a valid token (even a dashboard on loopback: see hello.ts).
 */
import { hostname, networkInterfaces } from 'node:os';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ReplyCode } from '@meshwork/protocol';
import { isLoopbackHost } from './access.js';

/** What the policy decided about a request. `crossOrigin`: a browser page of an origin not allowed, admitted only because the scheduler has tokens. */
export type OriginVerdict = { ok: true; crossOrigin: boolean } | { ok: false; reason: string };

/** The `--allow-origin` value that allows every origin. */
export const ANY_ORIGIN = '*';
/** The origin browsers send for sandboxed frames, `file:` pages and some redirects. */
export const OPAQUE_ORIGIN = 'null';

/** Methods that change nothing, which cross-origin pages may send (they cannot read the answers: no CORS headers). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * An `--allow-origin` value in its canonical form (`scheme://host[:port]`, as browsers send it), or
 * an error message. `*` and `null` are taken as they are.
 */
export function normaliseOrigin(given: string): { origin: string } | { error: string } {
  if (given === ANY_ORIGIN || given === OPAQUE_ORIGIN) return { origin: given };
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    return { error: `--allow-origin ${given}: not an origin (write it as scheme://host[:port], e.g. https://app.example.org)` };
  }
  if (url.origin === OPAQUE_ORIGIN || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username) {
    return { error: `--allow-origin ${given}: an origin is scheme://host[:port] alone, with no path, query or credentials` };
  }
  return { origin: url.origin };
}

/** `--allow-origin` values in canonical form; throws naming the first that is no origin. */
export function normaliseOrigins(given: readonly string[] | undefined): string[] {
  return (given ?? []).map((o) => {
    const r = normaliseOrigin(o);
    if ('error' in r) throw new Error(r.error);
    return r.origin;
  });
}

/** Answers a refused WebSocket upgrade: HTTP 403 with `{ code: ORIGIN_REFUSED, message }`, then the socket ends. */
export function refuseUpgrade(tcp: Duplex, reason: string): void {
  const body = JSON.stringify({ code: ReplyCode.ORIGIN_REFUSED, message: reason });
  tcp.end(`HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

export interface OriginPolicyOptions {
  /** Whether the scheduler serves https/wss. */
  tls: boolean;
  /** The address it listens on (`--host`). */
  host: string;
  /** Its port, once listening. */
  port: () => number;
  /** `--allow-origin` values, already normalised. */
  allowOrigins: readonly string[];
  /** Whether any token is set: other origins may then connect, but only with a valid token. */
  secured: boolean;
}

export class OriginPolicy {
  private readonly allowed: ReadonlySet<string>;
  private readonly loopback: boolean;
  private names: Set<string> | undefined;

  constructor(private readonly o: OriginPolicyOptions) {
    this.allowed = new Set(o.allowOrigins);
    this.loopback = isLoopbackHost(o.host);
  }

  /** Whether every origin is allowed (`--allow-origin *`). */
  get allowsAny(): boolean {
    return this.allowed.has(ANY_ORIGIN);
  }

  /** A plain HTTP request: the Host check, and no state-changing request from another origin. */
  checkRequest(req: IncomingMessage): OriginVerdict {
    const host = this.checkHost(req.headers.host);
    if (host) return { ok: false, reason: host };
    const origin = req.headers.origin;
    if (origin === undefined || SAFE_METHODS.has(req.method ?? 'GET') || this.isAllowed(origin)) return { ok: true, crossOrigin: false };
    return { ok: false, reason: `origin ${origin.slice(0, 200)} may not send ${req.method ?? ''} requests here: start the scheduler with --allow-origin ${origin.slice(0, 200)}` };
  }

  /** A WebSocket upgrade: the Host check, then the page's origin (see the rules above). */
  checkUpgrade(req: IncomingMessage): OriginVerdict {
    const host = this.checkHost(req.headers.host);
    if (host) return { ok: false, reason: host };
    const origin = req.headers.origin;
    if (origin === undefined || this.isAllowed(origin)) return { ok: true, crossOrigin: false };
    if (this.o.secured) return { ok: true, crossOrigin: true };
    return {
      ok: false,
      reason:
        `origin ${origin.slice(0, 200)} may not connect to this scheduler: it accepts pages from its own origin and from origins given with ` +
        `--allow-origin (or any page that presents a token, when it has tokens)`,
    };
  }

  /** Why a `Host` header is refused, or undefined. Only a scheduler bound to loopback checks it: elsewhere tokens guard it. */
  private checkHost(host: string | undefined): string | undefined {
    if (!this.loopback) return undefined;
    if (host === undefined) return 'a request without a Host header';
    const name = hostOf(host);
    if (name !== undefined && isLoopbackHost(name)) return undefined;
    return `Host ${host.slice(0, 200)} is not a name of this scheduler (it listens on loopback only): refused, as DNS rebinding would look`;
  }

  private isAllowed(origin: string): boolean {
    if (this.allowed.has(ANY_ORIGIN) || this.allowed.has(origin)) return true;
    if (origin === OPAQUE_ORIGIN) return false;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    const scheme = this.o.tls ? 'https:' : 'http:';
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    return url.protocol === scheme && port === this.o.port() && this.ownNames().has(url.hostname.toLowerCase());
  }

  /** The names this scheduler answers to: its bound address, loopback names on loopback or wildcard binds, and every local address and the host name on a wildcard bind. */
  private ownNames(): Set<string> {
    if (this.names) return this.names;
    const bracket = (a: string): string => (a.includes(':') ? `[${a}]` : a);
    const bound = this.o.host.replace(/^\[|\]$/g, '').toLowerCase();
    const names = new Set([bracket(bound)]);
    const wildcard = bound === '0.0.0.0' || bound === '::';
    if (this.loopback || wildcard) for (const n of ['localhost', '127.0.0.1', '[::1]']) names.add(n);
    if (wildcard) {
      names.add(hostname().toLowerCase());
      for (const addrs of Object.values(networkInterfaces())) for (const a of addrs ?? []) names.add(bracket(a.address.toLowerCase()));
    }
    this.names = names;
    return names;
  }
}

/** The host name of a `Host` header (`name`, `name:port`, `[v6]:port`), without brackets; undefined when malformed. */
function hostOf(header: string): string | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::\d{1,5})?$/.exec(header.trim());
  return m?.[1]?.replace(/^\[|\]$/g, '').toLowerCase();
}
