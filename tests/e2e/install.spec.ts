// A new user's install, as from the registry: every public package packed with `npm pack`, the
// tarballs installed into an empty folder outside the repository (no workspace links), then
// `npx meshwork scheduler` and `npx meshwork worker` started from there, the pages served from the
// installed package, and /join opened in Chromium: the tab joins and computes for a client script
// that imports the installed client. TypeScript and CommonJS users are checked in the same folder.
// Needs `npm run build` (the packages are packed as built, pages included).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, test } from '@playwright/test';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Packing six packages and installing them with their dependencies (from npm's cache when it has them), in milliseconds. */
const INSTALL_TIMEOUT_MS = 240_000;
/** How long a tab may take to join, in milliseconds. */
const JOIN_TIMEOUT_MS = 20_000;

let dir: string;
let app: string;
const processes: ChildProcess[] = [];

/** The workspaces npm would publish (those not marked private). */
function publicWorkspaces(): string[] {
  const { workspaces } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
  return workspaces.filter(
    (ws) => !(JSON.parse(readFileSync(join(ROOT, ws, 'package.json'), 'utf8')) as { private?: boolean }).private,
  );
}

/** Starts `npx meshwork <args>` in the app folder; resolves with the child and the first stdout line matching `pattern`. */
async function meshwork(args: string[], pattern: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn('npx', ['--no-install', 'meshwork', ...args], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
  processes.push(child);
  let out = '';
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`meshwork ${args[0]} printed no ${pattern}: ${out}`)), 30_000);
    const read = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = pattern.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve(m);
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.once('exit', (code) => reject(new Error(`meshwork ${args[0]} exited (${code}): ${out}`)));
  });
  return { child, match };
}

test.beforeAll(async () => {
  test.setTimeout(INSTALL_TIMEOUT_MS);
  dir = mkdtempSync(join(tmpdir(), 'meshwork-install-'));
  const tarballs = join(dir, 'tarballs');
  app = join(dir, 'app');
  mkdirSync(tarballs);
  mkdirSync(app);
  for (const ws of publicWorkspaces())
    await run('npm', ['pack', '--silent', '--workspace', ws, '--pack-destination', tarballs], { cwd: ROOT });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'my-app', private: true, type: 'module' }));
  const files = readdirSync(tarballs).map((f) => join(tarballs, f));
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...files, '@types/node@20'], {
    cwd: app,
  });
});

test.afterAll(() => {
  for (const child of processes) child.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('installed from the packed tarballs into an empty folder: the scheduler serves the pages, a tab joins and computes', async ({
  page,
}) => {
  // The packages are real copies in the app folder, not links back into the repository.
  for (const name of ['client', 'server', 'protocol', 'web-worker']) {
    expect(realpathSync(join(app, 'node_modules/@meshwork', name)).startsWith(realpathSync(app))).toBe(true);
  }
  const scheduler = await meshwork(
    ['scheduler', '--port', '0'],
    /scheduler at (ws:\/\/\S+)[\s\S]*dashboard\s+(http:\/\/\S+)\//,
  );
  const [, address, httpUrl] = scheduler.match as unknown as [string, string, string];
  for (const path of ['/', '/join', '/mandelbrot', '/montecarlo', '/tree']) {
    const res = await fetch(`${httpUrl}${path}`);
    expect(res.status, `${path}`).toBe(200);
    expect(await res.text(), `${path}`).toContain('<script type="module"');
  }
  await meshwork(['worker', address, '--name', 'installed-node'], /joined|connected/i);

  page.on('pageerror', (e) => expect(e.message, 'an uncaught error on the join page').toBe(''));
  await page.goto(`${httpUrl}/join?threads=1&name=installed-tab`);
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'connected', { timeout: JOIN_TIMEOUT_MS });

  writeFileSync(
    join(app, 'run.mjs'),
    `import { Client } from '@meshwork/client';
const client = await Client.connect(process.argv[2]);
const { workers } = await (await fetch(process.argv[3] + '/api/state')).json();
const on = (kind) => client.with({ workers: workers.filter((w) => w.kind === kind).map((w) => w.id), allowOtherWorkers: false });
const square = (x) => x * x;
const tab = await client.gather(on('browser').map(square, [1, 2, 3]));
const node = await client.gather(on('node').map(square, [4, 5]));
console.log(JSON.stringify({ tab, node, kinds: workers.map((w) => w.kind).sort() }));
await client.close();
`,
  );
  const { stdout } = await run(process.execPath, ['run.mjs', address, httpUrl], { cwd: app, timeout: 60_000 });
  expect(JSON.parse(stdout)).toEqual({ tab: [1, 4, 9], node: [16, 25], kinds: ['browser', 'node'] });
  await expect(page.locator('#tasks-done')).toHaveText('3');
});

test('the installed packages type-check in a TypeScript project and load with require()', async () => {
  writeFileSync(
    join(app, 'check.ts'),
    `import { Client, RemoteError, type Future } from '@meshwork/client';
import { LocalCluster } from '@meshwork/server';
export async function sum(): Promise<number> {
  const cluster: LocalCluster = await LocalCluster.start({ workers: 1 });
  const client = await Client.connect(cluster.address);
  const f: Future<number> = client.submit((a: number, b: number) => a + b, 1, 2);
  try {
    return await f.result();
  } catch (e) {
    if (e instanceof RemoteError) throw new Error(e.message);
    throw e;
  } finally {
    await client.close();
    await cluster.close();
  }
}
`,
  );
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const flags = [
    '--noEmit',
    '--strict',
    '--target',
    'es2022',
    '--module',
    'nodenext',
    '--moduleResolution',
    'nodenext',
    '--types',
    'node',
  ];
  await run(process.execPath, [tsc, ...flags, 'check.ts'], { cwd: app });
  writeFileSync(
    join(app, 'check.cjs'),
    `const { Client } = require('@meshwork/client');
const { LocalCluster } = require('@meshwork/server');
console.log(typeof Client.connect, typeof LocalCluster.start);
`,
  );
  const { stdout } = await run(process.execPath, ['check.cjs'], { cwd: app });
  expect(stdout.trim()).toBe('function function');
});
