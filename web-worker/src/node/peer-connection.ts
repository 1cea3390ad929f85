/**
 * One outgoing data-link connection (TCP) to a peer's data server, with requests multiplexed by
 * id: `get-data` (request) and `put-data` (put). Replies are validated with the PeerChannel
 * schemas; a peer that breaks the framing or the schema is disconnected and every request on it
 * fails (the fetcher then tries another holder).
 */
import { sharedBytes } from './shared-memory.js';
import { connect, type Socket } from 'node:net';
import {
  CONNECT_TIMEOUT_MS,
  ConnectionError,
  PROTOCOL_VERSION,
  PeerChannel,
  PeerFrameReader,
  ProtocolError,
  TimeoutError,
  encodePeerFrame,
  parseMessage,
  typesOf,
} from '@meshwork/protocol';
import { silentLogger, type Logger } from '../core/logger.js';
import { parseTcpAddress } from './address.js';

export interface Delivery {
  values: Map<string, Uint8Array>;
  /** Keys the peer said it does not hold. */
  missing: string[];
}

interface Pending {
  remaining: Set<string>;
  delivery: Delivery;
  timer: ReturnType<typeof setTimeout>;
  resolve(d: Delivery): void;
  reject(e: Error): void;
}

interface PendingPut {
  key: string;
  timer: ReturnType<typeof setTimeout>;
  resolve(): void;
  reject(e: Error): void;
}

const replyTypes = typesOf(PeerChannel.PeerReply);

/** Size of a read while frame headers are being read, in bytes (a body is read straight into its own memory). */
const HEADER_READ_BYTES = 64 * 1024;

export class PeerConnection {
  private readonly reader = new PeerFrameReader({ allocate: sharedBytes });
  /** The last read buffer handed out was the body window. */
  private readingBody = false;
  private readonly pending = new Map<number, Pending>();
  private readonly puts = new Map<number, PendingPut>();
  private nextId = 0;
  private closedBy: Error | null = null;
  /** Called once when the connection ends, whatever the cause. */
  onClose: (() => void) | undefined;

  private constructor(
    readonly address: string,
    private readonly socket: Socket,
    private readonly log: Logger,
  ) {
    // Reads go through `onread` (see `open`), which calls `onRead`; no 'data' events.
    socket.on('error', (e) => this.close(new ConnectionError(`data link to ${address} failed: ${e.message}`)));
    socket.on('close', () => this.close(new ConnectionError(`data link to ${address} closed`)));
  }

  /** Opens a connection and sends `hello` (with the scheduler's data token, when it gave one); fails after CONNECT_TIMEOUT_MS. */
  static open(address: string, from: string, logger: Logger = silentLogger, token?: string): Promise<PeerConnection> {
    const { host, port } = parseTcpAddress(address);
    return new Promise((resolve, reject) => {
      // The connection object is made on 'connect'; anything read before it is kept for it.
      let conn: PeerConnection | undefined;
      const early: Uint8Array[] = [];
      const socket = connect({
        host,
        port,
        onread: {
          buffer: () => conn?.readBuffer() ?? Buffer.allocUnsafe(HEADER_READ_BYTES),
          callback: (n: number, buffer: Uint8Array) => {
            if (conn) conn.onRead(n, buffer);
            else early.push(buffer.slice(0, n));
            return true;
          },
        },
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TimeoutError(`could not connect to ${address} within ${CONNECT_TIMEOUT_MS} ms`));
      }, CONNECT_TIMEOUT_MS);
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(new ConnectionError(`could not connect to ${address}: ${e.message}`));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        const hello = { type: 'hello', protocolVersion: PROTOCOL_VERSION, from, ...(token !== undefined ? { token } : {}) };
        for (const part of encodePeerFrame(hello)) socket.write(part);
        conn = new PeerConnection(address, socket, logger);
        for (const bytes of early.splice(0)) conn.onRead(bytes.byteLength, bytes, false);
        resolve(conn);
      });
    });
  }

  get closed(): boolean {
    return this.closedBy !== null;
  }

  get busy(): boolean {
    return this.pending.size > 0 || this.puts.size > 0;
  }

  /**
   * Stores `bytes` (an encoded value) under `key` on the peer; resolves on `put-ok`. Rejects when
   * the peer refuses (e.g. over its memory limit), the connection fails, `signal` aborts, or no
   * answer comes within `timeoutMs` of the last byte written.
   */
  put(key: string, bytes: Uint8Array, options: { signal: AbortSignal; timeoutMs: number }): Promise<void> {
    if (this.closedBy) return Promise.reject(this.closedBy);
    const { signal, timeoutMs } = options;
    if (signal.aborted) return Promise.reject(signal.reason);
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => settle(() => reject(signal.reason));
      const settle = (fn: () => void): void => {
        if (!this.puts.delete(id)) return;
        clearTimeout(p.timer);
        signal.removeEventListener('abort', onAbort);
        fn();
      };
      const p: PendingPut = {
        key,
        timer: setTimeout(() => settle(() => reject(new TimeoutError(`${this.address} did not acknowledge '${key}' within ${timeoutMs} ms`))), timeoutMs),
        resolve: () => settle(resolve),
        reject: (e) => settle(() => reject(e)),
      };
      this.puts.set(id, p);
      signal.addEventListener('abort', onAbort, { once: true });
      const parts = encodePeerFrame({ type: 'put-data', id, key }, bytes);
      let flushed = true;
      for (const part of parts) flushed = this.socket.write(part);
      // The timer counts from the last byte leaving, not from the call: a big value takes a while.
      if (!flushed) this.socket.once('drain', () => p.timer.refresh());
    });
  }

  /**
   * Asks for `keys`; resolves when each was delivered or reported missing. Rejects when the
   * connection fails, the peer refuses the request, `signal` aborts, or no byte arrives for
   * `timeoutMs` (the timer restarts on every chunk received, so big values are not cut short).
   */
  request(keys: readonly string[], options: { signal: AbortSignal; timeoutMs: number }): Promise<Delivery> {
    if (this.closedBy) return Promise.reject(this.closedBy);
    const { signal, timeoutMs } = options;
    if (signal.aborted) return Promise.reject(signal.reason);
    const id = this.nextId++;
    const unique = [...new Set(keys)];
    return new Promise<Delivery>((resolve, reject) => {
      const onAbort = (): void => settle(() => reject(signal.reason));
      const settle = (fn: () => void): void => {
        if (!this.pending.delete(id)) return;
        clearTimeout(p.timer);
        signal.removeEventListener('abort', onAbort);
        fn();
      };
      const p: Pending = {
        remaining: new Set(unique),
        delivery: { values: new Map(), missing: [] },
        timer: setTimeout(() => {
          settle(() => reject(new TimeoutError(`no data from ${this.address} for ${timeoutMs} ms`)));
          // A peer silent for that long is stuck: drop the link so the next fetch reconnects.
          this.close(new TimeoutError(`data link to ${this.address} stalled`));
        }, timeoutMs),
        resolve: (d) => settle(() => resolve(d)),
        reject: (e) => settle(() => reject(e)),
      };
      this.pending.set(id, p);
      signal.addEventListener('abort', onAbort, { once: true });
      if (unique.length === 0) return p.resolve(p.delivery);
      for (const part of encodePeerFrame({ type: 'get-data', id, keys: unique })) this.socket.write(part);
    });
  }

  close(reason: Error = new ConnectionError(`data link to ${this.address} closed`)): void {
    if (this.closedBy) return;
    this.closedBy = reason;
    this.socket.destroy();
    for (const p of [...this.pending.values()]) p.reject(reason);
    for (const p of [...this.puts.values()]) p.reject(reason);
    this.onClose?.();
  }

  /**
   * Where the socket's next read goes: straight into the value being received (shared memory,
   * no copy after the kernel's), or a fresh chunk while headers are being read.
   */
  readBuffer(): Uint8Array {
    const window = this.reader.bodyWindow();
    this.readingBody = window !== undefined;
    return window ?? Buffer.allocUnsafe(HEADER_READ_BYTES);
  }

  /** `n` bytes arrived in `buffer` (the one `readBuffer` gave, unless `intoBody` says otherwise). */
  onRead(n: number, buffer: Uint8Array, intoBody = this.readingBody): void {
    if (this.closedBy) return;
    for (const p of this.pending.values()) p.timer.refresh();
    let frames;
    try {
      frames = intoBody ? this.reader.filled(n) : this.reader.push(buffer.subarray(0, n));
    } catch (e) {
      return this.close(new ProtocolError(`data link to ${this.address}: ${(e as Error).message}`));
    }
    for (const frame of frames) {
      if (this.closedBy) return;
      this.onFrame(frame.header, frame.body);
    }
  }

  private onFrame(header: unknown, body: Uint8Array): void {
    const parsed = parseMessage(header, PeerChannel.PeerReply, replyTypes);
    if (!parsed.ok) return this.close(new ProtocolError(`bad reply from ${this.address}: ${parsed.error.message}`));
    const msg = parsed.message;
    switch (msg.type) {
      case 'data': {
        if (msg.nbytes !== body.byteLength) {
          return this.close(new ProtocolError(`${this.address} sent ${body.byteLength} bytes for '${msg.key}', announcing ${msg.nbytes}`));
        }
        const p = this.pending.get(msg.id);
        if (!p || !p.remaining.delete(msg.key)) return; // a request given up on, or a repeat
        p.delivery.values.set(msg.key, body);
        if (p.remaining.size === 0) p.resolve(p.delivery);
        return;
      }
      case 'data-missing': {
        const p = this.pending.get(msg.id);
        if (!p || !p.remaining.delete(msg.key)) return;
        p.delivery.missing.push(msg.key);
        if (p.remaining.size === 0) p.resolve(p.delivery);
        return;
      }
      case 'put-ok': {
        const p = this.puts.get(msg.id);
        if (!p || p.key !== msg.key) return this.log.debug('ignored a put-ok for no pending put', { address: this.address, id: msg.id, key: msg.key });
        return p.resolve();
      }
      case 'error': {
        const p = msg.replyTo !== undefined ? (this.pending.get(msg.replyTo) ?? this.puts.get(msg.replyTo)) : undefined;
        this.log.warn('a peer refused a request', { address: this.address, code: msg.code, message: msg.message });
        if (p) return p.reject(new ProtocolError(`${this.address} refused the request (${msg.code}): ${msg.message}`));
        return this.close(new ProtocolError(`${this.address} refused the connection (${msg.code}): ${msg.message}`));
      }
      default:
        msg satisfies never;
    }
  }
}
