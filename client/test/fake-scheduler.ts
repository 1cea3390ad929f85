/**
 * A tiny scheduler for tests, speaking the client-server channel over `ws` on port 0.
 * It runs each task itself (rebuilding the function from its source), so results are real;
 * hooks let a test change how it answers.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import {
  ClientChannel,
  PROTOCOL_VERSION,
  decodeValue,
  encodeFrame,
  encodeValue,
  errorToWire,
  hashString,
  parseFrame,
  typesOf,
  type Holder,
  type WireError,
} from '@meshwork/protocol';
import type { FunctionSpec } from '../src/tasks.js';

type In = ClientChannel.ClientToServer;
type Out = ClientChannel.ServerToClient;

export interface FakeOptions {
  /** How to answer hello: welcome (default), an error reply with this code, or nothing. */
  hello?: 'welcome' | 'silent' | { code: 'AUTH_FAILED' | 'VERSION_MISMATCH'; message: string };
  /** Answer a gather with holders instead of inline bytes for these keys. */
  holdersFor?: (key: string) => Holder[] | undefined;
  /** With `holdersFor`: the producer's hash and size to send with the holders (what a scheduler hands out). */
  expectFor?: (key: string) => { hash: string; nbytes: number } | undefined;
  /** Tasks of functions with these names wait for `runHeld()`. */
  hold?: readonly string[];
  /** Where `scatter-plan` puts a value (default: nowhere, as with no workers). */
  scatterTargets?: (key: string) => Holder[];
  /** Where scattered values are (the fake workers' stores), so tasks can use them. */
  stores?: () => Map<string, Uint8Array>[];
  /** The workers `run` runs on. Default ['worker-a', 'worker-b']. */
  workers?: readonly string[];
  /** The port to listen on (default 0: any free port). */
  port?: number;
}

export class FakeScheduler {
  readonly received: In[] = [];
  readonly frames: In[][] = [];
  /** The size of each frame received, in bytes (same order as `frames`). */
  readonly frameBytes: number[] = [];
  readonly results = new Map<string, { value?: Uint8Array; error?: WireError }>();
  readonly sockets = new Set<WebSocket>();
  private readonly fns = new Map<string, (...args: unknown[]) => unknown>();
  private readonly names = new Map<string, string>();
  private readonly wanted = new Map<string, number>();
  private readonly gathers: { ws: WebSocket; id: number; keys: string[] }[] = [];
  private readonly held: { ws: WebSocket; task: ClientChannel.TaskSpec; name: string }[] = [];
  private readonly tasks = new Map<string, ClientChannel.TaskSpec>();
  readonly cancelled = new Set<string>();
  private constructor(
    readonly server: WebSocketServer,
    readonly options: FakeOptions,
  ) {}

  static async start(options: FakeOptions = {}): Promise<FakeScheduler> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: options.port ?? 0 });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const fake = new FakeScheduler(server, options);
    server.on('connection', (ws) => fake.accept(ws));
    return fake;
  }

  get address(): string {
    const a = this.server.address();
    if (typeof a === 'string' || a === null) throw new Error('no address');
    return `ws://127.0.0.1:${a.port}`;
  }

  /** Messages of one type, in order of arrival. */
  of<T extends In['type']>(type: T): Extract<In, { type: T }>[] {
    return this.received.filter((m): m is Extract<In, { type: T }> => m.type === type);
  }

  refcount(key: string): number {
    return this.wanted.get(key) ?? 0;
  }

  send(ws: WebSocket, messages: Out[]): void {
    ws.send(encodeFrame(messages));
  }

  /** Resolves once `predicate` holds, checking after each frame. */
  async until(predicate: () => boolean, timeoutMs = 2_000): Promise<void> {
    const start = Date.now();
    while (!predicate()) {
      if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Runs the held tasks and tells the client (key-finished / key-erred) for keys it wants. */
  runHeld(): void {
    for (const { ws, task } of this.held.splice(0)) {
      this.run(task);
      const r = this.results.get(task.key);
      if (this.refcount(task.key) <= 0 || !r) continue;
      this.send(ws, [
        r.error ? { type: 'key-erred', key: task.key, error: r.error } : { type: 'key-finished', key: task.key },
      ]);
    }
    this.answerGathers();
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    let greeted = false;
    ws.on('message', (data: Buffer) => {
      const { messages, errors } = parseFrame(
        data,
        ClientChannel.ClientToServer,
        typesOf(ClientChannel.ClientToServer),
      );
      if (errors.length > 0) throw new Error(`fake scheduler got a bad frame: ${JSON.stringify(errors)}`);
      this.frames.push(messages);
      this.frameBytes.push(data.byteLength);
      for (const m of messages) {
        this.received.push(m);
        if (m.type === 'hello') {
          const hello = this.options.hello ?? 'welcome';
          if (hello === 'silent') continue;
          if (hello === 'welcome') {
            greeted = true;
            this.send(ws, [{ type: 'welcome', protocolVersion: PROTOCOL_VERSION, id: 'client-1' }]);
          } else {
            this.send(ws, [{ type: 'error', code: hello.code, message: hello.message }]);
            ws.close(1008);
          }
        } else if (greeted) this.handle(ws, m);
      }
      this.answerGathers();
    });
  }

  private handle(ws: WebSocket, m: In): void {
    switch (m.type) {
      case 'update-graph':
        for (const fn of m.fns) {
          this.fns.set(fn.id, rebuild(fn));
          this.names.set(fn.id, fn.name);
        }
        for (const t of m.tasks) {
          this.tasks.set(t.key, t);
          const name = this.names.get(t.fn) ?? '';
          if (this.options.hold?.includes(name)) this.held.push({ ws, task: t, name });
          else this.run(t);
        }
        for (const key of m.wants) {
          this.wanted.set(key, this.refcount(key) + 1);
          const r = this.results.get(key);
          if (r?.error) this.send(ws, [{ type: 'key-erred', key, error: r.error }]);
          else if (r) this.send(ws, [{ type: 'key-finished', key }]);
        }
        break;
      case 'release-keys':
        for (const key of m.keys) this.wanted.set(key, this.refcount(key) - 1);
        break;
      case 'gather':
        this.gathers.push({ ws, id: m.id, keys: m.keys });
        break;
      case 'hello':
        break;
      case 'cancel':
        this.cancel(ws, m.keys);
        break;
      case 'scatter-plan':
        this.send(ws, [
          { type: 'scatter-plan-reply', id: m.id, targets: m.items.map((i) => this.options.scatterTargets?.(i.key) ?? []) },
        ]);
        break;
      case 'scattered':
        for (const item of m.items) {
          const value = this.options.stores?.().find((s) => s.has(item.key))?.get(item.key);
          this.results.set(item.key, { value: value ?? new Uint8Array() });
        }
        for (const key of m.wants) {
          this.wanted.set(key, this.refcount(key) + 1);
          this.send(ws, [{ type: 'key-finished', key }]);
        }
        break;
      case 'missing-data':
        break; // its values are never wrong
      case 'who-has': {
        const holders: Record<string, string[]> = {};
        for (const key of m.keys) holders[key] = this.results.has(key) ? ['worker-a'] : [];
        this.send(ws, [{ type: 'who-has-reply', id: m.id, holders }]);
        break;
      }
      case 'run': {
        const fn = rebuild(m.fn);
        const results: Record<string, { value?: Uint8Array; error?: WireError }> = {};
        for (const w of this.options.workers ?? ['worker-a', 'worker-b']) {
          if (m.workers && !m.workers.includes(w)) continue;
          try {
            results[w] = { value: encodeValue(fn(...(decodeValue(m.args) as unknown[]))).bytes };
          } catch (e) {
            results[w] = { error: errorToWire(e, { workerId: w }) };
          }
        }
        this.send(ws, [{ type: 'run-reply', id: m.id, results }]);
        break;
      }
      case 'upload':
        this.send(ws, [{ type: 'upload-reply', id: m.id, name: m.name, hash: hashString(m.source) }]);
        break;
    }
  }

  /** Cancels the keys and every task depending on them; tells the client about those it wants. */
  private cancel(ws: WebSocket, keys: readonly string[]): void {
    const doomed = new Set(keys);
    for (let grew = true; grew; ) {
      grew = false;
      for (const t of this.tasks.values()) {
        if (!doomed.has(t.key) && t.deps.some((d) => doomed.has(d))) {
          doomed.add(t.key);
          grew = true;
        }
      }
    }
    for (const key of doomed) {
      this.cancelled.add(key);
      this.tasks.delete(key);
      this.results.delete(key);
      const at = this.held.findIndex((h) => h.task.key === key);
      if (at >= 0) this.held.splice(at, 1);
      if (this.refcount(key) > 0) this.send(ws, [{ type: 'key-cancelled', key }]);
      this.wanted.delete(key);
    }
  }

  private run(t: ClientChannel.TaskSpec): void {
    const fn = this.fns.get(t.fn);
    if (!fn || this.results.has(t.key)) return;
    const failed = t.deps.map((d) => this.results.get(d)).find((r) => r?.error);
    if (failed?.error) return void this.results.set(t.key, { error: failed.error });
    try {
      // decodeValue is not re-entrant: decode the dependencies first.
      const deps = new Map(t.deps.map((d) => [d, decodeValue(this.results.get(d)?.value ?? new Uint8Array())]));
      const args = decodeValue(t.args, (key) => deps.get(key)) as unknown[];
      this.results.set(t.key, { value: encodeValue(fn(...args)).bytes });
    } catch (e) {
      this.results.set(t.key, { error: errorToWire(e, { key: t.key, workerId: 'worker-a' }) });
    }
  }

  private answerGathers(): void {
    for (const g of [...this.gathers]) {
      if (!g.keys.every((k) => this.results.has(k))) continue;
      this.gathers.splice(this.gathers.indexOf(g), 1);
      const items = g.keys.map((key) => {
        const r = this.results.get(key) ?? {};
        const holders = this.options.holdersFor?.(key);
        if (holders) return { key, holders, ...this.options.expectFor?.(key) };
        return r.error ? { key, error: r.error } : { key, value: r.value ?? new Uint8Array() };
      });
      this.send(g.ws, [{ type: 'gather-reply', id: g.id, items }]);
    }
  }
}

/** A task function rebuilt from its spec, as a worker does; a module export echoes its call. */
function rebuild(fn: FunctionSpec): (...a: unknown[]) => unknown {
  if (fn.module) {
    const { name, hash } = fn.module;
    return (...args: unknown[]) => ({ module: name, hash, export: fn.source, args });
  }
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function(`return (${fn.source})`)() as (...a: unknown[]) => unknown;
}
