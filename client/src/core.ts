/**
 * The client's state: one KeyState per key it holds futures for, reference counts, the functions
 * already sent on this connection, and the handling of what the scheduler pushes.
 */
import { AuthError, CancelledError, ConnectionError, LostError, decodeValue, errorFromWire } from '@meshwork/protocol';
import { RESULT_CACHE_MAX_BYTES } from './constants.js';
import { Connection, type Incoming } from './connection.js';
import { withDeadline } from './deadline.js';
import { Future, KeyState, stateOf, type FutureOwner } from './future.js';
import type { Platform } from './platform.js';
import { Requests } from './requests.js';
import { Results } from './results.js';
import type { FunctionSpec, TaskSpec, UpdateGraph } from './tasks.js';
import type { Logger, ResultOptions } from './types.js';

/** A checked, encoded task ready to be queued. */
export interface PreparedTask {
  fn: FunctionSpec;
  task: TaskSpec;
}

/** A value put on workers by `scatter`: its encoded bytes and the workers that took it. */
export interface ScatteredItem {
  key: string;
  bytes: Uint8Array;
  /** The value hash of `bytes` (valueHash): the workers stored only bytes that match it. */
  hash: string;
  workers: string[];
}

export class ClientCore implements FutureOwner {
  readonly states = new Map<string, KeyState>();
  readonly requests: Requests;
  readonly conn: Connection;
  /**
   * The function ids each queued `update-graph` carries. A function goes with every message whose
   * tasks use it: the scheduler keeps a function's source only while some task uses it.
   */
  private readonly fnsIn = new WeakMap<UpdateGraph, Set<string>>();
  private readonly results: Results;
  private readonly registry = new FinalizationRegistry<KeyState>((state) => this.unref(state));
  /** Keys this client cancelled whose own `key-cancelled` has not come back yet (by count). */
  private readonly cancelEchoes = new Map<string, number>();
  private closing: Promise<void> | undefined;
  private lostWith: ConnectionError | undefined;
  private waiting = 0;
  private resolveEnded: (error: ConnectionError) => void = () => {};
  /** Resolves once this client is done for good (closed, or its connection lost and not reopened), with why. */
  readonly ended = new Promise<ConnectionError>((r) => (this.resolveEnded = r));

  /** Call `conn.open(...)` next; the client is usable once it resolves (or at once, with `queueEarly`). */
  constructor(
    readonly platform: Platform,
    url: string,
    private readonly logger: Logger,
    private readonly callbackLogger: Logger,
    /** Told when this client starts (true) and stops (false) waiting on futures; nested waits count once. */
    private readonly onWait?: (waiting: boolean) => void,
  ) {
    this.conn = new Connection(
      platform,
      url,
      {
        onMessage: (m) => this.onMessage(m),
        onLost: (e) => this.onLost(e),
        onReconnecting: (e) => this.onReconnecting(e),
      },
      logger,
    );
    this.results = new Results(this.conn, platform);
    this.requests = new Requests(this.conn);
  }

  /** Why the client cannot be used, or undefined while it can. */
  get unusable(): ConnectionError | undefined {
    if (this.lostWith) return this.lostWith;
    if (this.closing) return new ConnectionError('the client is closed');
    const refusal = this.conn.refusal;
    return refusal === undefined ? undefined : new ConnectionError(refusal);
  }

  /** Queues tasks (in one `update-graph` per turn) and returns one new Future per task. */
  queue(prepared: readonly PreparedTask[]): Future<unknown>[] {
    return this.submitGraph(
      prepared,
      prepared.map((p) => p.task.key),
    );
  }

  /**
   * Queues every task (deps before dependents) in this turn's `update-graph`, wanting only
   * `wanted` (one new Future each, in order): the others are held by their dependents alone.
   */
  submitGraph(prepared: readonly PreparedTask[], wanted: readonly string[]): Future<unknown>[] {
    const unusable = this.unusable;
    if (unusable) throw unusable;
    if (prepared.length === 0 && wanted.length === 0) return [];
    // A large graph spans several messages (see Connection.graph): a task goes with its function
    // (once per message), and each want with its task, so every message stands on what came before.
    const placed = new Map<string, UpdateGraph>();
    for (const { fn, task } of prepared) {
      if (this.states.has(task.key) || placed.has(task.key)) continue;
      const graph = this.conn.graph(task.args.byteLength);
      let fns = this.fnsIn.get(graph);
      if (!fns) this.fnsIn.set(graph, (fns = new Set()));
      if (!fns.has(fn.id)) {
        fns.add(fn.id);
        graph.fns.push(fn);
      }
      placed.set(task.key, graph);
      graph.tasks.push(task);
    }
    return wanted.map((key) => this.want(placed.get(key) ?? this.conn.graph(), key));
  }

  /** Wants `key` once more: a new Future, and a new KeyState if this client held none. */
  private want(graph: Pick<UpdateGraph, 'wants'>, key: string): Future<unknown> {
    let state = this.states.get(key);
    if (!state) {
      state = new KeyState(key, this.callbackLogger);
      this.states.set(key, state);
    }
    graph.wants.push(key);
    state.refs++;
    const future = new Future<unknown>(state, this);
    this.registry.register(future, state, future);
    return future;
  }

  /**
   * Tells the scheduler where scattered values now are (`scattered`) and returns one future per
   * entry of `keys` (which may repeat a key; each is a key of `items`), finished at once: the
   * workers hold the data.
   */
  adoptScattered(items: readonly ScatteredItem[], keys: readonly string[]): Future<unknown>[] {
    const unusable = this.unusable;
    if (unusable) throw unusable;
    const message = {
      type: 'scattered' as const,
      items: items.map((i) => ({ key: i.key, nbytes: i.bytes.byteLength, hash: i.hash, workers: i.workers })),
      wants: [] as string[],
    };
    const futures = keys.map((key) => this.want(message, key));
    this.conn.send(message);
    for (const item of items) {
      const state = this.states.get(item.key);
      // Put nowhere (no put ticket): the scheduler's key-erred for it settles it.
      if (!state || state.settled || item.workers.length === 0) continue;
      if (item.bytes.byteLength <= RESULT_CACHE_MAX_BYTES) state.cached = new Uint8Array(item.bytes);
      state.finish();
    }
    return futures;
  }

  dropRef(future: Future<unknown>, state: KeyState): void {
    this.registry.unregister(future);
    this.unref(state);
  }

  private unref(state: KeyState): void {
    if (state.refs === 0) return;
    state.refs--;
    if (state.refs === 0 && this.states.get(state.key) === state) this.states.delete(state.key);
    if (!this.unusable && !state.forgotten) this.conn.release(state.key);
  }

  /**
   * Counts a wait on futures: it keeps the process alive (`Connection.hold`), and for `onWait` the
   * first to start and the last to end are reported.
   */
  track<T>(wait: Promise<T>): Promise<T> {
    const promise = this.conn.hold(wait);
    const onWait = this.onWait;
    if (!onWait) return promise;
    if (this.waiting++ === 0) this.report(onWait, true);
    return promise.finally(() => {
      if (--this.waiting === 0) this.report(onWait, false);
    });
  }

  private report(onWait: (waiting: boolean) => void, waiting: boolean): void {
    try {
      onWait(waiting);
    } catch (e) {
      this.logger.warn('meshwork client: onWait threw', e);
    }
  }

  async result(state: KeyState, options: ResultOptions): Promise<unknown> {
    // Decoded values may be views into the bytes: decode a copy, so no caller can change the cache.
    if (state.cached) return decodeValue(new Uint8Array(state.cached));
    if (state.error) throw state.error;
    const unusable = this.unusable;
    if (unusable) throw unusable;
    const outcome = await this.track(withDeadline(this.results.get(state.key), options, `the result of '${state.key}'`));
    if ('error' in outcome) {
      state.fail(outcome.error);
      throw state.error ?? outcome.error;
    }
    if (!state.cached && outcome.value.byteLength <= RESULT_CACHE_MAX_BYTES)
      state.cached = new Uint8Array(outcome.value); // a copy: `value` may view a whole frame
    state.finish();
    return decodeValue(outcome.value);
  }

  /** Resolves once settled (a counted wait); rejects with ConnectionError if the client goes first. */
  settled(state: KeyState, options: ResultOptions): Promise<void> {
    if (state.settled) return Promise.resolve();
    return this.track(withDeadline(this.whenSettled(state), options, `'${state.key}' to settle`));
  }

  /** As `settled`, unbounded and not counted as a wait. */
  whenSettled(state: KeyState): Promise<void> {
    return new Promise<void>((resolve, reject) => this.watch(state, resolve, reject));
  }

  /** Calls `onSettled` once `state` settles, or `onLost` if the client goes first; returns an unsubscribe. */
  watch(state: KeyState, onSettled: () => void, onLost: (error: Error) => void): () => void {
    const unusable = state.settled ? undefined : this.unusable;
    if (state.settled || unusable) {
      queueMicrotask(() => (unusable ? onLost(unusable) : onSettled()));
      return () => {};
    }
    return state.addWaiter({ resolve: onSettled, reject: onLost });
  }

  /**
   * Sends `cancel` for the keys of `futures` that this client still holds, and cancels them here
   * at once: their futures are 'cancelled' and forgotten (the scheduler drops this client's wants
   * itself, so no release-keys follows). Resolves once the message is on the socket.
   */
  async cancel(futures: readonly Future<unknown>[], force = false): Promise<void> {
    if (force && !this.conn.admin) throw new AuthError('cancel with { force: true } cancels for every client: it needs the admin token');
    const keys = new Set<string>();
    for (const future of futures) {
      const state = stateOf(future);
      if (this.states.get(state.key) === state) keys.add(state.key);
    }
    if (keys.size === 0) return;
    const unusable = this.unusable;
    if (unusable) throw unusable;
    this.conn.send(force ? { type: 'cancel', keys: [...keys], force } : { type: 'cancel', keys: [...keys] });
    for (const key of keys) {
      this.cancelEchoes.set(key, (this.cancelEchoes.get(key) ?? 0) + 1);
      this.forget(key, 'was cancelled by this client');
    }
    await this.conn.flushed();
  }

  private forget(key: string, why: string): void {
    const state = this.states.get(key);
    if (!state) return;
    this.states.delete(key);
    state.forgotten = true;
    const error = new CancelledError(`'${key}' ${why}`);
    state.cancel(error);
    this.results.forget(key, error);
  }

  private onCancelled(key: string): void {
    const echoes = this.cancelEchoes.get(key);
    if (echoes !== undefined) {
      // Our own cancel coming back: the key was forgotten then; a future made since is a new one.
      if (echoes <= 1) this.cancelEchoes.delete(key);
      else this.cancelEchoes.set(key, echoes - 1);
      return;
    }
    this.forget(key, 'was cancelled');
  }

  onMessage(message: Incoming): void {
    switch (message.type) {
      case 'key-finished':
        this.cancelEchoes.delete(message.key);
        this.states.get(message.key)?.finish();
        return;
      case 'key-erred': {
        this.cancelEchoes.delete(message.key);
        const state = this.states.get(message.key);
        if (!state) return;
        state.fail(errorFromWire({ ...message.error, key: message.error.key ?? message.key }));
        // A result() waiting on a gather settles now, whenever the scheduler answers that.
        if (state.error) this.results.forget(message.key, state.error);
        return;
      }
      case 'key-cancelled':
        this.onCancelled(message.key);
        return;
      case 'gather-reply':
        this.results.onReply(message);
        return;
      case 'scatter-plan-reply':
      case 'who-has-reply':
      case 'run-reply':
      case 'upload-reply':
        if (!this.requests.onReply(message))
          this.logger.warn(`meshwork client: '${message.type}' ${message.id} answers no request (late?)`);
        return;
      case 'error':
        if (!this.results.onErrorReply(message) && !this.requests.onErrorReply(message))
          this.logger.warn(`meshwork client: scheduler error ${message.code}: ${message.message}`);
        return;
      case 'welcome':
        this.logger.warn('meshwork client: a second welcome from the scheduler was ignored');
        return;
    }
  }

  /** The connection is gone: every pending wait fails with `error`. */
  onLost(error: ConnectionError): void {
    if (this.lostWith) return;
    this.lostWith = error;
    this.abandon(error);
    this.resolveEnded(error);
  }

  /**
   * The connection dropped and is being reopened. The scheduler at the other end (a new one, or
   * the same one, which released everything this client held when it dropped it) does not know
   * this client's keys, and graphs are not sent again behind the user's back: every key held so
   * far is given up. Its unsettled futures, and finished ones whose value is not cached here, fail
   * with LostError; a finished future with its value cached stays finished. None of them is
   * counted by the scheduler any more (releasing them sends nothing); submitting the same task
   * again makes a new key state and sends the task anew. Requests in flight fail with `error`.
   */
  private onReconnecting(error: ConnectionError): void {
    this.cancelEchoes.clear();
    const held = [...this.states.values()];
    this.states.clear();
    for (const state of held) {
      state.forgotten = true;
      if (state.status === 'finished' ? state.cached !== undefined : state.settled) continue;
      const lost = new LostError(
        `'${state.key}' was lost with the connection to the scheduler (${error.message}): the scheduler restarted or ` +
          `dropped this client, so it no longer holds this client's keys; submit the task again`,
        { cause: error },
      );
      state.fail(lost);
      this.results.forget(state.key, lost);
    }
    this.results.failAll(error);
    this.requests.failAll(error);
  }

  private abandon(error: ConnectionError): void {
    this.results.failAll(error);
    this.requests.failAll(error);
    for (const state of this.states.values()) state.abandon(error);
  }

  /** Releases every key, closes the socket, fails pending waits. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    if (!this.unusable) {
      for (const state of this.states.values()) for (let i = 0; i < state.refs; i++) this.conn.release(state.key);
    }
    this.closing = this.conn.close();
    const error = new ConnectionError('the client was closed');
    this.abandon(error);
    this.resolveEnded(error);
    return this.closing;
  }
}
