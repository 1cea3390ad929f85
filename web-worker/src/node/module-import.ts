/**
 * Node's ModuleImporter. Node cannot `import()` an http URL, so the source is fetched (bounded by
 * MODULE_FETCH_TIMEOUT_MS) and imported from a `data:` URL: nothing to clean up, and the module
 * may import Node built-ins and absolute URLs Node can load, but not relative paths or packages.
 */
import { MODULE_FETCH_TIMEOUT_MS } from '../constants.js';
import type { ModuleImporter } from '../core/modules.js';

export function httpModuleImporter(token?: string): ModuleImporter {
  return async (url, ref) => {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(MODULE_FETCH_TIMEOUT_MS) });
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    // The scheduler serves a module's latest upload whatever `?v=` asks; its ETag names that version.
    const etag = res.headers.get('etag');
    if (etag !== null && etag.replace(/^W\//, '') !== `"${ref.hash}"`) {
      throw new Error(`the scheduler now serves version ${etag} of it (uploaded again since this task was submitted)`);
    }
    const text = await res.text();
    return (await import(`data:text/javascript;base64,${Buffer.from(text, 'utf8').toString('base64')}`)) as Record<string, unknown>;
  };
}
