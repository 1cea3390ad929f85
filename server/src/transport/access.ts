/**
 * Who may do what. Three secrets, each optional:
 * - the admin token (`--token`): everything, including `client.run`, module uploads, `/api/dump`,
 *   and `/api/state`, `/metrics` and the dashboard on a scheduler that is not bound to loopback;
 * - the client token (`--client-token`): submit, gather, cancel, scatter, who-has;
 * - the worker token (`--worker-token`): join as a worker and compute.
 * A role's own token or the admin token admits it; with only the admin token set, it admits
 * every role (one shared secret). With no token at all the scheduler is open, which it allows
 * only on loopback unless told `insecure` (see `checkExposure`).
 *
 * Every scheduler, with tokens or without, has a data secret (random per scheduler), handed to
 * workers alone as the `dataToken` of their welcome: a worker's data link serves every key to a
 * peer that presents it, and to anyone else (a client) only the keys it has tickets for: HMACs
 * under the secret that the scheduler issues per key (`ticket`, protocol tickets.ts). So strangers
 * who find a worker's port read nothing, and a client reads and writes only what it was let.
 * Tokens are compared in constant time and never logged or shown.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { makeTicket, type TicketPurpose } from '@meshwork/protocol';
import { Capabilities } from './capabilities.js';

export type Role = 'client' | 'worker' | 'dashboard';

export interface AccessOptions {
  /** The admin token. */
  token?: string | undefined;
  clientToken?: string | undefined;
  workerToken?: string | undefined;
  /** Allow a scheduler bound beyond loopback to run with no token. */
  insecure?: boolean | undefined;
}

/** Bytes of randomness in the data secret handed to workers. */
export const DATA_TOKEN_BYTES = 24;

export class Access {
  /** The data secret: what workers present on each other's data links, and what tickets are made with. */
  readonly dataToken: string = randomBytes(DATA_TOKEN_BYTES).toString('base64url');
  /** The task client capability of each connected client (see capabilities.ts): admits its tasks' clients. */
  readonly capabilities = new Capabilities();

  constructor(
    private readonly o: AccessOptions,
    /** The scheduler is bound to loopback only. */
    private readonly loopback: boolean,
  ) {}

  /** The ticket a data link asks of a client for `purpose` on `key`; issue it only to a client the state machine lets. */
  readonly ticket = (purpose: TicketPurpose, key: string): string => makeTicket(this.dataToken, purpose, key);

  get secured(): boolean {
    return this.o.token !== undefined || this.o.clientToken !== undefined || this.o.workerToken !== undefined;
  }

  /** Whether `given` admits `role`, and whether it is the admin token. */
  admit(role: Role, given: string | undefined): { ok: boolean; admin: boolean } {
    if (!this.secured) return { ok: true, admin: true };
    const admin = this.o.token !== undefined && same(given, this.o.token);
    if (admin) return { ok: true, admin };
    const own = role === 'client' ? this.o.clientToken : role === 'worker' ? this.o.workerToken : undefined;
    // With only the admin token set, it is the one shared secret (checked above).
    return { ok: own !== undefined && same(given, own), admin: false };
  }

  /**
   * May a request read cluster state (`/api/state`, `/metrics`, the dashboard)? With no token it is
   * open on loopback only; a token presented must be the admin token (a wrong one is refused anywhere).
   */
  mayReadState(bearer: string | undefined): boolean {
    if (!this.secured) return true;
    return bearer === undefined ? this.loopback : this.mayAdmin(bearer);
  }

  /** May it do what only the admin may (`/api/dump`)? */
  mayAdmin(bearer: string | undefined): boolean {
    return !this.secured || (this.o.token !== undefined && same(bearer, this.o.token));
  }
}

/** Refuses to expose an open scheduler: why, or undefined when it may start. */
export function checkExposure(host: string, o: AccessOptions): string | undefined {
  if (isLoopbackHost(host) || o.insecure) return undefined;
  if (o.token !== undefined || o.clientToken !== undefined || o.workerToken !== undefined) return undefined;
  return (
    `refusing to listen on ${host} without a token: anyone who can reach it could run code on every worker and read every result. ` +
    'Give --token (and --client-token / --worker-token), or --insecure to accept that on a trusted network.'
  );
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

function same(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
