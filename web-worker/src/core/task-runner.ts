/**
 * What a thread does with a task, runtime-free (a Node worker_thread and a browser Web Worker
 * both run it): rebuild the function from its source text (or take an uploaded module's export),
 * decode the dependencies and the argument array, call, check and encode the result. Errors come
 * back as WireError with code REMOTE_ERROR and the thrown error's own name, message and stack.
 *
 * Large typed arrays in the inputs are views of the bytes the thread was given, not copies (in
 * Node those are the store's own shared memory): tasks do not mutate their inputs (README, "Tasks
 * do not mutate their inputs"). One that does changes the stored value; its hash no longer
 * matches, so no peer accepts it.
 */
import { ErrorCode, SerializationError, checkSerialisable, decodeValue, encodeValue, errorToWire, type WireError } from '@meshwork/protocol';
import { MAX_CACHED_FUNCTIONS_PER_THREAD } from '../constants.js';
import type { ModuleRef } from './interfaces.js';
import type { Digest } from './interfaces.js';
import { ModuleError, type ModuleCache } from './modules.js';
import type { TaskGlobal } from './task-global.js';

export interface TaskRequest {
  /** The task's key, for messages about an anonymous function. */
  key?: string | undefined;
  fn: string;
  fnName: string;
  /** Present when the host believes this thread has not seen the function (with `module`: the export's name). */
  source?: string | undefined;
  /** Set when the function is an export of an uploaded module. */
  module?: ModuleRef | undefined;
  /** With `module` and `source`: the module's source text, which the host fetched (see modules.ts). */
  moduleSource?: string | undefined;
  /** The capability of the client the task runs for: what `globalThis.meshwork.client()` connects with. */
  capability?: string | undefined;
  /** The encoded argument array (the thread's own copy, or shared memory in Node). */
  args: Uint8Array;
  /** Dependency key → encoded value: in Node the store's shared memory itself, in a browser a copy. */
  deps: [string, Uint8Array][];
}

export type TaskReply =
  | { ok: true; bytes: Uint8Array; hash?: string | undefined; startedAt: number; stoppedAt: number }
  | { ok: false; error: WireError; startedAt: number; stoppedAt: number }
  /** The thread has no function under this id: send the request again with `source`. */
  | { ok: false; needSource: true };

type TaskFunction = (...args: unknown[]) => unknown;

const VIEWS = { views: true } as const;

export interface TaskRunnerOptions {
  /** Where uploaded modules come from; without it, module functions fail with a ModuleError. */
  modules?: ModuleCache;
  /** `globalThis.meshwork` (tasks of tasks); without it, tasks find no such global. */
  taskGlobal?: TaskGlobal;
  /**
   * Where an encoded result is written (default: a fresh ArrayBuffer, transferred to the host).
   * The Node host passes shared memory, so its store can hand the same bytes to later tasks'
   * threads without a copy (and tasks see views of them).
   */
  allocate?: (bytes: number) => Uint8Array;
  /** Hashes each encoded result here, on the task's thread, for the scheduler to hand to whoever fetches it. */
  digest?: Digest;
}

interface CachedFunction {
  fn: TaskFunction;
  /** Its source uses `this` (which a task function never has): a TypeError about undefined gets a hint. */
  usesThis: boolean;
}

export class TaskRunner {
  /** fn id → rebuilt function, least recently used first. */
  private readonly fns = new Map<string, CachedFunction>();

  constructor(private readonly o: TaskRunnerOptions = {}) {
    // esbuild's keepNames (tsx, Vite) rewrites nested functions as `__name(fn, "name")`, so task
    // sources from such projects call a helper their own module defined: provide it here.
    const g = globalThis as { __name?: unknown };
    g.__name ??= (fn: object, value: string) => Object.defineProperty(fn, 'name', { value, configurable: true });
  }

  async run(req: TaskRequest): Promise<TaskReply> {
    const startedAt = Date.now();
    const fail = (error: unknown, usesThis = false): TaskReply => ({
      ok: false,
      error: toWire(error, { fnName: req.fnName, key: req.key, usesThis }),
      startedAt,
      stoppedAt: Date.now(),
    });
    let found: CachedFunction | undefined;
    try {
      found = await this.lookup(req);
      if (!found) return { ok: false, needSource: true };
    } catch (e) {
      return fail(e);
    }
    let args: unknown;
    try {
      const depValues = new Map<string, unknown>();
      // Views, not copies: a 100 MB input costs no time and no memory of its own.
      for (const [key, bytes] of req.deps) depValues.set(key, decodeValue(bytes, undefined, VIEWS));
      args = decodeValue(
        req.args,
        (key) => {
          if (!depValues.has(key)) throw new ReferenceError(`argument refers to '${key}', which is not among the task's dependencies`);
          return depValues.get(key);
        },
        VIEWS,
      );
      if (!Array.isArray(args)) throw new TypeError('task arguments must encode an array');
    } catch (e) {
      return fail(e);
    }
    let result: unknown;
    const { fn } = found;
    const call = (): unknown => fn(...(args as unknown[]));
    try {
      // The task's client acts for the task's own client; the capability is gone once the task ends.
      result = this.o.taskGlobal ? await this.o.taskGlobal.run(req.capability, call) : await call();
    } catch (e) {
      return fail(e, found.usesThis);
    }
    const stoppedAt = Date.now();
    try {
      checkSerialisable(result, 'result');
      // Encoded straight into memory of its own, so the host can take (transfer or share) it:
      // large binaries are copied once, from the task's value into that memory.
      const { bytes } = encodeValue(result, this.o.allocate ?? ((n) => new Uint8Array(n)));
      const hash = this.o.digest ? await this.o.digest(bytes) : undefined;
      return { ok: true, bytes, hash, startedAt, stoppedAt };
    } catch (e) {
      const error = e instanceof SerializationError ? e : new SerializationError(`result: ${(e as Error).message}`, 'result');
      return { ok: false, error: toWire(error, { fnName: req.fnName, key: req.key }), startedAt, stoppedAt };
    }
  }

  private async lookup(req: TaskRequest): Promise<CachedFunction | undefined> {
    const cached = this.fns.get(req.fn);
    if (cached) {
      this.fns.delete(req.fn);
      this.fns.set(req.fn, cached);
      return cached;
    }
    if (req.source === undefined) return undefined;
    let entry: CachedFunction;
    if (req.module) {
      if (!this.o.modules) throw new ModuleError(`module '${req.module.name}': this thread cannot load uploaded modules`);
      entry = { fn: await this.o.modules.exportOf(req.module, req.source, req.moduleSource), usesThis: false };
    } else {
      entry = { fn: rebuild(req.source, req.fnName, req.key), usesThis: /\bthis\b/.test(req.source) };
    }
    this.fns.set(req.fn, entry);
    if (this.fns.size > MAX_CACHED_FUNCTIONS_PER_THREAD) {
      const oldest = this.fns.keys().next();
      if (!oldest.done) this.fns.delete(oldest.value);
    }
    return entry;
  }
}

/**
 * Runs a function body built from task source. Task functions travel as source text by design
 * (API.md: "A task function travels as its source text and is rebuilt on the worker"), and this
 * runs only inside a worker thread / Web Worker, never on a page or in the scheduler.
 */
function evaluate(body: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval, @typescript-eslint/no-unsafe-call
  return new Function(body)();
}

/** Rebuilds a function from source text: an expression (arrow, `function`, `async`), or a method shorthand. */
export function rebuild(source: string, fnName: string, key?: string): TaskFunction {
  let value: unknown;
  try {
    value = evaluate(`'use strict'; return (${source}\n);`);
  } catch (first) {
    // `{ inc(x) { … } }.inc.toString()` is `inc(x) { … }`: valid only inside an object literal.
    try {
      const holder = evaluate(`'use strict'; return ({${source}\n});`) as Record<string, unknown>;
      value = Object.values(holder)[0];
    } catch {
      throw new SyntaxError(`${taskFunction(fnName, key)} could not be rebuilt from its source: ${(first as Error).message}`);
    }
  }
  if (typeof value !== 'function') throw new TypeError(`the source of ${taskFunction(fnName, key)} is not a function`);
  return value as TaskFunction;
}

/** How messages name a task function: `task function 'inc'`, or by its task's key when it has no name. */
function taskFunction(fnName: string, key: string | undefined): string {
  if (fnName !== '') return `task function '${fnName}'`;
  return key === undefined ? 'an anonymous task function' : `the anonymous task function of '${key}'`;
}

const notDefined = /^(.+) is not defined$/;

/** The task an error came from, for messages that say what to do. */
export interface ErrorContext {
  fnName: string;
  key?: string | undefined;
  /** The function's source uses `this`. */
  usesThis?: boolean;
}

/**
 * The wire shape of a task's error. A free variable gets a message that says what to do; so does
 * a TypeError about `undefined` in a function that uses `this`: task functions are called without
 * one, so such an error most likely comes from a method that lost its object.
 */
export function toWire(error: unknown, { fnName, key, usesThis = false }: ErrorContext): WireError {
  const wire = errorToWire(error, { code: ErrorCode.REMOTE_ERROR });
  const match = error instanceof ReferenceError ? notDefined.exec(error.message) : null;
  if (match) {
    const name = match[1] as string;
    wire.message =
      `${taskFunction(fnName, key)} reads '${name}' from its enclosing scope; task functions travel as ` +
      `source text and must be self-contained: pass ${name} as an argument`;
  } else if (usesThis && error instanceof TypeError && /\bundefined\b/.test(error.message)) {
    wire.message +=
      ` (${taskFunction(fnName, key)} uses 'this', which is undefined in a task: only a function's source travels, ` +
      `so a method passed as obj.method loses obj, and a bound one cannot be sent. Pass what it needs from obj as ` +
      `arguments instead, e.g. client.submit((base, x) => base + x, obj.base, 1))`;
  }
  return wire;
}
