/**
 * Peer frames over one RTCDataChannel (a FrameLink). Outgoing frames are cut into messages of at
 * most `maxMessageBytes` (a body is sent as subarrays, never copied; small frames are coalesced
 * into one message). Flow control: messages are handed to the channel while its
 * `bufferedAmount` is at most CHANNEL_HIGH_WATER_BYTES, then sending resumes on
 * `bufferedamountlow` (threshold CHANNEL_LOW_WATER_BYTES), so the channel never holds more than
 * the high water plus one message, far below the 16 MiB at which Chromium throws. The channel is
 * dead when it has made no progress (`bufferedAmount` fell, or a message was handed to it) for
 * the stall timeout, counted from the last progress: frames queued meanwhile do not restart it.
 * One that drains slowly, short of the low water, is alive (a loaded browser drops UDP packets,
 * SCTP backs off, and the 768 KiB between the two marks can take longer than the timeout while
 * messages still go). A dead channel is not rare: node-datachannel's SCTP (usrsctp) can stop
 * sending for good after a loss while the association stays up (docs/decisions.md, "A wedged
 * SCTP association").
 * Our own queue holds references to at most MAX_QUEUED_SEND_FRAMES frames /
 * MAX_QUEUED_SEND_BYTES bytes; `send()` waits for room beyond that. Incoming messages feed a
 * PeerFrameReader, which copies each body once, into a buffer of its final size.
 */
import { ConnectionError, PeerFrameReader, ProtocolError, TimeoutError, encodePeerFrame } from '@meshwork/protocol';
import {
  CHANNEL_HIGH_WATER_BYTES,
  CHANNEL_LOW_WATER_BYTES,
  CHANNEL_STALL_TIMEOUT_MS,
  MAX_QUEUED_SEND_BYTES,
  MAX_QUEUED_SEND_FRAMES,
  MIN_PEER_MESSAGE_BYTES,
  PEER_CHUNK_BYTES,
} from '../constants.js';
import type { FrameLink, FrameReceiver } from '../link.js';
import type { RtcDataChannelLike } from './rtc-types.js';

export interface ChannelStreamOptions {
  /** Largest message to send, in bytes (PeerConnection.maxMessageBytes). Default PEER_CHUNK_BYTES. */
  maxMessageBytes?: number;
  /** For error messages: who is at the other end. */
  name?: string;
  /** Default CHANNEL_STALL_TIMEOUT_MS. */
  stallTimeoutMs?: number;
  /** Allocates each incoming frame's body (a Node worker puts them in shared memory). */
  allocate?: (bytes: number) => Uint8Array;
}

/** Progress checks per stall timeout. */
const STALL_CHECKS_PER_TIMEOUT = 8;

interface Outgoing {
  parts: Uint8Array[];
  part: number;
  offset: number;
  bytes: number;
  started: boolean;
  resolve(): void;
  reject(e: Error): void;
  detach(): void;
}

export class ChannelStream implements FrameLink {
  private readonly reader: PeerFrameReader;
  private readonly maxMessage: number;
  private readonly name: string;
  private readonly stallMs: number;
  /** Frames not fully sent; the first `admitted` of them are in the queue, the rest wait for room. */
  private readonly frames: Outgoing[] = [];
  private admitted = 0;
  private admittedBytes = 0;
  private receiver: FrameReceiver | undefined;
  private closedBy: Error | undefined;
  /**
   * Runs while frames wait (and, after queued frames were aborted, until the channel drains or the
   * window passes); checks every STALL_CHECKS_PER_TIMEOUT-th of the timeout for progress.
   */
  private stallTimer: ReturnType<typeof setInterval> | undefined;
  /** The channel's `bufferedAmount` at the last progress: less now is progress. */
  private stallMark = 0;
  /** When the channel last made progress (`performance.now()`: a clock step does not close it). */
  private progressAt = 0;
  /** For the stall message: `bufferedamountlow` events seen, and when the last came. */
  private lowEvents = 0;
  private lowAt = 0;
  /** `bytesReceived` at the last progress: did the other direction still deliver? */
  private receivedAtProgress = 0;
  /** Bytes handed to the channel and received from it (for tests and metrics). */
  bytesSent = 0;
  bytesReceived = 0;

  constructor(
    private readonly dc: RtcDataChannelLike,
    o: ChannelStreamOptions = {},
  ) {
    this.maxMessage = Math.max(
      MIN_PEER_MESSAGE_BYTES,
      Math.min(o.maxMessageBytes ?? PEER_CHUNK_BYTES, PEER_CHUNK_BYTES),
    );
    this.name = o.name ?? 'peer';
    this.reader = new PeerFrameReader(o.allocate ? { allocate: o.allocate } : {});
    this.stallMs = o.stallTimeoutMs ?? CHANNEL_STALL_TIMEOUT_MS;
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = CHANNEL_LOW_WATER_BYTES;
    dc.addEventListener('bufferedamountlow', () => {
      this.lowEvents++;
      this.lowAt = performance.now();
      this.pump();
    });
    dc.addEventListener('message', (e) => this.onMessage(e.data));
    dc.addEventListener('close', () => this.close(new ConnectionError(`data channel to ${this.name} closed`)));
  }

  get closed(): boolean {
    return this.closedBy !== undefined;
  }

  /** Bytes waiting in our queue (not yet handed to the channel). */
  get queuedBytes(): number {
    return this.admittedBytes;
  }

  receive(receiver: FrameReceiver): void {
    this.receiver = receiver;
    if (this.closedBy) receiver.closed(this.closedBy);
  }

  send(header: unknown, body?: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.closedBy) return Promise.reject(this.closedBy);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.frames.length >= MAX_QUEUED_SEND_FRAMES) {
      return Promise.reject(new ConnectionError(`over ${MAX_QUEUED_SEND_FRAMES} frames queued to ${this.name}`));
    }
    const parts = encodePeerFrame(header, body);
    const bytes = parts.reduce((n, p) => n + p.byteLength, 0);
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.frames.indexOf(out);
        if (i < 0 || out.started) return; // a started frame must finish, or the stream breaks
        this.frames.splice(i, 1);
        if (i < this.admitted) {
          this.admitted--;
          this.admittedBytes -= out.bytes;
        }
        reject(signal?.reason);
        this.admit();
      };
      const out: Outgoing = {
        parts,
        part: 0,
        offset: 0,
        bytes,
        started: false,
        resolve,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.frames.push(out);
      this.admit();
      this.pump();
    });
  }

  close(reason: Error = new ConnectionError(`link to ${this.name} closed`)): void {
    if (this.closedBy) return;
    this.closedBy = reason;
    this.stopWatch();
    for (const f of this.frames.splice(0)) {
      f.detach();
      f.reject(reason);
    }
    this.admitted = 0;
    this.admittedBytes = 0;
    try {
      if (this.dc.readyState === 'open' || this.dc.readyState === 'connecting') this.dc.close();
    } catch {
      // already closing
    }
    this.receiver?.closed(reason);
  }

  /** Moves waiting frames into the queue while they fit (a frame bigger than the bound goes in alone). */
  private admit(): void {
    while (this.admitted < this.frames.length) {
      const next = this.frames[this.admitted] as Outgoing;
      if (this.admitted > 0 && this.admittedBytes + next.bytes > MAX_QUEUED_SEND_BYTES) return;
      this.admitted++;
      this.admittedBytes += next.bytes;
    }
  }

  private pump(): void {
    if (this.closedBy) return;
    let handed = false;
    try {
      while (this.admitted > 0 && this.dc.bufferedAmount <= CHANNEL_HIGH_WATER_BYTES) {
        const msg = this.nextMessage();
        this.dc.send(msg);
        this.bytesSent += msg.byteLength;
        handed = true;
      }
    } catch (e) {
      return this.close(new ConnectionError(`sending to ${this.name} failed: ${(e as Error).message}`));
    }
    this.admit();
    if (this.admitted === 0) return this.stopWatch();
    if (handed || this.stallTimer === undefined) this.progressed();
    if (this.stallTimer === undefined) {
      this.stallTimer = setInterval(() => this.checkStall(), Math.max(1, this.stallMs / STALL_CHECKS_PER_TIMEOUT));
    }
  }

  private progressed(): void {
    this.progressAt = performance.now();
    this.stallMark = this.dc.bufferedAmount;
    this.receivedAtProgress = this.bytesReceived;
  }

  private stopWatch(): void {
    clearInterval(this.stallTimer);
    this.stallTimer = undefined;
  }

  /**
   * Only `bufferedamountlow` resumes sending, but any fall of `bufferedAmount` proves the channel
   * alive; a channel with frames waiting and no progress for the stall timeout is closed.
   */
  private checkStall(): void {
    if (this.closedBy) return;
    if (this.dc.bufferedAmount < this.stallMark) return this.progressed();
    if (performance.now() - this.progressAt < this.stallMs) return;
    this.close(
      new TimeoutError(`data channel to ${this.name} accepted nothing for ${this.stallMs} ms (${this.stallReport()})`),
    );
  }

  private stallReport(): string {
    const now = performance.now();
    return [
      `${this.dc.bufferedAmount} bytes buffered`,
      `${this.admitted} frames (${this.admittedBytes} bytes) not fully sent`,
      `last bufferedamountlow ${this.lowEvents > 0 ? `${Math.round(now - this.lowAt)} ms ago` : 'never'} (${this.lowEvents} in all)`,
      `${this.bytesReceived - this.receivedAtProgress} bytes received meanwhile`,
    ].join(', ');
  }

  /** Takes the next message off the queue: a subarray of one part, or small pieces copied together. */
  private nextMessage(): Uint8Array {
    const head = this.frames[0] as Outgoing;
    const part = head.parts[head.part] as Uint8Array;
    const rest = part.byteLength - head.offset;
    if (rest >= this.maxMessage || (this.admitted === 1 && head.part === head.parts.length - 1)) {
      const n = Math.min(rest, this.maxMessage);
      const msg = part.subarray(head.offset, head.offset + n);
      this.advance(n);
      return msg;
    }
    const size = Math.min(this.maxMessage, this.admittedBytes - this.sentOfHead());
    const msg = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      const f = this.frames[0] as Outgoing;
      const p = f.parts[f.part] as Uint8Array;
      const n = Math.min(p.byteLength - f.offset, size - filled);
      msg.set(p.subarray(f.offset, f.offset + n), filled);
      filled += n;
      this.advance(n);
    }
    return msg;
  }

  /** Bytes of the head frame already sent. */
  private sentOfHead(): number {
    const head = this.frames[0] as Outgoing;
    let n = head.offset;
    for (let i = 0; i < head.part; i++) n += (head.parts[i] as Uint8Array).byteLength;
    return n;
  }

  private advance(n: number): void {
    const head = this.frames[0] as Outgoing;
    head.started = true;
    head.offset += n;
    if (head.offset < (head.parts[head.part] as Uint8Array).byteLength) return;
    head.part++;
    head.offset = 0;
    if (head.part < head.parts.length) return;
    this.frames.shift();
    this.admitted--;
    this.admittedBytes -= head.bytes;
    head.detach();
    head.resolve();
  }

  private onMessage(data: unknown): void {
    if (this.closedBy) return;
    let chunk: Uint8Array;
    if (data instanceof ArrayBuffer) chunk = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) chunk = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else return this.close(new ProtocolError(`${this.name} sent a non-binary message`));
    this.bytesReceived += chunk.byteLength;
    this.receiver?.progress?.();
    let frames;
    try {
      frames = this.reader.push(chunk);
    } catch (e) {
      return this.close(new ProtocolError(`bad frame from ${this.name}: ${(e as Error).message}`));
    }
    for (const f of frames) {
      if (this.closedBy) return;
      this.receiver?.frame(f.header, f.body);
    }
  }
}
