/**
 * A Node worker's data-link listener (TCP, and WebSocket on the same port for pages:
 * websocket.node.ts): peers and clients fetch stored values directly, and clients put scattered
 * values. Each accepted connection is a serve-only PeerSession (see responder.ts for what is
 * answered and how).
 *
 * Who asks: a hello with the scheduler's data token is a peer worker's, served every key; a hello
 * with a wrong token is refused and the connection closed; a hello without one is a client's,
 * which must present a ticket (protocol tickets.ts) with each key. Tickets are checked against the
 * secret of the moment, so those of an earlier membership (a restarted scheduler) no longer pass.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { ReplyCode, ticketValid } from '@meshwork/protocol';
import { CLOSE_TIMEOUT_MS } from '../constants.js';
import type { LinkPath, PeerDataHandler, PutResult } from '../link.js';
import { silentLogger, type Logger } from '../logger.js';
import type { Admission } from '../responder.js';
import { PeerSession } from '../session.js';
import { formatTcpAddress } from '../address.js';
import { advertisedHost } from './address.node.js';
import { acceptedLink } from './socket-link.node.js';
import { dataLinkAcceptor, type DataLinkSocket, type TokenSource } from './websocket.node.js';

/** Stores a value a client put; refuses (e.g. over the memory limit) with a message. */
export type PutHandler = (key: string, bytes: Uint8Array) => PutResult | Promise<PutResult>;

export interface DataServerOptions {
  host: string;
  /** 0 (the default) for any free port. */
  port?: number;
  /** The stored bytes of a key, or undefined; `peer` is who asks (its hello's `from`). */
  lookup(key: string, peer: string, path: LinkPath): Uint8Array | undefined;
  /** Stores put-data; without it, put-data is refused. */
  put?: PutHandler;
  /**
   * The scheduler's data token, read at each hello and each ticket checked: a peer's hello carries
   * it, a client's tickets are made with it. Undefined: none is needed, everyone is served as a
   * peer (a scheduler that gives none, tests); null: nothing is served yet, the worker has not
   * joined. Default: undefined.
   */
  token?: () => string | undefined | null;
  /** Where a put value's body is assembled (shared memory in a Node worker). */
  allocate?: (bytes: number) => Uint8Array;
  logger?: Logger;
}

export interface DataServer {
  /** `tcp://HOST:PORT`, for `hello.dataAddress`. */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startDataServer(o: DataServerOptions): Promise<DataServer> {
  const log = o.logger ?? silentLogger;
  const sockets = new Set<Socket>();
  const put = o.put;
  const handler: PeerDataHandler = { lookup: (key, peer, path) => o.lookup(key, peer, path), ...(put ? { put: (key, bytes) => put(key, bytes) } : {}) };
  const serve = (connection: DataLinkSocket, token: TokenSource | undefined): void => {
    const link = acceptedLink(connection, o.allocate ? { allocate: o.allocate } : {});
    new PeerSession(link, {
      localId: '',
      peerId: `${connection.remoteAddress}:${connection.remotePort}`,
      role: 'serve',
      path: 'tcp',
      admit: (hello) => admission(token?.(), hello.token, token),
      handler: () => handler,
      logger: log,
    });
  };
  // Peer frames over TCP, or the same frames over WebSocket for pages.
  const accept = dataLinkAcceptor(o.token, log, serve);
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    accept(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => log.error('data server error', { error: e }));
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : 0;
  return {
    address: formatTcpAddress(advertisedHost(o.host), port),
    port,
    close: async () => {
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([done, new Promise((r) => (timer = setTimeout(r, CLOSE_TIMEOUT_MS)))]);
      clearTimeout(timer);
    },
  };
}

/**
 * Who a hello comes from, given the token expected (see DataServerOptions.token): a peer (it
 * carries the data token, or none is needed), a client (it carries none; its keys need tickets),
 * or refused (a wrong token, or the worker has not joined).
 */
function admission(expected: string | undefined | null, given: string | undefined, token: DataServerOptions['token']): Admission {
  const refused: Admission = {
    as: 'refused',
    code: ReplyCode.AUTH_FAILED,
    message: 'this worker serves only peers of its cluster, and clients with tickets: wrong token',
  };
  if (expected === undefined) return { as: 'peer' };
  if (expected === null) return refused;
  if (given === undefined) {
    return {
      as: 'client',
      ticketValid: (purpose, key, ticket) => {
        const secret = token?.();
        if (secret === undefined) return true;
        return secret !== null && ticketValid(secret, purpose, key, ticket);
      },
    };
  }
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b) ? { as: 'peer' } : refused;
}
