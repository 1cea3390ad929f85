/**
 * Uploaded modules: `client.upload(name, source)` stores the module on the scheduler (served to
 * every worker) and returns a handle; `mod.fn('exportName')` is a stand-in for that export, used
 * wherever a task function goes (`submit`, `map`, `run`, `get`). It travels as a FunctionSpec
 * `{ id, name: exportName, source: exportName, module: { name, hash } }`; its id hashes the
 * module's name, hash and the export, so pure keys change when the module changes.
 */
import { GraphError, MAX_MODULE_SOURCE_LENGTH, SerializationError, functionId } from '@meshwork/protocol';
import type { ClientCore } from './core.js';
import { NO_BUNDLER } from './platform.js';
import type { WaitOptions } from './deadline.js';
import { registerFunctionSpec, type FunctionSpec } from './tasks.js';

/** Module names the scheduler accepts (it serves `/modules/<name>.mjs`). */
const MODULE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** An export name: an identifier (or `default`). */
const EXPORT_NAME = /^[A-Za-z_$][\w$]*$/;

/** A stand-in for an export of an uploaded module; calling it here throws (it runs on workers). */
export type ModuleFunction<A extends readonly unknown[] = unknown[], R = unknown> = ((...args: A) => R) & {
  readonly module: { readonly name: string; readonly hash: string };
  readonly exportName: string;
};

export interface ModuleHandle {
  /** The name it was uploaded under. */
  readonly name: string;
  /** The scheduler's hash of this version of the source. */
  readonly hash: string;
  /** The export `exportName`, usable as a task function: `client.submit(mod.fn('f'), 1)`. */
  fn<A extends readonly unknown[] = unknown[], R = unknown>(exportName: string): ModuleFunction<A, R>;
}

export async function upload(
  core: ClientCore,
  name: string,
  source: string,
  options: WaitOptions,
): Promise<ModuleHandle> {
  if (typeof name !== 'string' || !MODULE_NAME.test(name))
    throw new GraphError(`upload: the module name must match ${String(MODULE_NAME)}, got ${JSON.stringify(name)}`);
  if (typeof source !== 'string')
    throw new SerializationError(`source: module source must be a string, got ${typeof source}`, 'source');
  if (source.length > MAX_MODULE_SOURCE_LENGTH)
    throw new SerializationError(`source: ${source.length} characters is over ${MAX_MODULE_SOURCE_LENGTH}`, 'source');
  const unusable = core.unusable;
  if (unusable) throw unusable;
  const reply = await core.requests.ask(
    (id) => ({ type: 'upload', id, name, source }),
    'upload-reply',
    `the upload of module '${name}'`,
    options,
  );
  return moduleHandle(reply.name, reply.hash);
}

export interface UploadPackageOptions extends WaitOptions {
  /** The module's name on the scheduler; default: made from the package's name (or the file's). */
  name?: string;
  /** Where the package is resolved from, as an `import` there would; default: the working directory. */
  resolveFrom?: string;
}

/**
 * Bundles an npm package (or a file, `./…` or absolute, with what it imports) into one ES module
 * on this machine and uploads it: `(await client.uploadPackage('fflate')).fn('gzipSync')` runs on
 * Node workers and tabs alike, none of which needs the package installed. Node only.
 */
export async function uploadPackage(
  core: ClientCore,
  specifier: string,
  options: UploadPackageOptions,
): Promise<ModuleHandle> {
  if (typeof specifier !== 'string' || specifier.length === 0)
    throw new GraphError(`uploadPackage: give a package name or a file path, got ${JSON.stringify(specifier)}`);
  if (!core.platform.bundleModule) throw new GraphError(NO_BUNDLER);
  const name = options.name ?? moduleNameOf(specifier);
  if (!MODULE_NAME.test(name))
    throw new GraphError(
      `uploadPackage: the module name must match ${String(MODULE_NAME)}, got ${JSON.stringify(name)}`,
    );
  const source = await core.platform.bundleModule(specifier, options.resolveFrom);
  return upload(core, name, source, options);
}

/** `fflate` → `fflate`, `@scope/pkg/sub` → `scope-pkg-sub`, `./lib/tasks.js` → `tasks`. */
function moduleNameOf(specifier: string): string {
  const base =
    /^[./]/.test(specifier) || /^[A-Za-z]:[\\/]/.test(specifier)
      ? (specifier.split(/[\\/]/).pop() ?? '').replace(/\.[^.]*$/, '')
      : specifier;
  return (
    base
      .replace(/^@/, '')
      .replace(/[^A-Za-z0-9_-]+/g, '-')
      .slice(0, 64) || 'module'
  );
}

export function moduleHandle(name: string, hash: string): ModuleHandle {
  const fns = new Map<string, ModuleFunction>();
  return {
    name,
    hash,
    fn<A extends readonly unknown[] = unknown[], R = unknown>(exportName: string): ModuleFunction<A, R> {
      if (typeof exportName !== 'string' || !EXPORT_NAME.test(exportName))
        throw new GraphError(`${name}.fn: the export name must be an identifier, got ${JSON.stringify(exportName)}`);
      let stand = fns.get(exportName);
      if (!stand) {
        stand = moduleFunction(name, hash, exportName);
        fns.set(exportName, stand);
      }
      return stand as unknown as ModuleFunction<A, R>;
    },
  };
}

function moduleFunction(name: string, hash: string, exportName: string): ModuleFunction {
  const spec: FunctionSpec = {
    id: functionId(exportName, { name, hash }),
    name: exportName,
    source: exportName,
    module: { name, hash },
  };
  const stand = function (): never {
    throw new GraphError(
      `${name}.${exportName} is an export of an uploaded module: it runs on workers (submit, map, run), not here`,
    );
  };
  Object.defineProperties(stand, {
    name: { value: exportName },
    module: { value: Object.freeze({ name, hash }), enumerable: true },
    exportName: { value: exportName, enumerable: true },
  });
  registerFunctionSpec(stand, spec);
  return stand as unknown as ModuleFunction;
}
