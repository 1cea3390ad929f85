/**
 * Browsers: the data link to a worker as a WebSocket (a page cannot open a raw TCP socket). A
 * Node worker's data link answers WebSocket on its TCP port with the same byte stream of peer
 * frames, cut into binary messages of at most DATA_LINK_WS_MESSAGE_MAX_BYTES; the worker serves a
 * client only the keys whose ticket (from the scheduler) checks out.
 */
import { StreamLink } from '@meshwork/datalink';
import { ConnectionError, DATA_LINK_WS_MESSAGE_MAX_BYTES, ProtocolError } from '@meshwork/protocol';
import { PEER_CONNECT_TIMEOUT_MS } from './constants.js';
import { dataLinkWebSocketUrl } from './data-address.js';

/** Callbacks of a byte stream to a worker's data link. */
export interface PeerStreamHandlers {
  onOpen(): void;
  onData(chunk: Uint8Array): void;
  /** The stream ended or failed (or could not open). Called once. */
  onClose(error: Error | undefined): void;
}

/** A byte stream to a worker's data link. */
export interface PeerStream {
  /** Writes the parts in order; each is sent as it is, without a copy. */
  write(parts: readonly Uint8Array[]): void;
  close(): void;
}

/** The part of the DOM WebSocket used here (the client compiles without the DOM lib). */
export interface BrowserWebSocket {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: { data?: unknown; code?: number; reason?: string }) => void): void;
}
export type BrowserWebSocketClass = new (url: string) => BrowserWebSocket;

const OPEN = 1;
/** Close codes (RFC 6455): normal, unacceptable data type, message too big. */
const CLOSE_NORMAL = 1000;
const CLOSE_UNSUPPORTED_DATA = 1003;
const CLOSE_TOO_BIG = 1009;

/** Opens `ws://host:port/` (or `wss:`, see dataLinkWebSocketUrl) for the data link at `tcp://host:port`. */
export function openWebSocketPeerStream(address: string, handlers: PeerStreamHandlers): PeerStream {
  const page = (globalThis as { location?: { protocol?: string } }).location;
  const url = dataLinkWebSocketUrl(address, page?.protocol);
  const Ctor = (globalThis as { WebSocket?: BrowserWebSocketClass }).WebSocket;
  if (!Ctor) throw new ConnectionError(`data link to ${address}: this runtime has no global WebSocket`);
  const ws = new Ctor(url);
  ws.binaryType = 'arraybuffer';
  let closed = false;
  const finish = (error: Error | undefined): void => {
    if (closed) return;
    closed = true;
    clearTimeout(connectTimer);
    handlers.onClose(error);
  };
  /** A violation by the worker: the link cannot be trusted any more. */
  const refuse = (code: number, why: string): void => {
    finish(new ProtocolError(`data link to ${address} (${url}): ${why}`));
    ws.close(code);
  };
  const connectTimer = setTimeout(() => {
    finish(new ConnectionError(`data link to ${address} (${url}): no connection within ${PEER_CONNECT_TIMEOUT_MS} ms`));
    ws.close();
  }, PEER_CONNECT_TIMEOUT_MS);
  ws.addEventListener('open', () => {
    clearTimeout(connectTimer);
    if (!closed) handlers.onOpen();
  });
  ws.addEventListener('message', (event) => {
    if (closed) return;
    if (!(event.data instanceof ArrayBuffer)) return refuse(CLOSE_UNSUPPORTED_DATA, 'text message on a binary link');
    if (event.data.byteLength > DATA_LINK_WS_MESSAGE_MAX_BYTES)
      return refuse(CLOSE_TOO_BIG, `message of ${event.data.byteLength} bytes, over DATA_LINK_WS_MESSAGE_MAX_BYTES`);
    handlers.onData(new Uint8Array(event.data));
  });
  // A browser tells a page nothing about why a WebSocket failed (no error detail, close code 1006).
  ws.addEventListener('error', () =>
    finish(new ConnectionError(`data link to ${address}: the WebSocket ${url} failed (is the worker reachable from this page?)`)),
  );
  ws.addEventListener('close', (event) => {
    const normal = event.code === CLOSE_NORMAL;
    finish(normal ? undefined : new ConnectionError(`data link to ${address} (${url}) closed (${event.code ?? 0}${event.reason ? `: ${event.reason}` : ''})`));
  });
  return {
    write(parts) {
      if (ws.readyState !== OPEN) return;
      for (const part of parts) {
        for (let at = 0; at < part.byteLength; at += DATA_LINK_WS_MESSAGE_MAX_BYTES)
          ws.send(part.subarray(at, at + DATA_LINK_WS_MESSAGE_MAX_BYTES));
      }
    },
    close() {
      closed = true;
      clearTimeout(connectTimer);
      ws.close(CLOSE_NORMAL);
    },
  };
}

/**
 * The data link to the worker at `address` as a StreamLink over `openWebSocketPeerStream`: resolves
 * once the WebSocket is open; rejects if it closes first, or with `signal`'s reason.
 */
export function dialWebSocketLink(address: string, signal: AbortSignal): Promise<StreamLink> {
  signal.throwIfAborted();
  let stream: PeerStream | undefined;
  // The WebSocket buffers what is written: no back-pressure to wait for.
  const link = new StreamLink({ write: (parts) => (stream?.write(parts), true), end: () => stream?.close(), onDrain: () => {} });
  return new Promise<StreamLink>((resolve, reject) => {
    const onAbort = (): void => {
      stream?.close();
      link.ended(signal.reason as Error);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const handlers: PeerStreamHandlers = {
      onOpen: () => {
        signal.removeEventListener('abort', onAbort);
        resolve(link);
      },
      onData: (chunk) => link.push(chunk),
      onClose: (error) => {
        signal.removeEventListener('abort', onAbort);
        const reason = error ?? new ConnectionError(`data link to ${address} closed`);
        link.ended(reason);
        reject(reason);
      },
    };
    try {
      stream = openWebSocketPeerStream(address, handlers);
    } catch (e) {
      // No WebSocket here, or an address no URL can be made of: nothing opened, nothing to wait for.
      handlers.onClose(e as Error);
    }
  });
}
