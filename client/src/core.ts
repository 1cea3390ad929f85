/**
 * The client's state: one KeyState per key it holds futures for, reference counts, the functions
 * already sent on this connection, and the handling of what the scheduler pushes.
 */
import { ConnectionError, TimeoutError, decodeValue, errorFromWire } from '@meshwork/protocol';
import { RESULT_CACHE_MAX_BYTES } from './constants.js';
import { Connection, type Incoming } from './connection.js';
import { Future, KeyState, type FutureOwner } from './future.js';
import type { Platform } from './platform.js';
import { Results } from './results.js';
import type { FunctionSpec, TaskSpec } from './tasks.js';
import type { Logger, ResultOptions } from './types.js';

/** A checked, encoded task ready to be queued. */
export interface PreparedTask {
  fn: FunctionSpec;
  task: TaskSpec;
}

export class ClientCore implements FutureOwner {
  readonly states = new Map<string, KeyState>();
  private readonly sentFns = new Set<string>();
  private readonly results: Results;
  private readonly registry = new FinalizationRegistry<KeyState>((state) => this.unref(state));
  private closing: Promise<void> | undefined;
  private lostWith: ConnectionError | undefined;

  readonly conn: Connection;

  /** Call `conn.open(...)` next; the client is usable once it resolves. */
  constructor(
    platform: Platform,
    url: string,
    private readonly logger: Logger,
    private readonly callbackLogger: Logger,
  ) {
    this.conn = new Connection(
      platform,
      url,
      { onMessage: (m) => this.onMessage(m), onLost: (e) => this.onLost(e) },
      logger,
    );
    this.results = new Results(this.conn, platform);
  }

  /** Why the client cannot be used, or undefined while it can. */
  get unusable(): ConnectionError | undefined {
    if (this.lostWith) return this.lostWith;
    if (this.closing || !this.conn.isOpen) return new ConnectionError('the client is closed');
    return undefined;
  }

  /** Queues tasks (in one `update-graph` per turn) and returns one new Future per task. */
  queue(prepared: readonly PreparedTask[]): Future<unknown>[] {
    const unusable = this.unusable;
    if (unusable) throw unusable;
    if (prepared.length === 0) return [];
    const graph = this.conn.graph();
    return prepared.map(({ fn, task }) => {
      if (!this.sentFns.has(fn.id)) {
        this.sentFns.add(fn.id);
        graph.fns.push(fn);
      }
      let state = this.states.get(task.key);
      if (!state) {
        state = new KeyState(task.key, this.callbackLogger);
        this.states.set(task.key, state);
        graph.tasks.push(task);
      }
      graph.wants.push(task.key);
      state.refs++;
      const future = new Future<unknown>(state, this);
      this.registry.register(future, state, future);
      return future;
    });
  }

  dropRef(future: Future<unknown>, state: KeyState): void {
    this.registry.unregister(future);
    this.unref(state);
  }

  private unref(state: KeyState): void {
    if (state.refs === 0) return;
    state.refs--;
    if (state.refs === 0 && this.states.get(state.key) === state) this.states.delete(state.key);
    if (!this.unusable) this.conn.release(state.key);
  }

  async result(state: KeyState, options: ResultOptions): Promise<unknown> {
    // Decoded values may be views into the bytes: decode a copy, so no caller can change the cache.
    if (state.cached) return decodeValue(new Uint8Array(state.cached));
    if (state.error) throw state.error;
    const unusable = this.unusable;
    if (unusable) throw unusable;
    const outcome = await this.withTimeout(this.results.get(state.key), options, `the result of '${state.key}'`);
    if ('error' in outcome) {
      state.fail(outcome.error);
      throw outcome.error;
    }
    if (!state.cached && outcome.value.byteLength <= RESULT_CACHE_MAX_BYTES)
      state.cached = new Uint8Array(outcome.value); // a copy: `value` may view a whole frame
    state.finish();
    return decodeValue(outcome.value);
  }

  settled(state: KeyState, options: ResultOptions): Promise<void> {
    if (state.settled) return Promise.resolve();
    const unusable = this.unusable;
    if (unusable) return Promise.reject(unusable);
    const wait = new Promise<void>((resolve, reject) => state.waiters.add({ resolve, reject }));
    return this.withTimeout(wait, options, `'${state.key}' to settle`);
  }

  private withTimeout<T>(promise: Promise<T>, options: ResultOptions, what: string): Promise<T> {
    const { timeoutMs: ms, signal } = options;
    if ((ms === undefined || ms === Infinity) && !signal) return promise;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => finish(() => reject(signal?.reason as Error));
      const timer =
        ms === undefined || ms === Infinity
          ? undefined
          : setTimeout(
              () => finish(() => reject(new TimeoutError(`timed out after ${ms} ms waiting for ${what}`))),
              Math.max(0, ms),
            );
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        settle();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => finish(() => resolve(value)),
        (error: Error) => finish(() => reject(error)),
      );
    });
  }

  onMessage(message: Incoming): void {
    switch (message.type) {
      case 'key-finished':
        this.states.get(message.key)?.finish();
        return;
      case 'key-erred':
        this.states.get(message.key)?.fail(errorFromWire({ ...message.error, key: message.error.key ?? message.key }));
        return;
      case 'gather-reply':
        this.results.onReply(message);
        return;
      case 'error':
        if (!this.results.onErrorReply(message))
          this.logger.warn(`meshwork client: scheduler error ${message.code}: ${message.message}`);
        return;
      case 'welcome':
        this.logger.warn('meshwork client: a second welcome from the scheduler was ignored');
        return;
    }
  }

  /** The connection is gone: every pending wait fails with `error`. */
  onLost(error: ConnectionError): void {
    this.lostWith = error;
    this.abandon(error);
  }

  private abandon(error: ConnectionError): void {
    this.results.failAll(error);
    for (const state of this.states.values()) state.abandon(error);
  }

  /** Releases every key, closes the socket, fails pending waits. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    if (!this.unusable) {
      for (const state of this.states.values()) for (let i = 0; i < state.refs; i++) this.conn.release(state.key);
    }
    this.closing = this.conn.close();
    this.abandon(new ConnectionError('the client was closed'));
    return this.closing;
  }
}
