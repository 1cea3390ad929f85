/**
 * The data link's second dialect: WebSocket on the same port, for browser clients (a page cannot
 * open a raw TCP socket). Each accepted connection is sniffed: a first byte of `G` (an HTTP
 * `GET`, the WebSocket opening handshake) hands it to a `ws` server in noServer mode; anything
 * else is the plain peer framing (its first byte is the high byte of a header length, always 0).
 *
 * Over WebSocket the link carries the very same byte stream of peer frames, cut into binary
 * messages of at most DATA_LINK_WS_MESSAGE_MAX_BYTES (a frame may span messages), and the
 * listener serves it with the same session and rules as TCP: hello first, a bad header gets an error
 * reply and the link stays, broken framing closes it, and a client (any hello without the data
 * token) is served only the keys whose ticket checks out. Any web page can reach a loopback port,
 * so on top of that:
 * - a listener that needs no token (DataServerOptions.token undefined, tests) serves no WebSocket;
 * - a message over the limit closes the link (1009, by `ws`); a text message gets a
 *   PROTOCOL_ERROR reply and is dropped (it never reaches the frame reader, so framing holds);
 * - a plain HTTP request gets 426; the opening handshake must be done within HELLO_TIMEOUT_MS of
 *   the connection, its request head within DATA_LINK_HTTP_MAX_HEADER_BYTES.
 */
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { DATA_LINK_WS_MESSAGE_MAX_BYTES, HELLO_TIMEOUT_MS, ReplyCode, encodePeerFrame, type ErrorReply } from '@meshwork/protocol';
import type { Logger } from '../logger.js';

/** What the listener uses of a connection: a TCP socket, or a WebSocket seen as one. */
export interface DataLinkSocket {
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  setNoDelay(noDelay?: boolean): unknown;
  /** False: wait for `drain`. */
  write(chunk: Uint8Array): boolean;
  end(): unknown;
  destroy(): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'close' | 'drain', listener: () => void): unknown;
  off(event: 'close' | 'drain', listener: () => void): unknown;
}

/** The scheduler's data token as the listener reads it (see DataServerOptions.token). */
export type TokenSource = () => string | undefined | null;

/** First byte of an HTTP `GET` request line. */
const HTTP_GET_FIRST_BYTE = 0x47;

/** Largest HTTP request head accepted for the opening handshake, in bytes. */
export const DATA_LINK_HTTP_MAX_HEADER_BYTES = 8 * 1024;

/**
 * Returns the handler for each accepted socket: it waits for the first bytes (closing a silent
 * socket after HELLO_TIMEOUT_MS), then calls `serve` with the socket itself, or with the
 * WebSocket once its handshake is done.
 */
export function dataLinkAcceptor(
  token: TokenSource | undefined,
  log: Logger,
  serve: (connection: DataLinkSocket, token: TokenSource | undefined) => void,
): (socket: Socket) => void {
  // A WebSocket is always a web page's: never served without a token (no one would be asked for tickets).
  const webToken: TokenSource = () => token?.() ?? null;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: DATA_LINK_WS_MESSAGE_MAX_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
  });
  const http = createHttpServer({ maxHeaderSize: DATA_LINK_HTTP_MAX_HEADER_BYTES });
  http.headersTimeout = HELLO_TIMEOUT_MS;
  http.requestTimeout = HELLO_TIMEOUT_MS;
  http.on('request', (_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain', connection: 'close', upgrade: 'websocket' });
    res.end('a meshwork data link: open it as a WebSocket (the client does), or speak peer frames over TCP\n');
  });
  /** Each socket's deadline for its first bytes and, over HTTP, for the whole opening handshake. */
  const deadlines = new WeakMap<Socket, ReturnType<typeof setTimeout>>();
  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      clearTimeout(deadlines.get(socket)); // the session's own hello deadline takes over
      serve(new WebSocketDataLink(ws, socket, log), webToken);
    });
  });
  http.on('clientError', (e, socket) => {
    log.debug('refused a data-link HTTP request', { error: e });
    socket.destroy();
  });

  return (socket) => {
    const timer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    deadlines.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      if (first[0] === HTTP_GET_FIRST_BYTE) http.emit('connection', socket);
      else {
        clearTimeout(timer); // the session's own hello deadline takes over
        serve(socket, token);
      }
      socket.resume();
    });
  };
}

/** A WebSocket as the byte stream the listener expects: binary messages in, messages of bounded size out. */
class WebSocketDataLink extends Duplex {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly raw: Socket,
    private readonly log: Logger,
  ) {
    super({ allowHalfOpen: false });
    this.remoteAddress = raw.remoteAddress;
    this.remotePort = raw.remotePort;
    raw.setNoDelay(true);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) return this.refuseText();
      if (!this.push(toBuffer(data))) ws.pause();
    });
    // `ws` closes the link itself on a protocol violation (e.g. 1009, a message over maxPayload).
    ws.on('error', (e) => log.warn('closing a data-link WebSocket', { peer: this.peer, error: e.message }));
    ws.on('close', () => {
      this.push(null);
      this.destroy();
    });
  }

  private get peer(): string {
    return `${this.remoteAddress}:${this.remotePort}`;
  }

  setNoDelay(): this {
    return this;
  }

  /** Written through the stream, so it lands between two frames of the replies. */
  private refuseText(): void {
    this.log.warn('refused a text message on a data-link WebSocket', { peer: this.peer });
    if (this.writableEnded || this.destroyed) return;
    const refusal: ErrorReply = {
      type: 'error',
      code: ReplyCode.PROTOCOL_ERROR,
      message: 'text message on the data link: send peer frames as binary messages',
    };
    for (const part of encodePeerFrame(refusal)) this.write(part);
  }

  override _read(): void {
    this.ws.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.ws.readyState !== this.ws.OPEN) return callback();
    for (let at = 0; at < chunk.byteLength; at += DATA_LINK_WS_MESSAGE_MAX_BYTES) {
      this.ws.send(chunk.subarray(at, at + DATA_LINK_WS_MESSAGE_MAX_BYTES), { binary: true });
    }
    // Backpressure: the next chunk waits until the socket under the WebSocket has drained.
    if (!this.raw.writableNeedDrain) return callback();
    const done = (): void => {
      this.raw.off('drain', done);
      this.raw.off('close', done);
      callback();
    };
    this.raw.on('drain', done);
    this.raw.on('close', done);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.ws.close(1000);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.ws.terminate();
    callback(error);
  }
}

function toBuffer(data: RawData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return data;
}
