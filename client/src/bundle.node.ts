/**
 * `client.uploadPackage` in Node: esbuild bundles an npm package, or a file with everything it
 * imports, into one ES module for every worker, Node processes and browser tabs alike. It is built
 * for browsers (the stricter of the two): no bare import and no Node built-in is left in it, so a
 * package that needs Node's own modules is refused here, with esbuild's reasons, not on a worker.
 */
import { isAbsolute, resolve } from 'node:path';
import { GraphError } from '@meshwork/protocol';

/** The source of one ES module holding `specifier` (a package name, or a path to a file) and all it imports. */
export async function bundleModule(specifier: string, resolveFrom: string = process.cwd()): Promise<string> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (e) {
    throw new GraphError(`uploadPackage bundles with esbuild, which did not load: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const isFile = specifier.startsWith('.') || isAbsolute(specifier);
  const build = (contents: string | undefined) =>
    esbuild.build({
      ...(contents === undefined
        ? { entryPoints: [resolve(resolveFrom, specifier)] }
        : { stdin: { contents, resolveDir: resolveFrom, loader: 'js' as const } }),
      absWorkingDir: resolveFrom,
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      keepNames: true,
      logLevel: 'silent',
    });
  const name = JSON.stringify(specifier);
  try {
    if (isFile) return textOf(await build(undefined));
    // A package's default export, when it has one (a CommonJS package's module.exports), and its named ones.
    try {
      return textOf(await build(`export * from ${name};\nexport { default } from ${name};\n`));
    } catch (e) {
      if (!messagesOf(e).some((m) => m.includes('No matching export') && m.includes('"default"'))) throw e;
      return textOf(await build(`export * from ${name};\n`));
    }
  } catch (e) {
    const reasons = messagesOf(e);
    throw new GraphError(
      `uploadPackage: could not bundle ${name} (from ${resolveFrom}) into one module for the workers: ${reasons.length > 0 ? reasons.slice(0, 5).join('; ') : (e as Error).message}`,
      { cause: e },
    );
  }
}

function textOf(result: { outputFiles?: { text: string }[] }): string {
  const [out] = result.outputFiles ?? [];
  if (!out) throw new GraphError('uploadPackage: esbuild produced no output');
  return out.text;
}

/** esbuild's error texts, deduplicated (one per unresolved import). */
function messagesOf(e: unknown): string[] {
  const errors = (e as { errors?: { text: string }[] }).errors ?? [];
  return [...new Set(errors.map((x) => x.text))];
}
