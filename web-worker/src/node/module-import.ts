/**
 * Node's ModuleImporter: the source its host sent is imported from a `data:` URL (Node cannot
 * `import()` an http URL): nothing to clean up, and the module may import Node built-ins and
 * absolute URLs Node can load, but not relative paths or packages.
 */
import type { ModuleImporter } from '../core/modules.js';

export const importModuleSource: ModuleImporter = async (source) =>
  (await import(`data:text/javascript;base64,${Buffer.from(source, 'utf8').toString('base64')}`)) as Record<string, unknown>;
