/**
 * The control connection to the scheduler: the `hello`/`welcome` handshake, one frame per
 * event-loop turn (protocol's Batcher), parsing at the edge, and loss detection.
 *
 * Messages of the same type queued back to back in one turn are merged into one (a `map` is one
 * `update-graph`, a burst of `result()` calls is one `gather`). Only the last queued message is
 * ever extended, so the order the scheduler sees is exactly the order of the calls.
 *
 * Opened with `queueEarly`, messages may be queued while the handshake is still going on: they
 * leave, in order, right after `welcome` (a client usable at once, e.g. inside a task).
 *
 * With `reconnectTimeoutMs`, a connection that drops after `welcome` is reopened with backoff
 * (RECONNECT_*): what was queued for the old socket is dropped, messages queued meanwhile (up to
 * RECONNECT_QUEUE_MAX_MESSAGES) leave once the new one is welcomed; if that does not happen in
 * time, or the scheduler refuses the hello, the connection is lost for good (`onLost`).
 *
 * Once welcomed, the socket keeps the process alive (in Node) only while a wait is in flight
 * (`hold`): a script that forgets `close()` ends when it awaits nothing more, as a dask script
 * does. The scheduler then sees the connection drop and releases what the client held.
 */
import {
  AuthError,
  Batcher,
  ClientChannel,
  ConnectionError,
  PROTOCOL_VERSION,
  ProtocolError,
  ReplyCode,
  TimeoutError,
  encodeFrame,
  encodeFrames,
  isRefusal,
  parseFrame,
  retry,
  typesOf,
  type MeshworkError,
} from '@meshwork/protocol';
import {
  CLOSE_TIMEOUT_MS,
  GATHER_MESSAGE_MAX_KEYS,
  GRAPH_MESSAGE_MAX_BYTES,
  GRAPH_MESSAGE_MAX_TASKS,
  RECONNECT_FIRST_DELAY_MS,
  RECONNECT_JITTER,
  RECONNECT_MAX_DELAY_MS,
  RECONNECT_QUEUE_MAX_MESSAGES,
} from './constants.js';
import type { ControlSocket, Platform } from './platform.js';
import type { Logger } from './types.js';

export type Outgoing = ClientChannel.ClientToServer;
export type Incoming = ClientChannel.ServerToClient;
type OfType<T extends Outgoing['type']> = Extract<Outgoing, { type: T }>;

const incomingTypes = typesOf(ClientChannel.ServerToClient);

export interface ConnectionEvents {
  /** Every message after `welcome`, in order. */
  onMessage(message: Incoming): void;
  /** The connection is gone for good (it dropped and was not, or could not be, reopened); `close()` was not called. */
  onLost(error: ConnectionError): void;
  /**
   * The connection dropped and is being reopened. Called before anything is queued for the new
   * connection: nothing queued for the old one is sent on the new one.
   */
  onReconnecting?(error: ConnectionError): void;
  /** Welcomed again (under a new id, `this.id`); what was queued meanwhile has been sent. */
  onReconnected?(): void;
}

export interface HandshakeOptions {
  name?: string | undefined;
  token?: string | undefined;
  capability?: string | undefined;
  timeoutMs: number;
  /** Accept messages before `welcome` (sent once it comes). */
  queueEarly?: boolean;
  /** Once welcomed, reopen a dropped connection for up to this long, in milliseconds (0: never). */
  reconnectTimeoutMs?: number;
}

/** `ws://host:port` as given; `http(s)://` becomes `ws(s)://`; a bare `host:port` gets `ws://`. */
export function toWebSocketUrl(address: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `ws://${address}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConnectionError(`bad scheduler address '${address}' (expected ws://host:port)`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new ConnectionError(`bad scheduler address '${address}': scheme must be ws, wss, http or https`);
  }
  return url.toString();
}

export class Connection {
  /** The id the scheduler gave this connection (from `welcome`; a new one after each reconnect). */
  id = '';
  /** Whether the scheduler took this client for its admin (see `cancel` with `force`). */
  admin = false;
  private socket: ControlSocket | undefined;
  private readonly batcher = new Batcher<Outgoing>((batch) => this.flush(batch));
  private last: Outgoing | null = null;
  private phase: 'connecting' | 'open' | 'closing' | 'closed' = 'connecting';
  private closed: Promise<void> | undefined;
  private onClosed: (() => void) | undefined;
  private options: HandshakeOptions = { timeoutMs: 0 };
  /** Messages may be queued while connecting (`queueEarly`, or while reconnecting). */
  private queueEarly = false;
  /** Frames flushed before `welcome` (with `queueEarly`). */
  private early: Outgoing[][] = [];
  /** Messages in `early`; past RECONNECT_QUEUE_MAX_MESSAGES nothing more is accepted. */
  private earlyMessages = 0;
  /** Resolved when the next frame goes out (rejected if the connection ends first). */
  private flushWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private requestIds = 1;
  /** Something was queued since the last flush. */
  private unflushed = false;
  /** Bytes of encoded arguments in the last queued `update-graph`. */
  private graphArgBytes = 0;
  /** Stops reconnecting when the client is closed. */
  private readonly closing = new AbortController();
  /** Waits in flight (`hold`): while there are none, the socket does not keep the process alive. */
  private holds = 0;

  constructor(
    private readonly platform: Platform,
    readonly url: string,
    private readonly events: ConnectionEvents,
    private readonly logger: Logger,
  ) {}

  /** Opens the socket and completes the handshake; rejects with ConnectionError, AuthError, ProtocolError or TimeoutError. */
  async open(options: HandshakeOptions): Promise<void> {
    this.options = options;
    this.queueEarly = options.queueEarly === true;
    try {
      await this.handshake();
    } catch (e) {
      this.phase = 'closed';
      this.dropQueued(new ConnectionError(`not connected to the scheduler at ${this.url}: ${(e as Error).message}`));
      throw e;
    }
  }

  /** One socket and its handshake: resolves once welcomed; on failure the socket is closed and nothing else changes. */
  private handshake(): Promise<void> {
    const options = this.options;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      // Set once openControlSocket returns (a platform may report a failure before it does).
      const opened: { socket?: ControlSocket } = {};
      const fail = (error: MeshworkError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opened.socket?.close();
        reject(error);
      };
      const timer = setTimeout(
        () => fail(new TimeoutError(`no welcome from the scheduler at ${this.url} within ${options.timeoutMs} ms`)),
        options.timeoutMs,
      );
      const handshake = (message: Incoming): void => {
        if (message.type === 'welcome') {
          if (message.protocolVersion !== PROTOCOL_VERSION) {
            return fail(
              new ProtocolError(
                `scheduler speaks protocol ${message.protocolVersion}, this client ${PROTOCOL_VERSION}`,
              ),
            );
          }
          settled = true;
          clearTimeout(timer);
          this.id = message.id;
          this.admin = message.admin === true;
          this.phase = 'open';
          this.queueEarly = false;
          if (this.holds === 0) opened.socket?.keepAlive?.(false);
          const early = this.early;
          this.early = [];
          this.earlyMessages = 0;
          for (const batch of early) this.transmit(batch);
          this.settleFlushWaiters();
          return resolve();
        }
        if (message.type !== 'error')
          return fail(new ProtocolError(`expected welcome from the scheduler, got '${message.type}'`));
        if (message.code === ReplyCode.AUTH_FAILED)
          return fail(new AuthError(`scheduler refused this client: ${message.message}`));
        if (message.code === ReplyCode.VERSION_MISMATCH)
          return fail(new ProtocolError(`protocol version mismatch: ${message.message}`));
        return fail(new ProtocolError(`scheduler refused hello: ${message.code}: ${message.message}`));
      };
      const socket = this.platform.openControlSocket(this.url, {
        onOpen: () => {
          const hello: OfType<'hello'> = { type: 'hello', protocolVersion: PROTOCOL_VERSION, role: 'client' };
          if (options.name !== undefined) hello.name = options.name;
          if (options.token !== undefined) hello.token = options.token;
          if (options.capability !== undefined) hello.capability = options.capability;
          opened.socket?.send(encodeFrame([hello]));
        },
        onMessage: (bytes) => {
          if (this.socket !== opened.socket) return;
          const { messages, errors } = parseFrame(bytes, ClientChannel.ServerToClient, incomingTypes);
          for (const e of errors)
            this.logger.warn(`meshwork client: refused a message from the scheduler: ${e.code}: ${e.message}`);
          for (const message of messages) {
            if (this.phase === 'open') this.events.onMessage(message);
            else if (this.phase === 'connecting' && !settled) handshake(message);
          }
        },
        onInvalid: (reason) => this.logger.warn(`meshwork client: ${reason}`),
        onClose: (reason) => {
          if (!settled) return fail(new ConnectionError(`cannot connect to the scheduler at ${this.url}: ${reason}`));
          if (this.socket !== opened.socket) return;
          const wasOpen = this.phase === 'open';
          const error = new ConnectionError(`lost the connection to the scheduler at ${this.url}: ${reason}`);
          if (wasOpen && (options.reconnectTimeoutMs ?? 0) > 0) return void this.reconnect(error);
          this.phase = 'closed';
          this.dropQueued(new ConnectionError(`the connection to the scheduler at ${this.url} closed: ${reason}`));
          this.onClosed?.();
          if (wasOpen) this.events.onLost(error);
        },
      });
      opened.socket = socket;
      this.socket = socket;
    });
  }

  /**
   * The connection dropped: what was queued for it is dropped (it was meant for a scheduler that
   * may be gone), then new sockets are tried with backoff until one is welcomed or the time is up.
   * Messages queued meanwhile leave on the new connection.
   */
  private async reconnect(error: ConnectionError): Promise<void> {
    const timeoutMs = this.options.reconnectTimeoutMs ?? 0;
    this.phase = 'connecting';
    this.dropQueued(error);
    this.queueEarly = true;
    this.logger.warn(`meshwork client: ${error.message}; reconnecting (for up to ${timeoutMs} ms)`);
    this.events.onReconnecting?.(error);
    const policy = {
      firstDelayMs: RECONNECT_FIRST_DELAY_MS,
      maxDelayMs: RECONNECT_MAX_DELAY_MS,
      timeoutMs,
      jitter: RECONNECT_JITTER,
    };
    try {
      await retry(() => this.handshake(), policy, { signal: this.closing.signal, isFatal: isRefusal });
    } catch (e) {
      if (this.closing.signal.aborted) return;
      const gaveUp = new ConnectionError(
        `lost the connection to the scheduler at ${this.url} and could not reconnect within ${timeoutMs} ms: ${(e as Error).message}`,
        { cause: e },
      );
      this.phase = 'closed';
      this.dropQueued(gaveUp);
      this.onClosed?.();
      this.events.onLost(gaveUp);
      return;
    }
    this.logger.warn(`meshwork client: reconnected to the scheduler at ${this.url} as ${this.id}`);
    this.events.onReconnected?.();
  }

  /** Keeps the process alive (Node) until `wait` settles: for every wait on the scheduler's answer. */
  hold<T>(wait: Promise<T>): Promise<T> {
    if (this.holds++ === 0) this.socket?.keepAlive?.(true);
    const done = (): void => {
      if (--this.holds === 0 && this.phase === 'open') this.socket?.keepAlive?.(false);
    };
    wait.then(done, done);
    return wait;
  }

  get isOpen(): boolean {
    return this.phase === 'open';
  }

  /** Why no message may be queued now, or undefined when one may (open, or connecting with `queueEarly`). */
  get refusal(): string | undefined {
    if (this.phase === 'open') return undefined;
    if (this.phase !== 'connecting' || !this.queueEarly) return `the client is not connected to ${this.url}`;
    if (this.earlyMessages >= RECONNECT_QUEUE_MAX_MESSAGES)
      return `the client is reconnecting to ${this.url} and has ${RECONNECT_QUEUE_MAX_MESSAGES} messages queued already`;
    return undefined;
  }

  /** May messages be queued now? (Open, or still connecting with `queueEarly`.) */
  get accepting(): boolean {
    return this.refusal === undefined;
  }

  /** A fresh id for a request (`gather`, `who-has`, `run`…): unique on this connection, so error replies find it. */
  nextRequestId(): number {
    return this.requestIds++;
  }

  /** Queues a message that is never merged with others. */
  send(message: Outgoing): void {
    this.check();
    this.last = message;
    this.unflushed = true;
    this.batcher.send(message);
  }

  /** Resolves once what is queued now has been handed to the socket; rejects if the connection ends first. */
  flushed(): Promise<void> {
    const refusal = this.refusal;
    if (refusal !== undefined) return Promise.reject(new ConnectionError(refusal));
    const done = new Promise<void>((resolve, reject) => this.flushWaiters.push({ resolve, reject }));
    this.settleFlushWaiters();
    return done;
  }

  /**
   * The `update-graph` queued last in this turn, or a new one when there is none or it is full
   * (GRAPH_MESSAGE_MAX_TASKS, or `argBytes` more would pass GRAPH_MESSAGE_MAX_BYTES).
   */
  graph(argBytes = 0): OfType<'update-graph'> {
    const last = this.last;
    if (
      last?.type === 'update-graph' &&
      last.tasks.length > 0 &&
      (last.tasks.length >= GRAPH_MESSAGE_MAX_TASKS || this.graphArgBytes + argBytes > GRAPH_MESSAGE_MAX_BYTES)
    )
      this.last = null;
    const graph = this.appendable('update-graph', () => {
      this.graphArgBytes = 0;
      return { type: 'update-graph', fns: [], tasks: [], wants: [] };
    });
    this.graphArgBytes += argBytes;
    return graph;
  }

  /** Queues one release of `key` (one per released future). */
  release(key: string): void {
    this.appendable('release-keys', () => ({ type: 'release-keys', keys: [] })).keys.push(key);
  }

  /** The `gather` queued last in this turn, or a new one with a fresh id from `nextId` (also once the last holds GATHER_MESSAGE_MAX_KEYS). */
  gather(nextId: () => number): OfType<'gather'> {
    const last = this.last;
    if (last?.type === 'gather' && last.keys.length >= GATHER_MESSAGE_MAX_KEYS) this.last = null;
    return this.appendable('gather', () => ({ type: 'gather', id: nextId(), keys: [] }));
  }

  private check(): void {
    const refusal = this.refusal;
    if (refusal !== undefined) throw new ConnectionError(refusal);
  }

  private appendable<T extends Outgoing['type']>(type: T, create: () => OfType<T>): OfType<T> {
    this.check();
    const last = this.last;
    if (last !== null && last.type === type) return last as OfType<T>;
    const message = create();
    this.last = message;
    this.unflushed = true;
    this.batcher.send(message);
    return message;
  }

  private flush(batch: Outgoing[]): void {
    this.last = null;
    this.unflushed = false;
    if (this.phase === 'connecting') {
      this.early.push(batch);
      this.earlyMessages += batch.length;
    } else this.transmit(batch);
    this.settleFlushWaiters();
  }

  private transmit(batch: Outgoing[]): void {
    for (const frame of encodeFrames(batch)) this.socket?.send(frame);
  }

  /** Everything queued so far is on the socket: wake `flushed()` waiters. */
  private settleFlushWaiters(): void {
    if (this.unflushed || this.phase !== 'open' || this.flushWaiters.length === 0) return;
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const w of waiters) w.resolve();
  }

  private dropQueued(error: ConnectionError): void {
    this.batcher.clear();
    this.unflushed = false;
    this.early = [];
    this.earlyMessages = 0;
    this.last = null;
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const w of waiters) w.reject(error);
  }

  /** Sends what is queued, then closes; resolves once closed (or after CLOSE_TIMEOUT_MS). Idempotent. */
  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.closing.abort(new ConnectionError('the client was closed'));
    const wasOpen = this.phase === 'open';
    if (wasOpen) this.batcher.flushNow();
    else if (this.phase === 'connecting') {
      // Closed before `welcome` (a background client, or while reconnecting): what it queued is dropped, the socket closed.
      this.dropQueued(new ConnectionError(`the client was closed before it connected to ${this.url}`));
      this.socket?.close();
    }
    this.phase = wasOpen ? 'closing' : 'closed';
    this.closed = new Promise<void>((resolve) => {
      if (!wasOpen) return resolve();
      const timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
      this.onClosed = () => {
        clearTimeout(timer);
        resolve();
      };
      this.socket?.close();
    });
    return this.closed;
  }
}
