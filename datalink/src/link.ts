/**
 * The seams of the data plane, shared by every link (TCP, WebRTC, the scheduler's relay):
 *
 * - FrameLink: one connection carrying peer frames (protocol/src/peer-frame.ts) both ways.
 *   ChannelStream is the WebRTC one (also under the relay); StreamLink the one over a byte
 *   stream (TCP, a client platform's stream).
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
  /** Keys the peer would not serve (a client's ticket refused), with its reason. */
  refused: Map<string, string>;
}

export interface RequestOptions {
  signal: AbortSignal;
  /** Gives up when no byte arrives for this long, in milliseconds (default PEER_FETCH_TIMEOUT_MS). */
  timeoutMs?: number;
}

/** A client's requests carry the scheduler's ticket for each key (protocol tickets.ts). */
export interface GetOptions extends RequestOptions {
  /** Key → its get ticket; keys without one are asked without (a peer worker needs none). */
  tickets?: ReadonlyMap<string, string | undefined>;
}

export interface PutOptions extends RequestOptions {
  /** The put ticket of the client's scatter plan. */
  ticket?: string | undefined;
}

/** How a link reaches the remote: TCP between Node processes, a WebRTC data channel, or relayed through the scheduler. */
export type LinkPath = 'tcp' | 'webrtc' | 'relay';

/** What storing a put value gave: stored, or refused with a reason (e.g. over the memory limit). */
export type PutResult = { ok: true } | { ok: false; message: string };

export interface PeerLink {
  /** The remote's worker id. */
  readonly peerId: string;
  /** How it is reached. */
  readonly path: LinkPath;
  readonly closed: boolean;
  /** True while a request is in flight: a busy link is never closed for being idle. */
  readonly busy: boolean;
  /**
   * Asks for `keys`; resolves when each was delivered or reported missing. Rejects when the link
   * closes (ConnectionError), the peer refuses (ProtocolError), `signal` aborts, or nothing
   * arrives for `timeoutMs` (TimeoutError; the timer restarts on every chunk received).
   */
  getData(keys: readonly string[], options: GetOptions): Promise<Delivery>;
  /** Stores `bytes` under `key` on the peer (a client scattering); resolves on `put-ok`, rejects (ProtocolError) when refused. */
  putData(key: string, bytes: Uint8Array, options: PutOptions): Promise<void>;
  close(reason?: Error): void;
}

/** How a peer answers the remote's requests (injected: the worker's store). */
export interface PeerDataHandler {
  /** The stored bytes of `key` asked for by worker `peer` (over `path`), or undefined. Served as they are, never copied. */
  lookup(key: string, peer: string, path: LinkPath): Uint8Array | undefined;
  /**
   * Stores a value a client sent (the worker decides whether it was announced to it); when
   * absent, `put-data` is refused with BAD_REQUEST.
   */
  put?(key: string, bytes: Uint8Array): PutResult | Promise<PutResult>;
}

export interface PeerTransport {
  /** Opens a link to `peer`, or returns the open one (concurrent calls share one opening). */
  connect(peer: PeerAddress, options: { signal: AbortSignal }): Promise<PeerLink>;
  /** Answers the remote's requests on every link (present and future) from `handler`. */
  serve(handler: PeerDataHandler): void;
  /** Closes every link; later `connect` calls reject. */
  close(): void;
}
