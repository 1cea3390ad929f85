/**
 * Browsers: the global WebSocket. No direct data link yet: values that are not inline
 * (over INLINE_VALUE_MAX_BYTES) cannot be fetched from a browser client until WebRTC lands.
 */
import { ConnectionError, INLINE_VALUE_MAX_BYTES, MAX_CONTROL_FRAME_BYTES } from '@meshwork/protocol';
import type { ControlSocket, ControlSocketHandlers, PeerStream, Platform } from './platform.js';

/** The part of the DOM WebSocket used here (the client compiles without the DOM lib). */
interface BrowserWebSocket {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number): void;
  addEventListener(type: string, listener: (event: { data?: unknown; code?: number; reason?: string }) => void): void;
}
type BrowserWebSocketClass = new (url: string) => BrowserWebSocket;

const OPEN = 1;

function openControlSocket(url: string, handlers: ControlSocketHandlers): ControlSocket {
  let closed = false;
  const finish = (reason: string): void => {
    if (closed) return;
    closed = true;
    handlers.onClose(reason);
  };
  const Ctor = (globalThis as { WebSocket?: BrowserWebSocketClass }).WebSocket;
  let ws: BrowserWebSocket;
  try {
    if (!Ctor) throw new Error('this runtime has no global WebSocket');
    ws = new Ctor(url);
  } catch (e) {
    queueMicrotask(() => finish((e as Error).message));
    return { send() {}, close() {} };
  }
  ws.binaryType = 'arraybuffer';
  ws.addEventListener('open', () => handlers.onOpen());
  ws.addEventListener('message', (event) => {
    if (!(event.data instanceof ArrayBuffer)) return handlers.onInvalid('text message on a binary channel');
    if (event.data.byteLength > MAX_CONTROL_FRAME_BYTES)
      return handlers.onInvalid('frame over MAX_CONTROL_FRAME_BYTES');
    handlers.onMessage(new Uint8Array(event.data));
  });
  ws.addEventListener('error', () => finish('WebSocket error'));
  ws.addEventListener('close', (event) =>
    finish(`closed (${event.code ?? 0}${event.reason ? `: ${event.reason}` : ''})`),
  );
  return {
    send(bytes) {
      if (ws.readyState === OPEN) ws.send(bytes);
    },
    close() {
      ws.close(1000);
    },
  };
}

function openPeerStream(address: string): PeerStream {
  throw new ConnectionError(
    `this value is held by a worker (${address}) and is larger than ${INLINE_VALUE_MAX_BYTES} bytes; ` +
      'fetching it directly from a browser client is not supported yet (WebRTC data links are coming)',
  );
}

export const platform: Platform = { name: 'browser', directLinks: false, openControlSocket, openPeerStream };
