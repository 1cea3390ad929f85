/**
 * Uploaded modules (`client.upload(name, source)`), runtime-free: where the scheduler serves them
 * and a per-thread cache of their namespaces. How a module is imported is the host's business
 * (`ModuleImporter`): a browser can `import(url)` directly; Node cannot import http URLs and
 * fetches the text first.
 */
import type { ModuleRef } from './interfaces.js';

/** Imports the module at `url` and resolves with its namespace. */
export type ModuleImporter = (url: string, ref: ModuleRef) => Promise<Record<string, unknown>>;

/** An uploaded module could not be loaded, or lacks the export a task names. */
export class ModuleError extends Error {
  override readonly name = 'ModuleError';
}

/** The scheduler's HTTP origin for a WebSocket address: ws→http, wss→https, same host and port. */
export function httpBaseOf(schedulerAddress: string): string {
  const url = new URL(schedulerAddress);
  if (url.protocol === 'ws:') url.protocol = 'http:';
  else if (url.protocol === 'wss:') url.protocol = 'https:';
  else if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`not a scheduler address: '${schedulerAddress}'`);
  return url.origin;
}

/** Where the scheduler serves one version of a module: `<base>/modules/<name>.mjs?v=<hash>`. */
export function moduleUrl(httpBase: string, ref: ModuleRef): string {
  return `${httpBase}/modules/${encodeURIComponent(ref.name)}.mjs?v=${encodeURIComponent(ref.hash)}`;
}

/**
 * Module namespaces by (name, hash): each version is imported once per thread, concurrent asks
 * share the import, and a failed import is forgotten so a later task retries it. Not bounded:
 * an imported module stays in the runtime's module map whatever this cache does.
 */
export class ModuleCache {
  private readonly namespaces = new Map<string, Promise<Record<string, unknown>>>();

  constructor(
    private readonly httpBase: string | undefined,
    private readonly importer: ModuleImporter,
  ) {}

  load(ref: ModuleRef): Promise<Record<string, unknown>> {
    const id = `${ref.name}\n${ref.hash}`;
    const cached = this.namespaces.get(id);
    if (cached) return cached;
    const loading = this.importOnce(ref);
    this.namespaces.set(id, loading);
    loading.catch(() => this.namespaces.delete(id));
    return loading;
  }

  /** The export `name` of a module, which must be a function. */
  async exportOf(ref: ModuleRef, name: string): Promise<(...args: unknown[]) => unknown> {
    const ns = await this.load(ref);
    const value = Object.prototype.hasOwnProperty.call(ns, name) ? ns[name] : undefined;
    if (value === undefined) {
      const names = Object.keys(ns).sort();
      const known = names.length > 0 ? `its exports: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''}` : 'it exports nothing';
      throw new ModuleError(`module '${ref.name}' (version ${ref.hash}) has no export '${name}'; ${known}`);
    }
    if (typeof value !== 'function') throw new ModuleError(`export '${name}' of module '${ref.name}' is a ${typeof value}, not a function`);
    return value as (...args: unknown[]) => unknown;
  }

  private async importOnce(ref: ModuleRef): Promise<Record<string, unknown>> {
    if (this.httpBase === undefined) throw new ModuleError(`module '${ref.name}': this worker does not know where the scheduler serves modules`);
    const url = moduleUrl(this.httpBase, ref);
    try {
      return await this.importer(url, ref);
    } catch (e) {
      throw new ModuleError(`could not load module '${ref.name}' (version ${ref.hash}) from ${url}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, { cause: e });
    }
  }
}
