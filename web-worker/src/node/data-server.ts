/**
 * The worker's data link server (TCP): peers and clients fetch stored values directly. After
 * `hello`, each `get-data {id, keys}` is answered, per key, by a `data {id, key, nbytes}` frame
 * whose body is the stored bytes as they are, or by `data-missing`; each `put-data {id, key}`
 * (a client scattering: the body is the encoded value) is stored through `put` and answered by
 * `put-ok {id, key}` or an `error`. Requests on a connection are served in order, with
 * backpressure. A bad header gets an `error` reply and the connection stays; broken framing gets
 * an `error` reply and the connection closes.
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
  typesOf,
  type ErrorReply,
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
   * What a hello must carry, read at each hello: the scheduler's data token (undefined: none is
   * needed; null: nothing is served yet, the worker has not joined). Default: undefined.
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
  const reply = (code: ErrorReply['code'], message: string, replyTo?: number): void => {
    const r: ErrorReply = { type: 'error', code, message };
    if (replyTo !== undefined) r.replyTo = replyTo;
    write(r);
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
        for (const key of req.keys) {
          const bytes = o.lookup(key, from);
          const ok = bytes ? write({ type: 'data', id: req.id, key, nbytes: bytes.byteLength }, bytes) : write({ type: 'data-missing', id: req.id, key });
          if (!ok) await drained();
          if (socket.destroyed) return;
        }
      }
    } finally {
      serving = false;
    }
  }

  function store(req: PutData): void {
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
        if (!tokenMatches(o.token?.(), msg.token)) {
          log.warn('refused a data link: wrong or missing token', { peer });
          return fail(ReplyCode.AUTH_FAILED, 'this worker serves only peers of its cluster: wrong or missing token');
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

/** Does a hello's token meet what is expected (see DataServerOptions.token)? */
function tokenMatches(expected: string | undefined | null, given: string | undefined): boolean {
  if (expected === undefined) return true;
  if (expected === null || given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
