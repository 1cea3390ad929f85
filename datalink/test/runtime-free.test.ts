// datalink/src (its runtime-free entry) runs unchanged in a page: typecheck it with the DOM lib and without
// @types/node, so a Node-only API (Timeout.refresh, Buffer, process…) fails here and not in a tab.
// The *.node.ts adapters are reachable only from node.ts and are left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC_TIMEOUT_MS = 50_000;

test('the data plane typechecks as browser code (DOM lib, no Node types)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshwork-datalink-'));
  try {
    const config = {
      extends: join(ROOT, 'tsconfig.base.json'),
      compilerOptions: {
        noEmit: true,
        composite: false,
        declaration: false,
        declarationMap: false,
        lib: ['ES2022', 'DOM'],
        types: [],
        rootDir: ROOT,
      },
      files: [join(ROOT, 'datalink/src/index.ts')],
    };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config));
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(
        process.execPath,
        [tsc, '-p', join(dir, 'tsconfig.json')],
        { timeout: TSC_TIMEOUT_MS },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, out: `${stdout}${stderr}` }),
      );
    });
    assert.equal(result.code, 0, result.out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
