/**
 * The tab's control link to the scheduler (the browser twin of node/scheduler-link.ts): one
 * WebSocket; sends `hello`, waits for `welcome` (with the ICE servers for WebRTC) or a refusal,
 * then carries frames both ways. Frames that arrive before a handler is attached are kept and
 * handed over in order.
 */
import {
  CONNECT_TIMEOUT_MS,
  ConnectionError,
  HELLO_TIMEOUT_MS,
  TimeoutError,
  encodeFrame,
  type WorkerChannel,
} from '@meshwork/protocol';
import { FrameGate } from '../core/handshake.js';
import type { RtcIceServer } from '@meshwork/datalink';
import { LEAVE_CLOSE_CODE, MAX_CLOSE_REASON_CHARS } from './constants.js';

export interface TabLink {
  /** The id the scheduler gave this tab. */
  readonly id: string;
  readonly iceServers: RtcIceServer[];
  /** Messages that came in the welcome frame after `welcome`. */
  readonly rest: WorkerChannel.ServerToWorker[];
  send(frame: Uint8Array): void;
  /** Sets the handler of every later frame (earlier ones are delivered at once). */
  onFrame(handler: (bytes: Uint8Array) => void): void;
  /** Resolves when the connection is gone, with why. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Closes at once (a tab that leaves does not wait for the closing handshake). */
  close(reason: string): void;
}

export function connectTab(
  url: string,
  hello: Record<string, unknown>,
  options: { signal?: AbortSignal } = {},
): Promise<TabLink> {
  const { signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      return reject(new ConnectionError(`could not open a WebSocket to ${url}: ${(e as Error).message}`));
    }
    ws.binaryType = 'arraybuffer';
    const gate = new FrameGate();
    let timer = setTimeout(
      () => fail(new TimeoutError(`no connection to the scheduler at ${url} within ${CONNECT_TIMEOUT_MS} ms`)),
      CONNECT_TIMEOUT_MS,
    );
    const fail = (error: Error): void => {
      if (gate.settled) return;
      gate.settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      ws.close();
      reject(error);
    };
    const onAbort = (): void => fail(signal?.reason instanceof Error ? signal.reason : new ConnectionError('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });

    let resolveClosed: (v: { code: number; reason: string }) => void = () => {};
    const closed = new Promise<{ code: number; reason: string }>((r) => (resolveClosed = r));

    ws.addEventListener('close', (e) => {
      // A browser says nothing about why a WebSocket failed to open: 1006 is all it gives.
      if (!gate.settled)
        fail(
          new ConnectionError(
            `the scheduler at ${url} closed the connection before welcoming this tab (${e.code}${e.reason ? ` ${e.reason}` : ''})`,
          ),
        );
      resolveClosed({ code: e.code, reason: e.reason });
    });
    ws.addEventListener('open', () => {
      clearTimeout(timer);
      ws.send(encodeFrame([hello]));
      timer = setTimeout(
        () => fail(new TimeoutError(`the scheduler at ${url} did not answer hello within ${HELLO_TIMEOUT_MS} ms`)),
        HELLO_TIMEOUT_MS,
      );
    });
    ws.addEventListener('message', (e: MessageEvent<unknown>) => {
      if (!(e.data instanceof ArrayBuffer)) return; // text frames are not part of the protocol
      const bytes = new Uint8Array(e.data);
      const reply = gate.push(bytes);
      if (!reply) return;
      if (!reply.ok) return fail(reply.error);
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve({
        id: reply.id,
        iceServers: reply.iceServers,
        rest: reply.rest,
        closed,
        send: (frame) => {
          if (ws.readyState === WebSocket.OPEN) ws.send(frame);
        },
        onFrame: (h) => gate.onFrame(h),
        close: (reason) => {
          if (ws.readyState === WebSocket.CLOSING || ws.readyState === WebSocket.CLOSED) return;
          // Cut by characters, then to ASCII, so the reason stays within the protocol's 123 bytes.
          ws.close(LEAVE_CLOSE_CODE, reason.slice(0, MAX_CLOSE_REASON_CHARS).replace(/[^\x20-\x7e]/g, '?'));
        },
      });
    });
  });
}
