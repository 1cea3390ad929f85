/**
 * Uploaded modules (`client.upload(name, source)`), runtime-free: where the scheduler serves them,
 * the host's cache of their sources, and a per-thread cache of their namespaces.
 *
 * The host (the worker's main process, or the page of a browser worker) fetches a module's source
 * with its own token (`ModuleSources`) and sends the text to a thread with the first task that
 * needs it; the thread imports that text (`ModuleImporter`: from a `data:` URL in Node, a `blob:`
 * URL in browsers). So no token or credential ever reaches a thread, where task code could read
 * it, and both runtimes resolve a module's own imports alike: absolute URLs and built-ins only.
 */
import { MAX_CACHED_MODULE_SOURCES, MODULE_FETCH_TIMEOUT_MS } from '../constants.js';
import type { ModuleRef } from './interfaces.js';

/** Imports a module from its source text and resolves with its namespace. */
export type ModuleImporter = (source: string, ref: ModuleRef) => Promise<Record<string, unknown>>;

/** An uploaded module could not be loaded, or lacks the export a task names. */
export class ModuleError extends Error {
  override readonly name = 'ModuleError';
}

/** The scheduler's HTTP origin for a WebSocket address: ws→http, wss→https, same host and port. */
export function httpBaseOf(schedulerAddress: string): string {
  const url = new URL(schedulerAddress);
  if (url.protocol === 'ws:') url.protocol = 'http:';
  else if (url.protocol === 'wss:') url.protocol = 'https:';
  else if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError(`not a scheduler address: '${schedulerAddress}'`);
  return url.origin;
}

/** Where the scheduler serves one version of a module: `<base>/modules/<name>.mjs?v=<hash>`. */
export function moduleUrl(httpBase: string, ref: ModuleRef): string {
  return `${httpBase}/modules/${encodeURIComponent(ref.name)}.mjs?v=${encodeURIComponent(ref.hash)}`;
}

/**
 * The host's module sources by (name, hash), fetched from the scheduler with the host's token
 * (`Authorization: Bearer`, bounded by MODULE_FETCH_TIMEOUT_MS). Concurrent asks share a fetch; a
 * failed one is forgotten so a later task retries it; past MAX_CACHED_MODULE_SOURCES versions the
 * least recently used is fetched again on demand.
 */
export class ModuleSources {
  private readonly sources = new Map<string, Promise<string>>();

  constructor(
    /** The scheduler's HTTP origin (`httpBaseOf`); undefined: this host cannot load modules. */
    private readonly httpBase: string | undefined,
    private readonly token: string | undefined,
    private readonly fetchImpl: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  /** The source of one version of a module; rejects with a ModuleError. */
  get(ref: ModuleRef): Promise<string> {
    const id = `${ref.name}\n${ref.hash}`;
    const cached = this.sources.get(id);
    if (cached) {
      this.sources.delete(id);
      this.sources.set(id, cached);
      return cached;
    }
    const loading = this.fetchOnce(ref);
    this.sources.set(id, loading);
    loading.catch(() => {
      if (this.sources.get(id) === loading) this.sources.delete(id);
    });
    if (this.sources.size > MAX_CACHED_MODULE_SOURCES) {
      const oldest = this.sources.keys().next();
      if (!oldest.done) this.sources.delete(oldest.value);
    }
    return loading;
  }

  private async fetchOnce(ref: ModuleRef): Promise<string> {
    if (this.httpBase === undefined)
      throw new ModuleError(`module '${ref.name}': this worker does not know where the scheduler serves modules`);
    const url = moduleUrl(this.httpBase, ref);
    try {
      const headers: Record<string, string> = {};
      if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
      const res = await this.fetchImpl(url, { headers, signal: AbortSignal.timeout(MODULE_FETCH_TIMEOUT_MS) });
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      // The scheduler serves a module's latest upload whatever `?v=` asks; its ETag names that version.
      const etag = res.headers.get('etag');
      if (etag !== null && etag.replace(/^W\//, '') !== `"${ref.hash}"`) {
        throw new Error(
          `the scheduler now serves version ${etag} of it (uploaded again since this task was submitted)`,
        );
      }
      return await res.text();
    } catch (e) {
      throw new ModuleError(
        `could not load module '${ref.name}' (version ${ref.hash}) from ${url}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
        { cause: e },
      );
    }
  }
}

/**
 * A thread's module namespaces by (name, hash): each version is imported once per thread, from
 * the source its host sent with the task; concurrent asks share the import, and a failed import
 * is forgotten so a later task retries it. Not bounded: an imported module stays in the runtime's
 * module map whatever this cache does.
 */
export class ModuleCache {
  private readonly namespaces = new Map<string, Promise<Record<string, unknown>>>();

  constructor(private readonly importer: ModuleImporter) {}

  /** A module's namespace: imported from `source` unless this thread has it already. */
  load(ref: ModuleRef, source: string | undefined): Promise<Record<string, unknown>> {
    const id = `${ref.name}\n${ref.hash}`;
    const cached = this.namespaces.get(id);
    if (cached) return cached;
    const loading = this.importOnce(ref, source);
    this.namespaces.set(id, loading);
    loading.catch(() => this.namespaces.delete(id));
    return loading;
  }

  /** The export `name` of a module, which must be a function. */
  async exportOf(ref: ModuleRef, name: string, source: string | undefined): Promise<(...args: unknown[]) => unknown> {
    const ns = await this.load(ref, source);
    const value = Object.prototype.hasOwnProperty.call(ns, name) ? ns[name] : undefined;
    if (value === undefined) {
      const names = Object.keys(ns).sort();
      const known =
        names.length > 0
          ? `its exports: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''}`
          : 'it exports nothing';
      throw new ModuleError(`module '${ref.name}' (version ${ref.hash}) has no export '${name}'; ${known}`);
    }
    if (typeof value !== 'function')
      throw new ModuleError(`export '${name}' of module '${ref.name}' is a ${typeof value}, not a function`);
    return value as (...args: unknown[]) => unknown;
  }

  private async importOnce(ref: ModuleRef, source: string | undefined): Promise<Record<string, unknown>> {
    if (source === undefined)
      throw new ModuleError(`module '${ref.name}' (version ${ref.hash}): its source was not sent to this thread`);
    try {
      return await this.importer(source, ref);
    } catch (e) {
      throw new ModuleError(`could not import module '${ref.name}' (version ${ref.hash}): ${importFailure(e)}`, {
        cause: e,
      });
    }
  }
}

/** Where a module was imported from (a `data:` or `blob:` URL), which says nothing to a user. */
const IMPORTED_FROM = /\s*(?:imported )?from ['"]?(?:data:[^\s'"]*|blob:[^\s'"]*)['"]?/g;
/** A bare import the runtime could not resolve (Node, Chromium, Firefox say it each their way). */
const UNRESOLVED = /Cannot find (?:package|module)|Failed to resolve module specifier|bare specifier/i;

/** Why an import failed, without the module's URL, and with the way out when an import was left unbundled. */
function importFailure(e: unknown): string {
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const said = text.replace(IMPORTED_FROM, '').replace(/\.+$/, '');
  if (!UNRESOLVED.test(said)) return said;
  return `${said}. Workers resolve no packages: an uploaded module must be one file with its imports bundled in (client.uploadPackage('<package>') bundles one)`;
}
