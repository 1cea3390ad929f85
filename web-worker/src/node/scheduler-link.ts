/**
 * The worker's control link to the scheduler (one WebSocket, `ws`): connects, sends `hello`,
 * waits for `welcome` or a refusal, then carries frames both ways. Frames that arrive before a
 * handler is attached are kept and handed over in order.
 */
import WebSocket from 'ws';
import {
  CONNECT_TIMEOUT_MS,
  ConnectionError,
  HELLO_TIMEOUT_MS,
  MAX_CONTROL_FRAME_BYTES,
  TimeoutError,
  encodeFrame,
  type WorkerChannel,
} from '@meshwork/protocol';
import { CLOSE_TIMEOUT_MS } from '../constants.js';
import { FrameGate } from '../core/handshake.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { RtcIceServer } from '@meshwork/datalink';

export interface SchedulerLink {
  /** The id the scheduler gave this worker. */
  readonly id: string;
  /** ICE servers for WebRTC, from the welcome. */
  readonly iceServers: RtcIceServer[];
  /** The scheduler's data secret: what peers present on data links, and what clients' tickets are made with (undefined: a scheduler that gives none; the links are open). */
  readonly dataToken: string | undefined;
  /** Messages that came in the welcome frame after `welcome`. */
  readonly rest: WorkerChannel.ServerToWorker[];
  send(frame: Uint8Array): void;
  /** Sets the handler of every later frame (earlier ones are delivered at once). */
  onFrame(handler: (bytes: Uint8Array) => void): void;
  /** Resolves when the connection is gone, with why. */
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

function toBytes(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

export function connectScheduler(
  url: string,
  hello: Record<string, unknown>,
  options: { logger?: Logger; signal?: AbortSignal } = {},
): Promise<SchedulerLink> {
  const log = options.logger ?? silentLogger;
  const { signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const ws = new WebSocket(url, { maxPayload: MAX_CONTROL_FRAME_BYTES, handshakeTimeout: CONNECT_TIMEOUT_MS });
    const gate = new FrameGate();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fail = (error: Error): void => {
      if (gate.settled) return;
      gate.settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      ws.terminate();
      reject(error);
    };
    const onAbort = (): void => fail(signal?.reason instanceof Error ? signal.reason : new ConnectionError('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });

    let resolveClosed: (v: { code: number; reason: string }) => void = () => {};
    const closed = new Promise<{ code: number; reason: string }>((r) => (resolveClosed = r));

    ws.on('error', (e) => {
      if (!gate.settled) fail(new ConnectionError(`could not connect to the scheduler at ${url}: ${e.message}`));
      else log.warn('scheduler connection error', { error: e });
    });
    ws.on('close', (code, reason) => {
      if (!gate.settled) fail(new ConnectionError(`the scheduler at ${url} closed the connection before welcoming this worker (${code} ${reason.toString()})`));
      resolveClosed({ code, reason: reason.toString() });
    });
    ws.on('open', () => {
      ws.send(encodeFrame([hello]));
      timer = setTimeout(() => fail(new TimeoutError(`the scheduler at ${url} did not answer hello within ${HELLO_TIMEOUT_MS} ms`)), HELLO_TIMEOUT_MS);
    });
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return log.warn('ignored a text frame from the scheduler');
      const bytes = toBytes(data);
      const reply = gate.push(bytes);
      if (!reply) return;
      if (!reply.ok) return fail(reply.error);
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve({
        id: reply.id,
        iceServers: reply.iceServers,
        dataToken: reply.dataToken,
        rest: reply.rest,
        closed,
        send: (frame) => {
          if (ws.readyState === WebSocket.OPEN) ws.send(frame);
        },
        onFrame: (h) => gate.onFrame(h),
        close: async () => {
          if (ws.readyState === WebSocket.CLOSED) return;
          ws.close(1000, 'worker closing');
          let t: ReturnType<typeof setTimeout> | undefined;
          await Promise.race([closed, new Promise((r) => (t = setTimeout(r, CLOSE_TIMEOUT_MS)))]);
          clearTimeout(t);
          ws.terminate();
        },
      });
    });
  });
}
