/**
 * TCP under a StreamLink. A dialled socket reads straight into the value being received (the
 * socket's `onread` buffer is the body's own memory: no copy after the kernel's); an accepted
 * socket reads chunks ('data' events: a server cannot choose per-socket read buffers).
 */
import { connect, type Socket } from 'node:net';
import { CONNECT_TIMEOUT_MS, ConnectionError, TimeoutError } from '@meshwork/protocol';
import { CLOSE_TIMEOUT_MS } from '../constants.js';
import { StreamLink, type StreamLinkOptions } from '../stream-link.js';
import { parseTcpAddress } from '../address.js';
import type { DataLinkSocket } from './websocket.node.js';

/** Size of a read while frame headers are being read, in bytes (a body is read straight into its own memory). */
const HEADER_READ_BYTES = 64 * 1024;

/** `lingerMs`: how long an ended socket may go on sending what it was given before it is destroyed (0: at once). */
function streamOf(socket: Socket | DataLinkSocket, lingerMs = CLOSE_TIMEOUT_MS): ConstructorParameters<typeof StreamLink>[0] {
  return {
    write(parts) {
      if (socket.destroyed || socket.writableEnded) return true;
      let ok = true;
      for (const part of parts) ok = socket.write(part);
      return ok;
    },
    end() {
      if (lingerMs <= 0) return void socket.destroy();
      socket.end();
      setTimeout(() => socket.destroy(), lingerMs).unref();
    },
    onDrain(listener) {
      socket.on('drain', listener);
    },
  };
}

function wireEnd(socket: Socket | DataLinkSocket, link: StreamLink, name: string): void {
  socket.on('error', (e) => link.ended(new ConnectionError(`data link ${name} failed: ${e.message}`)));
  socket.on('close', () => link.ended(new ConnectionError(`data link ${name} closed`)));
}

/** A link over a socket a listener accepted (or a WebSocket seen as one: websocket.node.ts). */
export function acceptedLink(socket: Socket | DataLinkSocket, o: StreamLinkOptions = {}): StreamLink {
  socket.setNoDelay(true);
  const link = new StreamLink(streamOf(socket), o);
  socket.on('data', (chunk: Buffer) => link.push(chunk));
  wireEnd(socket, link, `from ${socket.remoteAddress}:${socket.remotePort}`);
  return link;
}

export interface DialOptions extends StreamLinkOptions {
  signal?: AbortSignal;
  /**
   * How long the socket may finish sending once the link is closed, in milliseconds (default
   * CLOSE_TIMEOUT_MS). 0 destroys it at once: for an asker that has its answers, so a peer that
   * goes on sending is cut off rather than read for seconds more.
   */
  lingerMs?: number;
}

/** Dials `address` (`tcp://host:port`); rejects after CONNECT_TIMEOUT_MS or when `signal` aborts. */
export function dialLink(address: string, o: DialOptions = {}): Promise<StreamLink> {
  const { host, port } = parseTcpAddress(address);
  return new Promise((resolve, reject) => {
    let link: StreamLink | undefined;
    let readingBody = false;
    const socket = connect({
      host,
      port,
      onread: {
        buffer: () => {
          const window = link?.bodyWindow();
          readingBody = window !== undefined;
          return window ?? Buffer.allocUnsafe(HEADER_READ_BYTES);
        },
        callback: (n: number, buffer: Uint8Array) => {
          if (!link) return true; // nothing is sent before our hello
          if (readingBody) link.filled(n);
          else link.push(buffer.subarray(0, n));
          return true;
        },
      },
    });
    const fail = (e: Error): void => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(e);
    };
    const onAbort = (): void => fail(o.signal?.reason as Error);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => fail(new TimeoutError(`could not connect to ${address} within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    socket.once('error', (e) => fail(new ConnectionError(`could not connect to ${address}: ${e.message}`)));
    socket.once('connect', () => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      socket.setNoDelay(true);
      link = new StreamLink(streamOf(socket, o.lingerMs), o);
      wireEnd(socket, link, `to ${address}`);
      resolve(link);
    });
  });
}
