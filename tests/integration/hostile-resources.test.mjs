// Resources that one peer could make the scheduler spend without bound, each attacked: a gather
// listing one key millions of times (the reply grew with every copy, the scheduler stalled and
// dropped healthy workers as silent), function sources never freed, the pending-task budget
// multiplied by opening more connections with one token, an argument too large for a frame (the
// connection closed and every other future failed), a dashboard socket outside the message rate,
// and uploaded modules with no total bound.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import {
  KEYS_PER_COUNTED_MESSAGE,
  MAX_KEYS_PER_REQUEST,
  MAX_MODULES,
  MAX_MODULE_SOURCE_LENGTH,
  MAX_MODULE_STORE_BYTES,
  MAX_TASK_ARGS_BYTES,
  PROTOCOL_VERSION,
  decode,
  digestString,
  encodeFrame,
  encodeValue,
  taskDigest,
} from '@meshwork/protocol';
import { eventually } from './helpers.mjs';

/** A raw connection in `role`: `replies` collects every message, `closed` resolves with the close code. */
async function raw(address, role, token) {
  const ws = new WebSocket(address, { perMessageDeflate: false });
  const replies = [];
  ws.on('message', (d) => {
    for (const m of decode(d)) replies.push(m);
  });
  const closed = new Promise((resolve) => ws.on('close', resolve));
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  ws.send(encodeFrame([{ type: 'hello', protocolVersion: PROTOCOL_VERSION, role, ...(token ? { token } : {}) }]));
  await eventually(() => replies.some((m) => m.type === 'welcome'), { what: 'welcome' });
  const reply = (id) =>
    eventually(() => replies.find((m) => m.id === id || m.replyTo === id), { what: `the reply to ${id}` });
  return { ws, replies, closed, reply };
}

/** A function as the client sends it: its id is the digest of its source. */
const fnSpec = (source) => ({ id: digestString(source), name: 'f', source });

/** A task as the client makes it: its key is pure (its function's name and the digest of its spec). */
function pureTask(fn, args) {
  const task = { key: '', fn: fn.id, args: encodeValue(args).bytes, deps: [], priority: 0, retries: 0 };
  return { ...task, key: `${fn.name}-${taskDigest(task)}` };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('gather and who-has: keys deduplicated, at most MAX_KEYS_PER_REQUEST a request (nothing built past it); the worker stays', async () => {
  const cluster = await LocalCluster.start({ workers: 1 });
  const client = await Client.connect(cluster.address);
  try {
    const c = await raw(cluster.address, 'client');
    const fn = fnSpec('(x) => x + 1');
    const task = pureTask(fn, [1]);
    c.ws.send(encodeFrame([{ type: 'update-graph', fns: [fn], tasks: [task], wants: [task.key] }]));
    await eventually(() => c.replies.some((m) => m.type === 'key-finished' && m.key === task.key), {
      what: 'the task',
    });

    // One key listed MAX_KEYS_PER_REQUEST times: one item in the reply.
    c.ws.send(encodeFrame([{ type: 'gather', id: 1, keys: Array(MAX_KEYS_PER_REQUEST).fill(task.key) }]));
    const once = await c.reply(1);
    assert.equal(once.type, 'gather-reply');
    assert.equal(once.items.length, 1);
    assert.equal(once.items[0].key, task.key);

    // The attack's shape: one key listed past the limit. Refused with a stable code, no reply built.
    const many = 2 * MAX_KEYS_PER_REQUEST;
    c.ws.send(
      encodeFrame([
        { type: 'gather', id: 2, keys: Array(many).fill(task.key) },
        { type: 'who-has', id: 3, keys: Array(many).fill(task.key) },
      ]),
    );
    for (const id of [2, 3]) {
      const refused = await c.reply(id);
      assert.equal(refused.type, 'error', `request ${id} is refused`);
      assert.equal(refused.code, 'LIMIT_EXCEEDED');
      assert.match(refused.message, /MAX_KEYS_PER_REQUEST/);
    }
    await sleep(200);
    assert.equal(
      c.replies.filter((m) => m.id === 2 || m.id === 3).length,
      0,
      'no gather-reply or who-has-reply was built',
    );

    // The scheduler kept up: its worker is still there and works.
    assert.equal(cluster.scheduler.state.workers.size, 1);
    assert.equal(await client.submit((x) => x * 3, 5).result(), 15);
    assert.equal(c.ws.readyState, WebSocket.OPEN);
    c.ws.close();
  } finally {
    await client.close();
    await cluster.close();
  }
});

test('a gather listing many keys costs the message rate in proportion', async () => {
  const burst = 1_000;
  const cluster = await LocalCluster.start({ workers: 0, rateLimit: { messagesPerSecond: burst, burst } });
  try {
    const c = await raw(cluster.address, 'client');
    // One message, but 2 * burst * KEYS_PER_COUNTED_MESSAGE keys: two bursts' worth.
    c.ws.send(encodeFrame([{ type: 'gather', id: 1, keys: Array(2 * burst * KEYS_PER_COUNTED_MESSAGE).fill('k') }]));
    await eventually(() => c.replies.some((m) => m.type === 'error' && m.code === 'RATE_LIMITED'), {
      what: 'RATE_LIMITED',
    });
    assert.equal(
      c.replies.filter((m) => m.id === 1 || m.replyTo === 1).length,
      0,
      'the gather was dropped, not answered',
    );
    assert.equal(cluster.scheduler.limits.framesRateLimited, 1);
    c.ws.close();
  } finally {
    await cluster.close();
  }
});

test('function sources are freed with the tasks that use them; the client sends a function again when it needs it', async () => {
  const cluster = await LocalCluster.start({ workers: 1 });
  const client = await Client.connect(cluster.address);
  try {
    const fns = Array.from({ length: 20 }, (_, i) => new Function(`return (x) => x + ${i}`)());
    const futures = fns.map((f) => client.submit(f, 1));
    assert.deepEqual(
      await client.gather(futures),
      fns.map((_, i) => 1 + i),
    );
    assert.equal(cluster.scheduler.state.fns.size, 20);
    for (const f of futures) f.release();
    await eventually(() => cluster.scheduler.state.fns.size === 0, { what: 'the sources freed' });
    // The same function once more, on the same connection: it travels again with its task.
    assert.equal(await client.submit(fns[3], 10).result(), 13);

    // Of the sources a graph sends, only those its tasks use are kept.
    const c = await raw(cluster.address, 'client');
    const sources = Array.from({ length: 50 }, (_, i) => fnSpec(`(x) => x - ${i}`));
    const task = pureTask(sources[0], [1]);
    c.ws.send(encodeFrame([{ type: 'update-graph', fns: sources, tasks: [task], wants: [task.key] }]));
    await eventually(() => c.replies.some((m) => m.type === 'key-finished' && m.key === task.key), {
      what: 'the task',
    });
    assert.ok(cluster.scheduler.state.fns.has(sources[0].id));
    assert.deepEqual(
      sources.slice(1).filter((f) => cluster.scheduler.state.fns.has(f.id)),
      [],
      'the functions no task uses are not kept',
    );
    c.ws.close();
  } finally {
    await client.close();
    await cluster.close();
  }
});

test('pending tasks are counted per token: more connections with one token get no more room', async () => {
  const limit = 10;
  const slow = (ms) => new Promise((r) => setTimeout(() => r(ms), ms));
  const graphRefused = (f) =>
    assert.rejects(
      f.result({ timeoutMs: 5_000 }),
      (e) => e.code === 'GRAPH' && /MAX_PENDING_TASKS_PER_TOKEN/.test(e.message),
    );

  const cluster = await LocalCluster.start({
    workers: 1,
    token: 'admin-secret',
    clientToken: 'client-secret',
    maxPendingTasksPerToken: limit,
  });
  const [a, b, c] = await Promise.all([1, 2, 3].map(() => Client.connect(cluster.address, { token: 'client-secret' })));
  const admin = await Client.connect(cluster.address, { token: 'admin-secret' });
  try {
    const first = a.map(
      slow,
      Array.from({ length: 6 }, (_, i) => 10_000 + i),
    );
    await eventually(() => cluster.scheduler.state.tasks.size >= 6, { what: "the first client's tasks" });
    // 6 + 6 > 10: refused, though this connection has no task yet.
    for (const f of b.map(
      slow,
      Array.from({ length: 6 }, (_, i) => 20_000 + i),
    ))
      await graphRefused(f);
    assert.equal(cluster.scheduler.limits.graphsRefused, 1);
    // 6 + 4 fits.
    c.map(
      slow,
      Array.from({ length: 4 }, (_, i) => 30_000 + i),
    );
    await eventually(() => cluster.scheduler.state.tasks.size >= 10, { what: "the third client's tasks" });
    assert.equal(cluster.scheduler.limits.graphsRefused, 1);
    // Another token has its own budget.
    admin.map(
      slow,
      Array.from({ length: limit }, (_, i) => 40_000 + i),
    );
    await eventually(() => cluster.scheduler.state.tasks.size >= 20, { what: "the other token's tasks" });
    assert.equal(cluster.scheduler.limits.graphsRefused, 1);
    assert.equal(first.length, 6);
  } finally {
    await Promise.all([a, b, c, admin].map((x) => x.close()));
    await cluster.close();
  }

  // With no token, the scheduler cannot tell clients apart: they share one budget.
  const open = await LocalCluster.start({ workers: 1, maxPendingTasksPerToken: limit });
  const [x, y] = await Promise.all([1, 2].map(() => Client.connect(open.address)));
  try {
    x.map(
      slow,
      Array.from({ length: 6 }, (_, i) => 10_000 + i),
    );
    await eventually(() => open.scheduler.state.tasks.size >= 6, { what: "the first client's tasks" });
    for (const f of y.map(
      slow,
      Array.from({ length: 6 }, (_, i) => 20_000 + i),
    ))
      await graphRefused(f);
  } finally {
    await Promise.all([x, y].map((z) => z.close()));
    await open.close();
  }
});

test('an argument too large for the control channel is refused at submit; the other futures and the connection go on', async () => {
  const cluster = await LocalCluster.start({ workers: 1 });
  const client = await Client.connect(cluster.address);
  try {
    const pending = client.submit((ms) => new Promise((r) => setTimeout(() => r('done'), ms)), 500);
    const big = new Uint8Array(100 * 1024 * 1024);
    const refused = (e) =>
      e.name === 'SerializationError' &&
      e.code === 'SERIALIZATION' &&
      e.message.includes('MAX_TASK_ARGS_BYTES') &&
      e.message.includes(String(MAX_TASK_ARGS_BYTES));
    assert.throws(() => client.submit((a) => a.length, big), refused);
    assert.throws(() => client.map((a) => a.length, [new Uint8Array(1), big]), refused);
    assert.equal(await pending.result(), 'done');
    assert.equal(await client.submit((a) => a.length, new Uint8Array(1024 * 1024)).result(), 1024 * 1024);
    assert.equal(cluster.scheduler.state.clients.size, 1, 'the client never reconnected');

    // A client that sends such a task anyway gets PROTOCOL_ERROR for that message; its connection stays.
    const c = await raw(cluster.address, 'client');
    const fn = fnSpec('(a) => a.length');
    const task = { ...pureTask(fn, [1]), args: new Uint8Array(MAX_TASK_ARGS_BYTES + 1) };
    c.ws.send(
      encodeFrame([
        { type: 'update-graph', fns: [fn], tasks: [task], wants: [task.key] },
        { type: 'who-has', id: 1, keys: [] },
      ]),
    );
    await c.reply(1);
    assert.ok(
      c.replies.some(
        (m) => m.type === 'error' && m.code === 'PROTOCOL_ERROR' && m.message.includes('MAX_TASK_ARGS_BYTES'),
      ),
    );
    assert.equal(cluster.scheduler.state.tasks.has(task.key), false);
    assert.equal(c.ws.readyState, WebSocket.OPEN);
    c.ws.close();
  } finally {
    await client.close();
    await cluster.close();
  }
});

test('a dashboard connection is held to the message rate: a flood is refused, then closed', async () => {
  const cluster = await LocalCluster.start({ workers: 0, rateLimit: { messagesPerSecond: 100, burst: 50 } });
  try {
    const d = await raw(cluster.address, 'dashboard');
    const frame = encodeFrame(
      Array.from({ length: 50 }, () => ({ type: 'hello', protocolVersion: PROTOCOL_VERSION, role: 'dashboard' })),
    );
    for (let i = 0; i < 10 && d.ws.readyState === WebSocket.OPEN; i++) d.ws.send(frame);
    const code = await Promise.race([d.closed, sleep(5_000).then(() => 'still open')]);
    assert.equal(code, 1008);
    assert.ok(d.replies.some((m) => m.type === 'error' && m.code === 'RATE_LIMITED'));
    assert.ok(cluster.scheduler.limits.framesRateLimited >= 1);
    assert.equal(cluster.scheduler.limits.closedForRate, 1);
  } finally {
    await cluster.close();
  }
});

test('uploaded modules are bounded in bytes and in number; replacing one frees the old version', async () => {
  const cluster = await LocalCluster.start({ workers: 0 });
  const client = await Client.connect(cluster.address);
  const refused = (re) => (e) => /LIMIT_EXCEEDED/.test(e.message) && re.test(e.message);
  try {
    const large = (i, length = MAX_MODULE_SOURCE_LENGTH) => `export const n = ${i};\n//`.padEnd(length, 'x');
    const fit = Math.floor(MAX_MODULE_STORE_BYTES / MAX_MODULE_SOURCE_LENGTH);
    for (let i = 0; i < fit; i++) await client.upload(`large-${i}`, large(i));
    await assert.rejects(client.upload('one-more', large(fit)), refused(/MAX_MODULE_STORE_BYTES/));
    assert.equal(cluster.scheduler.modules.size, fit);
    // Replacing a module frees its old version: now there is room.
    await client.upload('large-0', 'export const n = 0;');
    await client.upload('one-more', large(fit, MAX_MODULE_SOURCE_LENGTH - 1024));
    assert.ok(cluster.scheduler.modules.bytes <= MAX_MODULE_STORE_BYTES);
    for (let i = 1; i < fit; i++) await client.upload(`large-${i}`, `export const n = ${i};`);
    await client.upload('one-more', 'export const n = -1;');
    assert.ok(cluster.scheduler.modules.bytes < 1024, 'the large versions are freed');

    for (let i = cluster.scheduler.modules.size; i < MAX_MODULES; i++)
      await client.upload(`small-${i}`, `export const n = ${i};`);
    await assert.rejects(client.upload('past-the-count', 'export const n = 1;'), refused(/MAX_MODULES/));
    assert.equal(cluster.scheduler.modules.size, MAX_MODULES);
    const replaced = await client.upload('large-1', 'export const n = 1;');
    assert.equal(replaced.name, 'large-1', 'a module may still be replaced');
  } finally {
    await client.close();
    await cluster.close();
  }
});
