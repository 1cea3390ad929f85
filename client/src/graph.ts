/**
 * `client.get(graph, keys)`: a dask-style task graph `{ key: computation }` turned into tasks.
 *
 * A computation is
 * - a task: an array whose first element is a function (or an uploaded module's export), the
 *   rest its arguments, each itself a computation;
 * - a string naming a key of the graph: that key's value (an alias at the top level);
 * - any other array: a list of computations (evaluated element by element);
 * - anything else: a plain value. Plain objects, Maps and Sets are values: strings inside them
 *   are not looked up (as in dask).
 *
 * Every key becomes a task (a value or an alias becomes `identity(value)`); a task nested inside
 * arguments becomes a task of its own. Keys are `<user key>-<hash>` where the hash covers the
 * function and the arguments with the keys of dependencies, so it covers the whole subgraph
 * below the key: two graphs using the same user keys for different work never collide, and
 * identical subgraphs share their keys (and run once).
 *
 * Everything here is synchronous and refuses a bad graph before anything is sent: GraphError
 * for a cycle, a requested key that is not in the graph, or a function outside the head of a
 * task; SerializationError for a value that cannot travel, naming its path (`graph.c[2]`).
 */
import { FutureRef, GraphError, SerializationError, checkSerialisable, encodeValue } from '@meshwork/protocol';
import { MAX_KEY_NAME_LENGTH } from './constants.js';
import type { PreparedTask } from './core.js';
import { checkArgsSize, functionSpec, keyName, keyedSpec, type FunctionSpec, type ResolvedOptions } from './tasks.js';

/** A dask-style graph: each key maps to a computation (see above). */
export type Graph = Readonly<Record<string, unknown>>;
/** One key, or a (nested) list of keys: `get` answers in the same shape. */
export type KeySpec = string | readonly KeySpec[];

/** What `get` sends (`tasks`, dependencies first), wants (`wanted`) and how to shape the answer. */
export interface CompiledGraph {
  tasks: PreparedTask[];
  /** The task keys of the requested keys, flattened in order. */
  wanted: string[];
  /** Puts one item per `wanted` key back into the shape of the requested keys. */
  shape<T>(items: readonly T[]): unknown;
}

function identity(value: unknown): unknown {
  return value;
}

export function compileGraph(graph: Graph, keys: KeySpec, options: ResolvedOptions): CompiledGraph {
  if (typeof graph !== 'object' || graph === null || Array.isArray(graph))
    throw new GraphError('get: the graph must be a plain object { key: computation }');
  const requested = flatten(keys, 'keys');
  const missing = [...new Set(requested.filter((k) => !Object.hasOwn(graph, k)))];
  if (missing.length > 0)
    throw new GraphError(`get: ${missing.length === 1 ? 'key' : 'keys'} not in the graph: ${missing.map((k) => `'${k}'`).join(', ')}`);
  const compiler = new Compiler(graph, options);
  for (const key of Object.keys(graph)) compiler.visit(key);
  const wanted = requested.map((k) => compiler.keyOf(k));
  return {
    tasks: cull(compiler.tasks, wanted),
    wanted,
    shape: (items) => {
      let i = 0;
      const build = (spec: KeySpec): unknown => (typeof spec === 'string' ? items[i++] : spec.map(build));
      return build(keys);
    },
  };
}

function flatten(keys: KeySpec, path: string, out: string[] = []): string[] {
  if (typeof keys === 'string') out.push(keys);
  else if (Array.isArray(keys)) keys.forEach((k: KeySpec, i) => flatten(k, `${path}[${i}]`, out));
  else throw new GraphError(`get: ${path} must be a key (string) or a list of keys, got ${typeof keys}`);
  return out;
}

/** Only the tasks the wanted keys need, in the order given (dependencies first). */
function cull(tasks: readonly PreparedTask[], wanted: readonly string[]): PreparedTask[] {
  const byKey = new Map(tasks.map((t) => [t.task.key, t]));
  const needed = new Set<string>();
  const stack = [...wanted];
  for (let key = stack.pop(); key !== undefined; key = stack.pop()) {
    if (needed.has(key)) continue;
    needed.add(key);
    stack.push(...(byKey.get(key)?.task.deps ?? []));
  }
  return tasks.filter((t) => needed.has(t.task.key));
}

function isTask(value: unknown): value is [(...args: unknown[]) => unknown, ...unknown[]] {
  return Array.isArray(value) && value.length > 0 && typeof value[0] === 'function';
}

function propertyPath(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** A user key made into a key prefix: readable, bounded. */
function prefixOf(userKey: string): string {
  const p = userKey.replace(/[^\w$.:()[\],'-]+/g, '_').slice(0, MAX_KEY_NAME_LENGTH);
  return p.length > 0 ? p : 'key';
}

class Compiler {
  readonly tasks: PreparedTask[] = [];
  private readonly keys = new Map<string, string>();
  private readonly visiting: string[] = [];

  constructor(
    private readonly graph: Graph,
    private readonly options: ResolvedOptions,
  ) {}

  keyOf(userKey: string): string {
    return this.keys.get(userKey) ?? this.visit(userKey);
  }

  /** Compiles the entry of `userKey` (after its dependencies); returns its task key. */
  visit(userKey: string): string {
    const known = this.keys.get(userKey);
    if (known !== undefined) return known;
    const at = this.visiting.indexOf(userKey);
    if (at >= 0) {
      const cycle = [...this.visiting.slice(at), userKey].map((k) => `'${k}'`).join(' -> ');
      throw new GraphError(`get: the graph has a cycle: ${cycle}`);
    }
    this.visiting.push(userKey);
    const key = this.task(this.graph[userKey], `graph${propertyPath(userKey)}`, prefixOf(userKey));
    this.visiting.pop();
    this.keys.set(userKey, key);
    return key;
  }

  /** One computation as one task; returns its key. */
  private task(computation: unknown, path: string, prefix: string | undefined): string {
    let fn: FunctionSpec;
    let args: unknown[];
    if (isTask(computation)) {
      fn = this.fnAt(computation[0], `${path}[0]`);
      args = computation.slice(1).map((a, i) => this.arg(a, `${path}[${i + 1}]`));
      args.forEach((a, i) => checkSerialisable(a, `${path}[${i + 1}]`));
    } else {
      fn = functionSpec(identity);
      args = [this.arg(computation, path)];
      checkSerialisable(args[0], path);
    }
    const { bytes, refs } = encodeValue(args);
    checkArgsSize(bytes, path);
    const task = keyedSpec(prefix ?? keyName(fn), fn, { bytes, deps: refs }, { ...this.options, pure: true });
    this.tasks.push({ fn, task });
    return task.key;
  }

  private fnAt(fn: unknown, path: string): FunctionSpec {
    try {
      return functionSpec(fn);
    } catch (e) {
      if (!(e instanceof SerializationError)) throw e;
      throw new SerializationError(`${path}: ${e.message.replace(/^fn: /, '')}`, path);
    }
  }

  /** An argument with key names replaced by references and nested tasks lifted out. */
  private arg(value: unknown, path: string): unknown {
    if (typeof value === 'string') return Object.hasOwn(this.graph, value) ? new FutureRef(this.visit(value)) : value;
    if (typeof value === 'function')
      throw new GraphError(`get: ${path}: a function may only stand first in a task array: [fn, ...args]`);
    if (!Array.isArray(value)) return value;
    if (isTask(value)) return new FutureRef(this.task(value, path, undefined));
    return value.map((item, i) => this.arg(item, `${path}[${i}]`));
  }
}
