/**
 * The worker's data link server (TCP): peers and clients fetch stored values directly. After
 * `hello`, each `get-data {id, keys}` is answered, per key, by a `data {id, key, nbytes}` frame
 * whose body is the stored bytes as they are, or by `data-missing`; each `put-data {id, key}`
 * (a client scattering: the body is the encoded value) is stored through `put` and answered by
 * `put-ok {id, key}` or an `error`. Requests on a connection are served in order, with
 * backpressure. A bad header gets an `error` reply and the connection stays; broken framing gets
 * an `error` reply and the connection closes.
 *
 * Who asks: a hello with the scheduler's data token is a peer worker's, served every key; a hello
 * with a wrong token is refused and the connection closed; a hello without one is a client's,
 * which must present a ticket (protocol tickets.ts) with each key: a `get-data` key or a
 * `put-data` without a valid one is answered by an `error` AUTH_FAILED naming it, nothing served
 * or stored, and the connection stays open. Tickets are checked against the secret of the moment,
 * so those of an earlier membership (a restarted scheduler) no longer pass.
 */
import { sharedBytes } from './shared-memory.js';
import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import {
  HELLO_TIMEOUT_MS,
  PROTOCOL_VERSION,
  PeerChannel,
  PeerFrameError,
  PeerFrameReader,
  ReplyCode,
  encodePeerFrame,
  parseMessage,
  ticketValid,
  typesOf,
  type ErrorReply,
  type TicketPurpose,
} from '@meshwork/protocol';
import { CLOSE_TIMEOUT_MS, MAX_QUEUED_PEER_REQUESTS } from '../constants.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { advertisedHost, formatTcpAddress } from './address.js';

type GetData = Extract<PeerChannel.PeerRequest, { type: 'get-data' }>;
type PutData = Extract<PeerChannel.PeerRequest, { type: 'put-data' }> & { body: Uint8Array };

/** Stores a value a client put; refuses (e.g. over the memory limit) with a message. */
export type PutHandler = (key: string, bytes: Uint8Array) => { ok: true } | { ok: false; message: string };

export interface DataServerOptions {
  host: string;
  /** 0 (the default) for any free port. */
  port?: number;
  /** The stored bytes of a key, or undefined; `peer` is who asks (its hello's `from`). */
  lookup(key: string, peer: string): Uint8Array | undefined;
  /** Stores put-data; without it, put-data is refused. */
  put?: PutHandler;
  /**
   * The scheduler's data token, read at each hello and each ticket checked: a peer's hello carries
   * it, a client's tickets are made with it. Undefined: none is needed, everyone is served as a
   * peer (a scheduler that gives none, tests); null: nothing is served yet, the worker has not
   * joined. Default: undefined.
   */
  token?: () => string | undefined | null;
  logger?: Logger;
}

export interface DataServer {
  /** `tcp://HOST:PORT`, for `hello.dataAddress`. */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

const requestTypes = typesOf(PeerChannel.PeerRequest);

export async function startDataServer(o: DataServerOptions): Promise<DataServer> {
  const log = o.logger ?? silentLogger;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serveConnection(socket, o, log);
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

function serveConnection(socket: Socket, o: Pick<DataServerOptions, 'lookup' | 'put' | 'token'>, log: Logger): void {
  const reader = new PeerFrameReader({ allocate: sharedBytes });
  const queue: (GetData | PutData)[] = [];
  let helloed = false;
  /** The hello came without the data token: each key must carry its ticket. */
  let ticketed = false;
  let serving = false;
  let broken = false;
  const peer = `${socket.remoteAddress}:${socket.remotePort}`;
  /** Who asks, as its hello says (the socket address until then). */
  let from = peer;
  socket.setNoDelay(true);
  const helloTimer = setTimeout(() => fail(ReplyCode.PROTOCOL_ERROR, `no hello within ${HELLO_TIMEOUT_MS} ms`), HELLO_TIMEOUT_MS);

  const write = (header: unknown, body?: Uint8Array): boolean => {
    if (socket.destroyed || socket.writableEnded) return true;
    let ok = true;
    for (const part of encodePeerFrame(header, body)) ok = socket.write(part);
    return ok;
  };
  const reply = (code: ErrorReply['code'], message: string, replyTo?: number, key?: string): void => {
    const r: ErrorReply = { type: 'error', code, message };
    if (replyTo !== undefined) r.replyTo = replyTo;
    if (key !== undefined) r.key = key;
    write(r);
  };
  /** May this connection have `key` for `purpose`? A peer may have any; a client needs the ticket. */
  const admitted = (purpose: TicketPurpose, key: string, ticket: string | undefined): boolean => {
    if (!ticketed) return true;
    const secret = o.token?.();
    if (secret === undefined) return true;
    return secret !== null && ticketValid(secret, purpose, key, ticket);
  };
  /** Replies and closes the connection: it can no longer be trusted or understood. */
  function fail(code: ErrorReply['code'], message: string): void {
    if (broken) return;
    broken = true;
    queue.length = 0;
    log.warn('closing a data-link connection', { peer, code, message });
    reply(code, message);
    socket.end();
    setTimeout(() => socket.destroy(), CLOSE_TIMEOUT_MS).unref();
  }

  const drained = (): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });

  async function serve(): Promise<void> {
    serving = true;
    try {
      while (queue.length > 0 && !socket.destroyed) {
        const req = queue.shift() as GetData | PutData;
        if (req.type === 'put-data') {
          store(req);
          continue;
        }
        let refused = 0;
        for (const [i, key] of req.keys.entries()) {
          let ok: boolean;
          if (admitted('get', key, req.tickets?.[i])) {
            const bytes = o.lookup(key, from);
            ok = bytes ? write({ type: 'data', id: req.id, key, nbytes: bytes.byteLength }, bytes) : write({ type: 'data-missing', id: req.id, key });
          } else {
            refused++;
            const message = `no valid get ticket for '${key}': the scheduler gives one with the holders of a key the client may gather`;
            ok = write({ type: 'error', code: ReplyCode.AUTH_FAILED, message, replyTo: req.id, key } satisfies ErrorReply);
          }
          if (!ok) await drained();
          if (socket.destroyed) return;
        }
        if (refused > 0) log.warn('refused get-data keys without a valid ticket', { peer, from, keys: refused });
      }
    } finally {
      serving = false;
    }
  }

  function store(req: PutData): void {
    if (!admitted('put', req.key, req.ticket)) {
      log.warn('refused put-data without a valid ticket', { peer, from, key: req.key });
      return reply(ReplyCode.AUTH_FAILED, `no valid put ticket for '${req.key}': ask the scheduler for it (scatter plan)`, req.id, req.key);
    }
    if (!o.put) return reply(ReplyCode.BAD_REQUEST, 'this data server does not accept put-data', req.id);
    if (req.body.byteLength === 0) return reply(ReplyCode.BAD_REQUEST, `put-data of '${req.key}' has no value (an empty body)`, req.id);
    const stored = o.put(req.key, req.body);
    if (!stored.ok) {
      log.info('refused put-data', { peer, key: req.key, bytes: req.body.byteLength, message: stored.message });
      return reply(ReplyCode.BAD_REQUEST, stored.message, req.id);
    }
    write({ type: 'put-ok', id: req.id, key: req.key });
  }

  function enqueue(req: GetData | PutData): void {
    if (!helloed) return reply(ReplyCode.BAD_REQUEST, 'send hello first', req.id);
    if (queue.length >= MAX_QUEUED_PEER_REQUESTS) return reply(ReplyCode.BAD_REQUEST, `over ${MAX_QUEUED_PEER_REQUESTS} requests queued`, req.id);
    queue.push(req);
    if (!serving) void serve();
  }

  function onFrame(header: unknown, body: Uint8Array): void {
    const parsed = parseMessage(header, PeerChannel.PeerRequest, requestTypes);
    if (!parsed.ok) {
      log.warn('refused a data-link request', { peer, message: parsed.error.message });
      write(parsed.error);
      return;
    }
    const msg = parsed.message;
    switch (msg.type) {
      case 'hello':
        if (helloed) return reply(ReplyCode.BAD_REQUEST, 'hello was already sent');
        if (msg.protocolVersion !== PROTOCOL_VERSION) {
          return fail(ReplyCode.VERSION_MISMATCH, `this worker speaks protocol version ${PROTOCOL_VERSION}, the peer ${msg.protocolVersion}`);
        }
        switch (helloRole(o.token?.(), msg.token)) {
          case 'refused':
            log.warn('refused a data link: wrong token, or not joined yet', { peer });
            return fail(ReplyCode.AUTH_FAILED, 'this worker serves only peers of its cluster, and clients with tickets: wrong token');
          case 'client':
            ticketed = true; // served key by key on its tickets (`admitted`)
            break;
          case 'peer':
            break;
        }
        helloed = true;
        from = msg.from;
        clearTimeout(helloTimer);
        return;
      case 'get-data':
        return enqueue(msg);
      case 'put-data':
        return enqueue({ ...msg, body });
      default:
        msg satisfies never;
    }
  }

  socket.on('data', (chunk: Buffer) => {
    if (broken) return;
    let frames;
    try {
      frames = reader.push(chunk);
    } catch (e) {
      // PeerFrameError, or a RangeError when a prefix announces a body too big to allocate.
      return fail(ReplyCode.PROTOCOL_ERROR, e instanceof PeerFrameError ? e.message : `unreadable frame: ${(e as Error).message}`);
    }
    for (const f of frames) if (!broken) onFrame(f.header, f.body);
  });
  socket.on('error', (e) => log.debug('data-link connection error', { peer, error: e }));
  socket.on('close', () => {
    clearTimeout(helloTimer);
    queue.length = 0;
  });
}

/**
 * Who a hello comes from, given the token expected (see DataServerOptions.token): a peer (it
 * carries the data token, or none is needed), a client (it carries none), or refused (a wrong
 * token, or the worker has not joined).
 */
function helloRole(expected: string | undefined | null, given: string | undefined): 'peer' | 'client' | 'refused' {
  if (expected === undefined) return 'peer';
  if (expected === null) return 'refused';
  if (given === undefined) return 'client';
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b) ? 'peer' : 'refused';
}
