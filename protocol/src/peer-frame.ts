/**
 * Framing of the peer data link, runtime-free: `[u32 header length][u32 body length][header][body]`
 * (big-endian). The reader takes chunks as they arrive and copies each body once, into a buffer
 * of its final size; headers are decoded but not validated here (validate with PeerChannel schemas).
 */
import { decode, encode } from './codec.js';
import { MAX_PEER_HEADER_BYTES, MAX_VALUE_BYTES } from './constants.js';
import { PEER_FRAME_PREFIX_BYTES } from './channels/peer.js';

/** The parts to write, in order; `body` is sent as it is, without a copy. */
export function encodePeerFrame(header: unknown, body?: Uint8Array): Uint8Array[] {
  const head = encode(header);
  const prefix = new Uint8Array(PEER_FRAME_PREFIX_BYTES + head.byteLength);
  const view = new DataView(prefix.buffer);
  view.setUint32(0, head.byteLength);
  view.setUint32(4, body?.byteLength ?? 0);
  prefix.set(head, PEER_FRAME_PREFIX_BYTES);
  return body && body.byteLength > 0 ? [prefix, body] : [prefix];
}

export interface PeerFrame {
  header: unknown;
  body: Uint8Array;
}

export class PeerFrameError extends Error {
  override readonly name = 'PeerFrameError';
  readonly code = 'PROTOCOL_ERROR';
}

export interface PeerFrameReaderOptions {
  /** Where a body is assembled (default: a fresh ArrayBuffer; a Node host passes shared memory). */
  allocate?: (bytes: number) => Uint8Array;
  /** Largest body accepted, in bytes (default MAX_VALUE_BYTES); a larger one is a PeerFrameError. */
  maxBodyBytes?: number;
}

export class PeerFrameReader {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private header: unknown = undefined;
  private body: Uint8Array | null = null;
  private bodyFilled = 0;

  constructor(private readonly options: PeerFrameReaderOptions = {}) {}

  /** Feeds a chunk; returns every frame it completed. Throws PeerFrameError on a bad prefix. */
  push(chunk: Uint8Array): PeerFrame[] {
    const frames: PeerFrame[] = [];
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.body) {
        const n = Math.min(this.body.byteLength - this.bodyFilled, chunk.byteLength - offset);
        this.body.set(chunk.subarray(offset, offset + n), this.bodyFilled);
        this.bodyFilled += n;
        offset += n;
        if (this.bodyFilled === this.body.byteLength) {
          frames.push({ header: this.header, body: this.body });
          this.body = null;
          this.header = undefined;
        }
        continue;
      }
      this.pending.push(chunk.subarray(offset));
      this.pendingBytes += chunk.byteLength - offset;
      offset = chunk.byteLength;
      this.drainHeaders(frames);
      if (this.body && this.pendingBytes > 0) {
        // Bytes past the header belong to the body: feed them through the loop above.
        const rest = this.takeAll();
        frames.push(...this.push(rest));
      }
    }
    return frames;
  }

  /**
   * Where the next bytes of the body being assembled go, for a reader that can read straight into
   * memory (a socket's `onread`): write there, then call `filled(n)`. Undefined when no body is
   * being assembled or bytes wait to be parsed first (feed `push` then).
   */
  bodyWindow(): Uint8Array | undefined {
    return this.body && this.pendingBytes === 0 ? this.body.subarray(this.bodyFilled) : undefined;
  }

  /** The body being assembled and how many of its bytes are in, or undefined between bodies. */
  assembling(): { body: Uint8Array; filled: number } | undefined {
    return this.body ? { body: this.body, filled: this.bodyFilled } : undefined;
  }

  /** `n` bytes were written at the start of `bodyWindow()`; returns the frame it completed, if any. */
  filled(n: number): PeerFrame[] {
    const body = this.body;
    if (!body || n < 0 || this.bodyFilled + n > body.byteLength) throw new PeerFrameError(`filled(${n}) outside the body window`);
    this.bodyFilled += n;
    if (this.bodyFilled < body.byteLength) return [];
    const frame = { header: this.header, body };
    this.body = null;
    this.header = undefined;
    return [frame];
  }

  private drainHeaders(frames: PeerFrame[]): void {
    while (!this.body && this.pendingBytes >= PEER_FRAME_PREFIX_BYTES) {
      const joined = this.takeAll();
      const view = new DataView(joined.buffer, joined.byteOffset, joined.byteLength);
      const headLength = view.getUint32(0);
      const bodyLength = view.getUint32(4);
      if (headLength === 0 || headLength > MAX_PEER_HEADER_BYTES) throw new PeerFrameError(`peer header of ${headLength} bytes`);
      const maxBody = this.options.maxBodyBytes ?? MAX_VALUE_BYTES;
      if (bodyLength > maxBody) throw new PeerFrameError(`peer body of ${bodyLength} bytes is over the limit of ${maxBody}`);
      if (joined.byteLength < PEER_FRAME_PREFIX_BYTES + headLength) {
        this.pending = [joined];
        this.pendingBytes = joined.byteLength;
        return;
      }
      let header: unknown;
      try {
        header = decode(joined.subarray(PEER_FRAME_PREFIX_BYTES, PEER_FRAME_PREFIX_BYTES + headLength));
      } catch (e) {
        throw new PeerFrameError(`undecodable peer header: ${(e as Error).message}`);
      }
      const rest = joined.subarray(PEER_FRAME_PREFIX_BYTES + headLength);
      if (bodyLength === 0) {
        frames.push({ header, body: new Uint8Array(0) });
      } else {
        this.header = header;
        this.body = this.options.allocate ? this.options.allocate(bodyLength) : new Uint8Array(bodyLength);
        this.bodyFilled = 0;
      }
      this.pending = rest.byteLength > 0 ? [rest] : [];
      this.pendingBytes = rest.byteLength;
    }
  }

  private takeAll(): Uint8Array {
    const parts = this.pending;
    this.pending = [];
    const total = this.pendingBytes;
    this.pendingBytes = 0;
    if (parts.length === 1) return parts[0] as Uint8Array;
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }
}
