/** What a scheduler server can be told (tokens, TLS, ICE servers, limits), and what its limits refused. */
import type { IceServers } from '@meshwork/protocol';
import type { SchedulerOptions } from '../state/scheduler-state.js';
import type { Logger } from '../logger.js';
import type { RateLimit } from './connection.js';

/** How often worker liveness is checked, in milliseconds. */
export const LIVENESS_CHECK_INTERVAL_MS = 1_000;
/** How often Node's HTTP server looks for requests past their header or request timeout, in milliseconds. */
export const HTTP_TIMEOUT_CHECK_INTERVAL_MS = 1_000;

export interface SchedulerServerOptions extends SchedulerOptions {
  host?: string;
  port?: number;
  /** The admin token: admits every role, and alone may run functions, upload modules and dump state (see access.ts). */
  token?: string | undefined;
  /** Admits clients (submit, gather, cancel) when set. */
  clientToken?: string | undefined;
  /** Admits workers when set. */
  workerToken?: string | undefined;
  /**
   * Origins of web pages (besides the scheduler's own) that may connect without a token, as
   * `scheme://host[:port]`; `*` allows every origin (see origin.ts).
   */
  allowOrigins?: readonly string[] | undefined;
  /** Listen beyond loopback with no token (refused otherwise). */
  insecure?: boolean | undefined;
  /** Serve https/wss with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer } | undefined;
  /** UDP port of the STUN responder that WebRTC peers learn their addresses from (0: any free port). */
  stunPort?: number;
  /** More ICE servers handed to WebRTC peers, e.g. a TURN server for networks where direct paths fail. */
  extraIceServers?: IceServers;
  heartbeatTimeoutMs?: number;
  logger?: Logger;
  /** A connection must say hello within this time, in milliseconds (default HELLO_TIMEOUT_MS). */
  helloTimeoutMs?: number;
  /** Open TCP connections on the port (default MAX_CONNECTIONS). */
  maxConnections?: number;
  /** WebSocket connections that have not said hello yet (default MAX_UNAUTHENTICATED_CONNECTIONS). */
  maxUnauthenticatedConnections?: number;
  /**
   * Unfinished tasks the clients of one token may have, all their connections together (default
   * MAX_PENDING_TASKS_PER_TOKEN); on a scheduler with no token, all its clients together.
   */
  maxPendingTasksPerToken?: number;
  /** @deprecated The limit is per token now: `maxPendingTasksPerToken` (this name still sets it). */
  maxPendingTasksPerClient?: number;
  /** Messages per connection (default MAX_MESSAGES_PER_SECOND, bursts of MESSAGE_BURST). */
  rateLimit?: RateLimit;
  /** HTTP headers (of a WebSocket upgrade too) must arrive within this time, in milliseconds (default HTTP_HEADERS_TIMEOUT_MS). */
  httpHeadersTimeoutMs?: number;
}

/** What the limits refused, since the scheduler started. */
export interface LimitCounts {
  /** Frames dropped with RATE_LIMITED. */
  framesRateLimited: number;
  /** Connections closed for sending too fast. */
  closedForRate: number;
  /** WebSocket connections refused because too many had not said hello. */
  refusedUnauthenticated: number;
  /** Connections closed for saying no hello in time. */
  helloTimeouts: number;
  /** Connections closed for sending more than MAX_HELLO_BYTES before their hello was read. */
  helloTooLarge: number;
  /** WebSocket upgrades refused for their Origin or Host. */
  originsRefused: number;
  /** Plain HTTP requests refused for their Origin or Host. */
  requestsRefused: number;
  /** update-graph messages refused for MAX_PENDING_TASKS_PER_TOKEN. */
  graphsRefused: number;
}
