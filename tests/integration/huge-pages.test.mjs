// The Node processes meshwork starts run with transparent huge pages and reused memory on Linux
// with glibc (GLIBC_TUNABLES=glibc.malloc.hugetlb=1 and the rest of MEMORY_TUNABLES, appended to
// what is there): LocalCluster's workers, and `meshwork worker` and `meshwork scheduler` (which
// start themselves again with them). A task reports what its worker's
// environment holds (threads get a copy of it, tokens removed). /proc/PID/environ shows only the
// first tunable: glibc cuts that copy of the variable short when it parses several.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import { MEMORY_TUNABLES, isLinuxGlibc } from '@meshwork/web-worker/node';
import { cliPath, eventually, getJson, run } from './helpers.mjs';

const skip = isLinuxGlibc() ? false : 'only Linux with glibc reads GLIBC_TUNABLES';
/** A tunable already set, harmless (glibc's default), which must survive. */
const EXISTING = 'glibc.malloc.tcache_count=7';
const tunables = () => process.env.GLIBC_TUNABLES;
const ALL = MEMORY_TUNABLES.join(':');
/** The processes `pid` started (a CLI that starts itself again with the tunables has one). */
const childrenOf = (pid) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

/** `process.env` for the duration of `body`, with GLIBC_TUNABLES and MESHWORK_HUGE_PAGES as given. */
async function withEnv(vars, body) {
  const saved = { GLIBC_TUNABLES: process.env.GLIBC_TUNABLES, MESHWORK_HUGE_PAGES: process.env.MESHWORK_HUGE_PAGES };
  for (const [k, v] of Object.entries(vars)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  try {
    return await body();
  } finally {
    for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  }
}

let scheduler;
let client;
before(async () => {
  scheduler = await LocalCluster.start({ workers: 0 });
  client = await Client.connect(scheduler.address);
});
after(async () => {
  await client?.close();
  await scheduler?.close();
});

test("LocalCluster's worker processes run with the huge-pages tunable, added to GLIBC_TUNABLES", { skip }, async () => {
  const cluster = await withEnv({ GLIBC_TUNABLES: EXISTING, MESHWORK_HUGE_PAGES: undefined }, () =>
    LocalCluster.start({ workers: 1 }),
  );
  const c = await Client.connect(cluster.address);
  try {
    assert.equal(await c.submit(tunables).result(), `${EXISTING}:${ALL}`);
    const [worker] = cluster.processes;
    assert.deepEqual(childrenOf(worker.pid), [], 'LocalCluster gave them: the worker did not need to start itself again');
  } finally {
    await c.close();
    await cluster.close();
  }
});

test('with no GLIBC_TUNABLES, the worker process starts with the memory tunables alone', { skip }, async () => {
  const cluster = await withEnv({ GLIBC_TUNABLES: undefined, MESHWORK_HUGE_PAGES: undefined }, () =>
    LocalCluster.start({ workers: 1 }),
  );
  const c = await Client.connect(cluster.address);
  try {
    const [worker] = cluster.processes;
    const environ = readFileSync(`/proc/${worker.pid}/environ`, 'utf8').split('\0');
    assert.ok(environ.includes(`GLIBC_TUNABLES=${MEMORY_TUNABLES[0]}`), 'the process itself started with them');
    assert.equal(await c.submit(tunables).result(), ALL);
  } finally {
    await c.close();
    await cluster.close();
  }
});

test('MESHWORK_HUGE_PAGES=0 leaves GLIBC_TUNABLES alone', { skip }, async () => {
  const cluster = await withEnv({ GLIBC_TUNABLES: undefined, MESHWORK_HUGE_PAGES: '0' }, () =>
    LocalCluster.start({ workers: 1 }),
  );
  const c = await Client.connect(cluster.address);
  try {
    assert.equal(await c.submit(tunables).result(), undefined);
  } finally {
    await c.close();
    await cluster.close();
  }
});

/** Starts `meshwork worker` with `env`, waits for it to join, returns what its tasks see and the process. */
async function cliWorker(name, env) {
  const worker = run(process.execPath, [cliPath, 'worker', scheduler.address, '--threads', '1', '--name', name], {
    env,
  });
  await eventually(async () => (await getJson(`${scheduler.httpUrl}/api/state`)).workers.some((w) => w.name === name), {
    what: `${name} joined`,
    timeoutMs: 30_000,
  });
  const seen = await client
    .with({ workers: [name], pure: false })
    .submit(tunables)
    .result();
  return { seen, worker };
}

test(
  '`meshwork worker` starts itself again with the tunable, once; it stops on SIGTERM like before',
  { skip },
  async () => {
    const env = { ...process.env, GLIBC_TUNABLES: EXISTING };
    delete env.MESHWORK_HUGE_PAGES;
    const { seen, worker } = await cliWorker('cli-huge', env);
    try {
      assert.equal(seen, `${EXISTING}:${ALL}`);
      assert.equal(
        readFileSync(`/proc/${worker.child.pid}/environ`, 'utf8')
          .split('\0')
          .find((v) => v.startsWith('GLIBC_TUNABLES=')),
        `GLIBC_TUNABLES=${EXISTING}`,
        'the first process waits for the second',
      );
    } finally {
      worker.child.kill('SIGTERM');
    }
    assert.deepEqual(
      await worker.exited,
      { code: 0, signal: null },
      'SIGTERM reached the relaunched worker, which stopped cleanly',
    );
    await eventually(
      async () => !(await getJson(`${scheduler.httpUrl}/api/state`)).workers.some((w) => w.name === 'cli-huge'),
      { what: 'cli-huge left' },
    );
  },
);

test('`meshwork worker` whose GLIBC_TUNABLES already names every tunable runs as it is', { skip }, async () => {
  // glibc's defaults, huge pages off.
  const own = 'glibc.malloc.hugetlb=0:glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=8';
  assert.equal(own.split(':').length, MEMORY_TUNABLES.length);
  const env = { ...process.env, GLIBC_TUNABLES: own };
  delete env.MESHWORK_HUGE_PAGES;
  const { seen, worker } = await cliWorker('cli-own-choice', env);
  const started = childrenOf(worker.child.pid);
  worker.child.kill('SIGTERM');
  assert.equal(seen, own, "the user's choice stands");
  assert.deepEqual(started, [], 'not started again');
  await worker.exited;
});

test('`meshwork scheduler` starts itself again with the tunables', { skip }, async () => {
  const env = { ...process.env };
  delete env.GLIBC_TUNABLES;
  delete env.MESHWORK_HUGE_PAGES;
  const s = run(process.execPath, [cliPath, 'scheduler', '--port', '0'], { env });
  try {
    await s.waitFor(/scheduler at (ws:\/\/\S+)/);
    const [child] = childrenOf(s.child.pid);
    assert.ok(child, 'the first process started the real one');
    const environ = readFileSync(`/proc/${child}/environ`, 'utf8').split('\0');
    assert.ok(environ.includes(`GLIBC_TUNABLES=${MEMORY_TUNABLES[0]}`), 'with the memory tunables');
  } finally {
    s.child.kill('SIGTERM');
    await s.exited;
  }
});
