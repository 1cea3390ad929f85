/** The thread pool's uploaded modules, task global and secede growth. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { decodeValue, encodeValue, hashString } from '@meshwork/protocol';
import type { Job, Outcome } from '../src/core/interfaces.js';
import { ModuleSources } from '../src/core/modules.js';
import { ThreadPool } from '../src/node/thread-pool.js';

const KERNELS = `
export function double(x) { return x * 2; }
export const scale = async (x, k) => x * k;
export const notAFunction = 42;
`;
const OTHER = 'export const one = () => 1;';
const hits = new Map<string, number>();
/** The Authorization header of each module fetch. */
const authorizations: (string | undefined)[] = [];
/** In this process's environment, as a worker started by LocalCluster has it: threads must not inherit it. */
process.env.MESHWORK_WORKER_TOKEN = 'env-token-77c1';
let http: Server;
let base: string;
let pool: ThreadPool;
const clientModule = new URL('./fake-task-client.ts', import.meta.url).href;

before(async () => {
  http = createServer((req, res) => {
    const url = req.url ?? '';
    hits.set(url, (hits.get(url) ?? 0) + 1);
    authorizations.push(req.headers.authorization);
    if (url.startsWith('/modules/kernels.mjs')) res.writeHead(200, { etag: `"${hashString(KERNELS)}"` }).end(KERNELS);
    else if (url.startsWith('/modules/other.mjs')) res.writeHead(200, { etag: `"${hashString(OTHER)}"` }).end(OTHER);
    else res.writeHead(404).end('no');
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
  pool = await ThreadPool.start({ threads: 1, threadData: { scheduler: 'ws://127.0.0.1:1', clientModule }, modules: new ModuleSources(base, 'host-token-3f9a') });
});
after(async () => {
  await pool.close();
  http.close();
});

let n = 0;
function job(source: string, args: unknown[], module?: { name: string; hash: string }, capability?: string): Job {
  n++;
  return { key: `k-${n}`, fn: `fn-${n}`, fnName: source, source, module, capability, args: encodeValue(args).bytes, deps: new Map() };
}
const run = (j: Job, hooks = {}): Promise<Outcome> => pool.run(j, new AbortController().signal, hooks);
function value(o: Outcome): unknown {
  if (!o.ok) assert.fail(`task erred: ${o.error.name}: ${o.error.message}`);
  return decodeValue(o.bytes);
}
function error(o: Outcome) {
  if (o.ok) assert.fail('task should have erred');
  return o.error;
}

test('a module export runs as the task function; the host fetches the module once per version, with its token', async () => {
  const kernels = { name: 'kernels', hash: hashString(KERNELS) };
  assert.equal(value(await run(job('double', [21], kernels))), 42);
  assert.equal(value(await run(job('scale', [3, 5], kernels))), 15);
  assert.equal(hits.get(`/modules/kernels.mjs?v=${kernels.hash}`), 1);
  assert.deepEqual(authorizations, ['Bearer host-token-3f9a']);
});

test('a thread holds no token: not in workerData, process.env, globals, nor in what a module import fetches', async () => {
  const look = `async () => {
    const { workerData } = await import('node:worker_threads');
    const seen = (globalThis.seenFetches = []);
    const realFetch = globalThis.fetch;
    globalThis.fetch = (url, init) => { seen.push([String(url), init ?? null]); return realFetch(url, init); };
    return JSON.stringify([workerData, process.env, Object.keys(globalThis)]);
  }`;
  const looked = value(await run(job(look, []))) as string;
  assert.ok(looked.includes('ws://127.0.0.1:1'), 'the task did read workerData');
  // With fetch patched in the thread, a module the thread lacks is loaded: its source comes as text.
  const other = { name: 'other', hash: hashString(OTHER) };
  assert.equal(value(await run(job('one', [], other))), 1);
  assert.equal(hits.get(`/modules/other.mjs?v=${other.hash}`), 1, 'the host fetched it');
  const fetched = JSON.stringify(value(await run(job('() => globalThis.seenFetches', []))));
  assert.equal(fetched, '[]', 'the thread fetched nothing');
  for (const secret of ['host-token-3f9a', 'env-token-77c1']) assert.ok(!looked.includes(secret), `the task saw ${secret}`);
});

test('a missing export, a non-function export, a missing module and a replaced version give clear ModuleErrors', async () => {
  const kernels = { name: 'kernels', hash: hashString(KERNELS) };
  const missing = error(await run(job('triple', [1], kernels)));
  assert.equal(missing.code, 'REMOTE_ERROR');
  assert.equal(missing.name, 'ModuleError');
  assert.match(missing.message, /^module 'kernels' \(version [0-9a-f]+\) has no export 'triple'; its exports: double, notAFunction, scale$/);
  assert.match(error(await run(job('notAFunction', [], kernels))).message, /export 'notAFunction' of module 'kernels' is a number, not a function/);
  const gone = error(await run(job('f', [], { name: 'nope', hash: 'h' })));
  assert.match(gone.message, /could not load module 'nope' \(version h\) from http:\/\/127\.0\.0\.1:\d+\/modules\/nope\.mjs\?v=h: Error: HTTP 404/);
  const stale = error(await run(job('double', [1], { name: 'kernels', hash: 'old' })));
  assert.match(stale.message, /uploaded again/);
});

test('the task global loads the client module only when a task calls meshwork.client(); it connects with the running task capability', async () => {
  const installs = `async () => (await import(${JSON.stringify(clientModule)})).installs`;
  const stub = `() => typeof globalThis['mesh' + 'work'].client`;
  assert.equal(value(await run(job(stub, []))), 'function', 'a stub is there before loading');
  // Source text decides nothing: naming the global (as a path or a word may) loads nothing.
  const names = `() => ['meshwork', '/home/me/meshwork/x.mjs', typeof globalThis.meshwork.client]`;
  assert.deepEqual(value(await run(job(names, []))), ['meshwork', '/home/me/meshwork/x.mjs', 'function']);
  assert.deepEqual(value(await run(job(installs, []))), [], 'a task that does not call the global loads nothing');
  // The first call stops the task; it runs again from its start once the client has loaded.
  const viaStub = `async () => { globalThis.__runs = (globalThis.__runs ?? 0) + 1; const c = await globalThis['mesh' + 'work'].client(); return [typeof c.sleep, globalThis.__runs]; }`;
  assert.deepEqual(value(await run(job(viaStub, []))), ['function', 2]);
  const uses = `async () => { const c = globalThis.meshwork.client(); return [typeof c.sleep, c.capability, (await import(${JSON.stringify(clientModule)})).installs]; }`;
  assert.deepEqual(
    value(await run(job(uses, [], undefined, 'cap-a'))),
    ['function', 'cap-a', [{ address: 'ws://127.0.0.1:1', options: ['address', 'capability', 'onWait'] }]],
    'loaded once, with no token',
  );
  const capability = `() => globalThis.meshwork.client().capability ?? null`;
  assert.equal(value(await run(job(capability, [], undefined, 'cap-b'))), 'cap-b', 'each task its own');
  assert.equal(value(await run(job(capability, []))), null, "none left from an earlier task");
});

test('a waiting task gives its slot away: the pool grows by one thread, then shrinks back', async () => {
  const waits: boolean[] = [];
  const sleeper = `async (ms) => { await globalThis.meshwork.client().sleep(ms); return 'slept'; }`;
  const slow = run(job(sleeper, [1_500]), { onWait: (w: boolean) => waits.push(w) });
  // Wait until it has seceded, then run another job on this one-thread pool.
  for (let i = 0; i < 200 && waits.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(waits, [true]);
  const quick = await run(job('(x) => x + 1', [1]));
  assert.equal(value(quick), 2);
  assert.equal(quick.ok && quick.thread, 1, 'ran on the extra thread');
  assert.equal(pool.size, 2);
  const done = await slow;
  assert.equal(value(done), 'slept');
  assert.deepEqual(waits, [true, false]);
  assert.equal(pool.size, 1, 'the extra thread stopped once a thread came free');
  assert.equal(value(await run(job('() => 7', []))), 7);
});
