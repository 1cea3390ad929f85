/**
 * A FrameLink over any ordered byte stream (a TCP socket, a WebSocket, a client platform's
 * stream): frames written as `encodePeerFrame` parts, chunks read back through a PeerFrameReader.
 * Broken framing (a bad prefix, an undecodable header, a body over the limit) is answered with
 * one `error` PROTOCOL_ERROR frame and closes the link: nothing after it can be trusted.
 */
import { ConnectionError, PeerFrameReader, ProtocolError, ReplyCode, encodePeerFrame, type ErrorReply } from '@meshwork/protocol';
import { arrivedDigests, type IncrementalHash } from './fetch.js';
import type { FrameLink, FrameReceiver } from './link.js';

/** The byte stream under a StreamLink. */
export interface ByteStream {
  /**
   * Writes the parts in order, as they are (no copy). Returns false when the stream's buffer is
   * over its high-water mark: the link then waits for `onDrain` before resolving the send.
   */
  write(parts: readonly Uint8Array[]): boolean;
  /** Ends the stream (after what was written), and destroys it soon after. */
  end(): void;
  /** Calls `listener` once the stream can take more (after a write returned false). */
  onDrain(listener: () => void): void;
}

export interface StreamLinkOptions {
  /** Where a frame's body is assembled (shared memory in a Node worker). Default: fresh memory. */
  allocate?: (bytes: number) => Uint8Array;
  /**
   * Hashes each body as its bytes arrive, while the sender is still sending, instead of after the
   * last byte (with SHA-256, a 100 MB value took ~70 ms to hash after a ~50 ms transfer). See arrivedDigests.
   */
  hasher?: (bodyBytes: number) => IncrementalHash;
  /** Largest body accepted, in bytes (default: the protocol's MAX_VALUE_BYTES). */
  maxBodyBytes?: number;
}

export class StreamLink implements FrameLink {
  private readonly reader: PeerFrameReader;
  private receiver: FrameReceiver | undefined;
  private closedBy: Error | undefined;
  private readonly drainWaiters = new Set<() => void>();
  private readonly hasher: ((bodyBytes: number) => IncrementalHash) | undefined;
  /** The body being hashed as it arrives, and how much of it is hashed. */
  private hashing: { body: Uint8Array; hashed: number; hash: IncrementalHash } | undefined;

  constructor(
    private readonly stream: ByteStream,
    o: StreamLinkOptions = {},
  ) {
    this.hasher = o.hasher;
    this.reader = new PeerFrameReader({
      ...(o.allocate ? { allocate: o.allocate } : {}),
      ...(o.maxBodyBytes !== undefined ? { maxBodyBytes: o.maxBodyBytes } : {}),
    });
    stream.onDrain(() => this.drained());
  }

  get closed(): boolean {
    return this.closedBy !== undefined;
  }

  receive(receiver: FrameReceiver): void {
    this.receiver = receiver;
  }

  async send(header: unknown, body?: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.closedBy) throw this.closedBy;
    options.signal?.throwIfAborted();
    if (this.stream.write(encodePeerFrame(header, body))) return;
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        this.drainWaiters.delete(done);
        if (this.closedBy) reject(this.closedBy);
        else resolve();
      };
      this.drainWaiters.add(done);
    });
  }

  /** Bytes arrived from the stream. */
  push(chunk: Uint8Array): void {
    this.read(() => this.reader.push(chunk));
  }

  /**
   * Where the stream's next read may go straight into the body being assembled (see
   * PeerFrameReader.bodyWindow): undefined while headers are being read.
   */
  bodyWindow(): Uint8Array | undefined {
    return this.closedBy ? undefined : this.reader.bodyWindow();
  }

  /** `n` bytes were read into the start of `bodyWindow()`. */
  filled(n: number): void {
    this.read(() => this.reader.filled(n));
  }

  /** The stream ended or failed underneath (`reason`): the link is closed. */
  ended(reason: Error = new ConnectionError('the stream closed')): void {
    this.finish(reason);
  }

  close(reason: Error = new ConnectionError('link closed')): void {
    if (this.closedBy) return;
    this.stream.end();
    this.finish(reason);
  }

  /** Runs one step of the reader: the frames it completed are delivered, broken framing closes the link. */
  private read(step: () => { header: unknown; body: Uint8Array }[]): void {
    if (this.closedBy) return;
    let frames;
    try {
      frames = step();
    } catch (e) {
      return this.broken(e as Error);
    }
    this.deliver(frames);
  }

  private deliver(frames: { header: unknown; body: Uint8Array }[]): void {
    if (this.hasher) this.hashArrived(frames);
    this.receiver?.progress?.();
    for (const f of frames) {
      if (this.closedBy) return;
      this.receiver?.frame(f.header, f.body);
    }
  }

  /** Hashes what arrived: the rest of each body completed now, then the part of the one in progress. */
  private hashArrived(frames: readonly { body: Uint8Array }[]): void {
    const make = this.hasher as (bodyBytes: number) => IncrementalHash;
    for (const { body } of frames) {
      if (body.byteLength === 0) continue;
      const h = this.hashing?.body === body ? this.hashing : { body, hashed: 0, hash: make(body.byteLength) };
      h.hash.update(body.subarray(h.hashed));
      const digest = h.hash.digest();
      // Nobody may ever ask for it: a digest that fails must not be an unhandled rejection.
      if (typeof digest !== 'string') void digest.catch(() => {});
      arrivedDigests.set(body, digest);
      if (this.hashing === h) this.hashing = undefined;
    }
    const now = this.reader.assembling();
    if (!now) return;
    if (this.hashing?.body !== now.body) this.hashing = { body: now.body, hashed: 0, hash: make(now.body.byteLength) };
    const h = this.hashing;
    if (now.filled > h.hashed) h.hash.update(now.body.subarray(h.hashed, now.filled));
    h.hashed = now.filled;
  }

  private broken(e: Error): void {
    const message = `unreadable frame: ${e.message}`;
    const reply: ErrorReply = { type: 'error', code: ReplyCode.PROTOCOL_ERROR, message };
    this.stream.write(encodePeerFrame(reply));
    this.close(new ProtocolError(message));
  }

  private drained(): void {
    for (const w of [...this.drainWaiters]) w();
  }

  private finish(reason: Error): void {
    if (this.closedBy) return;
    this.closedBy = reason;
    this.drained();
    this.receiver?.closed(reason);
  }
}
