/**
 * Browsers: the global WebSocket, for the scheduler and for workers' data links (a Node
 * worker's data link answers WebSocket on its TCP port: peer-socket.browser.ts).
 */
import { MAX_CONTROL_FRAME_BYTES } from '@meshwork/protocol';
import type { ControlSocket, ControlSocketHandlers, Platform } from './platform.js';
import { dialWebSocketLink, type BrowserWebSocket, type BrowserWebSocketClass } from './peer-socket.browser.js';

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

export const platform: Platform = {
  name: 'browser',
  directLinks: true,
  openControlSocket,
  dialPeer: dialWebSocketLink,
};
