/**
 * What the client needs from its runtime, and nothing more. The core is runtime-free;
 * `platform.node.ts` and `platform.browser.ts` implement this, chosen by the package.json
 * `imports` map (`#platform`), or injected through `ConnectOptions.platform`.
 */
import type { StreamLink } from '@meshwork/datalink';
import { ConnectionError, GraphError, valueHash } from '@meshwork/protocol';

/** Why `uploadPackage` cannot run here. */
export const NO_BUNDLER =
  'uploadPackage bundles with esbuild, which runs in Node: in a web app, bundle the package into one ES module at build time and pass its source to client.upload';

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
  /**
   * Whether this socket keeps the process alive (Node's ref/unref; true when opened). Runtimes
   * whose sockets never keep anything alive leave it out.
   */
  keepAlive?(keep: boolean): void;
}

export interface Platform {
  /** A short name for messages: `node` or `browser`. */
  readonly name: string;
  /** Can this runtime fetch values directly from workers (`dialPeer`)? */
  readonly directLinks: boolean;
  /** Opens a WebSocket to `url` (`ws:` or `wss:`). Never throws: failures arrive at `onClose`. */
  openControlSocket(url: string, handlers: ControlSocketHandlers): ControlSocket;
  /**
   * Opens the data link to a worker at `address` (`tcp://host:port`): Node dials TCP and reads each
   * value straight into its own memory, hashing it as it arrives (arrivedDigests); a page opens a
   * WebSocket on the same port. Rejects with ConnectionError if it cannot open (or where this
   * runtime has no direct link), with `signal`'s reason once it aborts.
   */
  dialPeer(address: string, signal: AbortSignal): Promise<StreamLink>;
  /**
   * Bundles a package (or a file) and what it imports into one ES module (`client.uploadPackage`),
   * resolving from `resolveFrom` (default: the working directory). Absent where nothing can bundle (browsers).
   */
  bundleModule?(specifier: string, resolveFrom?: string): Promise<string>;
  /** The value hash (protocol `valueHash`, same output) where the runtime has a faster one: Node's native BLAKE3. */
  valueHash?: (bytes: Uint8Array) => Promise<string>;
}

/**
 * A platform usable at once whose implementation is still loading (`import('#platform')`): a
 * control socket opened before it has loaded opens once it has. Data links need it loaded (they
 * are opened only after the scheduler has answered, by then it has).
 */
export function deferredPlatform(load: Promise<Platform>): Platform {
  let loaded: Platform | undefined;
  let failed: Error | undefined;
  const ready = load.then(
    (p) => {
      loaded = p;
      return p;
    },
    (e: unknown) => {
      failed = e instanceof Error ? e : new Error(String(e));
      throw failed;
    },
  );
  ready.catch(() => {}); // reported to each socket that waited for it
  return {
    get name() {
      return loaded?.name ?? 'loading';
    },
    get directLinks() {
      return loaded?.directLinks ?? true;
    },
    openControlSocket(url, handlers) {
      if (loaded) return loaded.openControlSocket(url, handlers);
      let socket: ControlSocket | undefined;
      let closed = false;
      let keep = true;
      ready.then(
        (p) => {
          if (closed) handlers.onClose('closed before it opened');
          else {
            socket = p.openControlSocket(url, handlers);
            if (!keep) socket.keepAlive?.(false);
          }
        },
        (e: Error) => handlers.onClose(`no runtime adapter: ${e.message}`),
      );
      return {
        send(bytes) {
          socket?.send(bytes);
        },
        close() {
          closed = true;
          socket?.close();
        },
        keepAlive(k) {
          keep = k;
          socket?.keepAlive?.(k);
        },
      };
    },
    valueHash: async (bytes) => ((await ready).valueHash ?? valueHash)(bytes),
    async bundleModule(specifier, resolveFrom) {
      const p = await ready;
      if (!p.bundleModule) throw new GraphError(NO_BUNDLER);
      return p.bundleModule(specifier, resolveFrom);
    },
    dialPeer(address, signal) {
      if (loaded) return loaded.dialPeer(address, signal);
      return Promise.reject(
        new ConnectionError(
          `data link to ${address}: the runtime adapter ${failed ? `failed to load: ${failed.message}` : 'has not loaded yet'}`,
        ),
      );
    },
  };
}
