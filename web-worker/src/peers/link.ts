/**
 * The seams of the data plane, shared by every transport (WebRTC here; the TCP data link can
 * implement the same):
 *
 * - FrameLink: one connection carrying peer frames (protocol/src/peer-frame.ts) both ways.
 *   ChannelStream is the WebRTC one; a TCP socket plus a PeerFrameReader is the other.
 * - PeerLink: requests on a FrameLink (`get-data`, `put-data`), multiplexed by id, with the
 *   replies gathered per request. PeerSession implements it over any FrameLink and also answers
 *   the remote's requests from a PeerDataHandler, so one connection serves both directions.
 * - PeerTransport: opens (or reuses) a PeerLink to a peer by id (and address, for TCP).
 */

/** Where a peer can be reached: its worker id, and for address-based transports its address. */
export interface PeerAddress {
  id: string;
  address?: string;
}

export interface FrameReceiver {
  /** One complete incoming frame, in order; `body` is the frame's own buffer (no copy to make). */
  frame(header: unknown, body: Uint8Array): void;
  /** Some bytes arrived (a chunk of a frame still incomplete, perhaps): progress for timeouts. */
  progress?(): void;
  /** The link ended; called once, after which no frame arrives. */
  closed(reason: Error): void;
}

export interface FrameLink {
  readonly closed: boolean;
  /**
   * Queues one frame. Resolves once its last byte has been handed to the connection (the
   * back-pressure: await it before sending the next big one). Waits for room when the queue is
   * full; rejects when the link closes first, or when `signal` aborts before the frame started.
   */
  send(header: unknown, body?: Uint8Array, options?: { signal?: AbortSignal }): Promise<void>;
  /** Sets the receiver of incoming frames (exactly once, before the first frame can arrive). */
  receive(receiver: FrameReceiver): void;
  close(reason?: Error): void;
}

export interface Delivery {
  values: Map<string, Uint8Array>;
  /** Keys the peer said it does not hold. */
  missing: string[];
}

export interface RequestOptions {
  signal: AbortSignal;
  /** Gives up when no byte arrives for this long, in milliseconds (default PEER_FETCH_TIMEOUT_MS). */
  timeoutMs?: number;
}

export interface PeerLink {
  /** The remote's worker id. */
  readonly peerId: string;
  /** How it is reached: a WebRTC data channel, or relayed through the scheduler. */
  readonly path: 'webrtc' | 'relay';
  readonly closed: boolean;
  /** True while a request is in flight: a busy link is never closed for being idle. */
  readonly busy: boolean;
  /**
   * Asks for `keys`; resolves when each was delivered or reported missing. Rejects when the link
   * closes (ConnectionError), the peer refuses (ProtocolError), `signal` aborts, or nothing
   * arrives for `timeoutMs` (TimeoutError; the timer restarts on every chunk received).
   */
  getData(keys: readonly string[], options: RequestOptions): Promise<Delivery>;
  /** Stores `bytes` under `key` on the peer (a client scattering); resolves on `put-ok`. */
  putData(key: string, bytes: Uint8Array, options: RequestOptions): Promise<void>;
  close(reason?: Error): void;
}

/** How a peer answers the remote's requests (injected: the worker's store). */
export interface PeerDataHandler {
  /** The stored bytes of `key` asked for by worker `peer` (over `path`), or undefined. Served as they are, never copied. */
  lookup(key: string, peer: string, path: 'webrtc' | 'relay'): Uint8Array | undefined;
  /** Stores a value a client sent; when absent, `put-data` is refused with BAD_REQUEST. */
  put?(key: string, bytes: Uint8Array): void;
}

export interface PeerTransport {
  /** Opens a link to `peer`, or returns the open one (concurrent calls share one opening). */
  connect(peer: PeerAddress, options: { signal: AbortSignal }): Promise<PeerLink>;
  /** Answers the remote's requests on every link (present and future) from `handler`. */
  serve(handler: PeerDataHandler): void;
  /** Closes every link; later `connect` calls reject. */
  close(): void;
}
