/** Node: WebSocket from `ws`, the data link to workers over TCP (the data plane's own: `@meshwork/datalink/node`). */
import { WebSocket } from 'ws';
import { blake3Hasher, nodeValueHash } from '@meshwork/datalink/blake3';
import { dialLink } from '@meshwork/datalink/node';
import { MAX_CONTROL_FRAME_BYTES } from '@meshwork/protocol';
import type { ControlSocket, ControlSocketHandlers, Platform } from './platform.js';

function openControlSocket(url: string, handlers: ControlSocketHandlers): ControlSocket {
  let closed = false;
  const finish = (reason: string): void => {
    if (closed) return;
    closed = true;
    handlers.onClose(reason);
  };
  let ws: WebSocket;
  try {
    ws = new WebSocket(url, { maxPayload: MAX_CONTROL_FRAME_BYTES, perMessageDeflate: false });
  } catch (e) {
    queueMicrotask(() => finish((e as Error).message));
    return { send() {}, close() {} };
  }
  ws.binaryType = 'nodebuffer';
  // The TCP socket under the WebSocket, once upgraded: what keepAlive refs and unrefs.
  let keep = true;
  let tcp: { ref(): unknown; unref(): unknown } | undefined;
  ws.on('upgrade', (response) => {
    tcp = response.socket;
    if (!keep) tcp.unref();
  });
  ws.on('open', () => handlers.onOpen());
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return handlers.onInvalid('text message on a binary channel');
    handlers.onMessage(toBytes(data));
  });
  ws.on('error', (e) => finish(e.message));
  ws.on('close', (code, reason) => finish(`closed (${code}${reason.length > 0 ? `: ${reason.toString()}` : ''})`));
  return {
    send(bytes) {
      if (ws.readyState === WebSocket.OPEN) ws.send(bytes);
    },
    close() {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000);
    },
    keepAlive(k) {
      keep = k;
      if (k) tcp?.ref();
      else tcp?.unref();
    },
  };
}

function toBytes(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

export const platform: Platform = {
  name: 'node',
  directLinks: true,
  openControlSocket,
  // The workers' own TCP link: each value is read straight into its memory and hashed as it
  // arrives; once the client has its answers the socket is destroyed, not left to linger.
  dialPeer: (address, signal) => dialLink(address, { signal, hasher: blake3Hasher, lingerMs: 0 }),
  bundleModule: async (specifier, resolveFrom) => (await import('./bundle.node.js')).bundleModule(specifier, resolveFrom),
  valueHash: nodeValueHash,
};
