/**
 * What the client needs from its runtime, and nothing more. The core is runtime-free;
 * `platform.node.ts` and `platform.browser.ts` implement this, chosen by the package.json
 * `imports` map (`#platform`), or injected through `ConnectOptions.platform`.
 */

/** Callbacks of a control socket; each is called on the platform's event loop. */
export interface ControlSocketHandlers {
  onOpen(): void;
  /** One binary WebSocket message. */
  onMessage(bytes: Uint8Array): void;
  /** A text message or another protocol slip that does not close the socket. */
  onInvalid(reason: string): void;
  /** The socket closed (or could not open). Called once. */
  onClose(reason: string): void;
}

/** A WebSocket to the scheduler. */
export interface ControlSocket {
  send(bytes: Uint8Array): void;
  /** Starts the closing handshake; `onClose` follows. */
  close(): void;
}

/** Callbacks of a byte stream to a worker's data link. */
export interface PeerStreamHandlers {
  onOpen(): void;
  onData(chunk: Uint8Array): void;
  /** The stream ended or failed (or could not open). Called once. */
  onClose(error: Error | undefined): void;
}

/** A byte stream to a worker's data link (TCP in Node). */
export interface PeerStream {
  /** Writes the parts in order; each is sent as it is, without a copy. */
  write(parts: readonly Uint8Array[]): void;
  close(): void;
}

export interface Platform {
  /** A short name for messages: `node` or `browser`. */
  readonly name: string;
  /** Can this runtime fetch values directly from workers (`openPeerStream`)? */
  readonly directLinks: boolean;
  /** Opens a WebSocket to `url` (`ws:` or `wss:`). Never throws: failures arrive at `onClose`. */
  openControlSocket(url: string, handlers: ControlSocketHandlers): ControlSocket;
  /**
   * Opens the data link to a worker at `address` (`tcp://host:port`).
   * Throws ConnectionError at once where this runtime has no direct link.
   */
  openPeerStream(address: string, handlers: PeerStreamHandlers): PeerStream;
}
