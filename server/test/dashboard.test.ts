import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import * as v from 'valibot';
import { DashboardChannel, PROTOCOL_VERSION, decode, encodeFrame, type WorkerChannel } from '@meshwork/protocol';
import { DashboardFeed, type DashboardSink } from '../src/transport/dashboard.js';
import { MAX_GROUP_HISTORY } from '../src/state/groups.js';
import { TaskStream } from '../src/transport/task-stream.js';
import { TrafficBook } from '../src/transport/traffic.js';
import { SchedulerServer } from '../src/transport/scheduler-server.js';
import { Harness } from './harness.js';
import { cutFromBig, retainedBy } from '../../tests/support/retained.mjs';

type Update = DashboardChannel.DashboardUpdate;

/** Peers that are not workers in these tests are clients, named `client-…`. */
const isWorker = (peer: string): boolean => !peer.startsWith('client-');

/** A dashboard connection in memory: keeps what it is sent; `bufferedAmount` is set by the test. */
class RecordingSink implements DashboardSink {
  readonly updates: Update[] = [];
  bufferedAmount = 0;
  send(m: DashboardChannel.ServerToDashboard): void {
    if (m.type === 'dashboard-update') this.updates.push(m);
  }
  get last(): Update {
    const u = this.updates.at(-1);
    assert.ok(u, 'no update received');
    return u;
  }
}

function ended(key: string, thread = 0, ms = 5): Extract<WorkerChannel.WorkerToServer, { type: 'task-finished' }> {
  return { type: 'task-finished', key, nbytes: 8, startedAt: 1_000, stoppedAt: 1_000 + ms, thread };
}

/** Submits `n` tasks of function `name` (no inputs) for client c. */
function submit(h: Harness, name: string, n: number): string[] {
  const keys = Array.from({ length: n }, (_, i) => `${name}-${i.toString(16).padStart(4, '0')}`);
  h.s.updateGraph('c', {
    type: 'update-graph',
    fns: [{ id: name, name, source: '(x) => x' }],
    tasks: keys.map((key) => ({ key, fn: name, args: new Uint8Array([1]), deps: [], priority: 0, retries: 0 })),
    wants: keys,
  });
  h.check();
  return keys;
}

test('groups are counted per function and state as tasks move; released, they stay listed with what they did', () => {
  const h = new Harness();
  h.worker('w1', 2);
  h.client('c');
  const incs = submit(h, 'inc', 5);
  submit(h, 'square', 2);
  const feed = new DashboardFeed(h.s, new TrafficBook(isWorker));
  const group = (name: string) => feed.snapshot().groups.find((g) => g.name === name);
  // w1 holds threads + 2 tasks; the rest wait on the scheduler.
  assert.deepEqual(group('inc'), {
    name: 'inc',
    waiting: 1,
    processing: 4,
    memory: 0,
    erred: 0,
    finished: 0,
    failed: 0,
  });
  assert.deepEqual(group('square'), {
    name: 'square',
    waiting: 2,
    processing: 0,
    memory: 0,
    erred: 0,
    finished: 0,
    failed: 0,
  });
  // Incs finish, squares fail, in the order the worker is sent them.
  for (let sent = h.drain('w1'); sent.length > 0; sent = h.drain('w1'))
    for (const key of sent) {
      if (key.startsWith('inc')) h.finish('w1', key);
      else h.err('w1', key);
    }
  assert.deepEqual(group('inc'), {
    name: 'inc',
    waiting: 0,
    processing: 0,
    memory: 5,
    erred: 0,
    finished: 5,
    failed: 0,
  });
  assert.deepEqual(group('square'), {
    name: 'square',
    waiting: 0,
    processing: 0,
    memory: 0,
    erred: 2,
    finished: 0,
    failed: 2,
  });
  const snap = feed.snapshot();
  assert.deepEqual(snap.tasks, { waiting: 0, processing: 0, memory: 5, erred: 2 });
  assert.deepEqual(
    snap.groups.map((g) => g.name),
    ['inc', 'square'],
    'the largest group first',
  );
  h.s.releaseKeys('c', incs);
  h.check();
  assert.equal(h.s.groups.size, 1, 'a group whose tasks are all forgotten is no longer counted');
  assert.deepEqual(
    feed.snapshot().groups,
    [
      { name: 'square', waiting: 0, processing: 0, memory: 0, erred: 2, finished: 0, failed: 2 },
      { name: 'inc', waiting: 0, processing: 0, memory: 0, erred: 0, finished: 5, failed: 0 },
    ],
    'but still listed, after the groups with tasks, with what it did',
  );
  // New tasks of the group carry on its totals.
  const more = submit(h, 'inc', 1);
  for (const key of h.drain('w1')) h.finish('w1', key);
  assert.deepEqual(group('inc'), {
    name: 'inc',
    waiting: 0,
    processing: 0,
    memory: 1,
    erred: 0,
    finished: 6,
    failed: 0,
  });
  assert.equal(more.length, 1);
});

test('the totals of emptied groups are bounded: the least recently emptied go first', () => {
  const h = new Harness();
  h.worker('w1', 1);
  h.client('c');
  for (let i = 0; i <= MAX_GROUP_HISTORY; i++) {
    const keys = submit(h, `f${i}`, 1);
    for (const key of h.drain('w1')) h.finish('w1', key);
    h.s.releaseKeys('c', keys);
  }
  h.check();
  const history = h.s.groups.history();
  assert.equal(history.length, MAX_GROUP_HISTORY);
  assert.deepEqual(
    history[0],
    [`f${MAX_GROUP_HISTORY}`, { finished: 1, failed: 0 }],
    'the most recently emptied first',
  );
  assert.ok(!history.some(([name]) => name === 'f0'));
  const listed = new DashboardFeed(h.s, new TrafficBook(isWorker)).snapshot().groups;
  assert.equal(listed.length, DashboardChannel.DASHBOARD_MAX_GROUPS);
});

test('the task stream is a bounded ring: a new dashboard gets what is kept, a connected one only what is new', () => {
  const ring = new TaskStream(3);
  const entry = (key: string): DashboardChannel.StreamEntry => ({
    key,
    group: 'g',
    worker: 'w',
    thread: 0,
    start: 0,
    stop: 1,
    erred: false,
  });
  for (const k of ['a', 'b', 'c', 'd', 'e']) ring.push(entry(k));
  assert.equal(ring.size, 3);
  const all = ring.since(0);
  assert.deepEqual(
    all.entries.map((e) => e.key),
    ['c', 'd', 'e'],
  );
  ring.push(entry('f'));
  assert.deepEqual(
    ring.since(all.cursor).entries.map((e) => e.key),
    ['f'],
  );
  assert.deepEqual(ring.since(ring.cursor).entries, []);
  // An update carries the newest runs since the last one, `max` at most; the cursor still moves to the end.
  const before = ring.cursor;
  for (const k of ['g', 'h']) ring.push(entry(k));
  const capped = ring.since(before, 1);
  assert.deepEqual(
    capped.entries.map((e) => e.key),
    ['h'],
  );
  assert.equal(capped.cursor, ring.cursor);

  const h = new Harness();
  h.worker('w1');
  const feed = new DashboardFeed(h.s, new TrafficBook(isWorker), { streamEntries: 100, now: () => 50_000 });
  const first = new RecordingSink();
  feed.add(first);
  try {
    for (let i = 0; i < 250; i++) feed.taskEnded('w1', ended(`inc-${i}`, i % 2));
    assert.equal(feed.streamSize, 100);
    feed.push();
    assert.deepEqual(
      first.last.stream.map((e) => e.key),
      Array.from({ length: 100 }, (_, i) => `inc-${150 + i}`),
    );
    assert.deepEqual(first.last.stream[0], {
      key: 'inc-150',
      group: 'inc',
      worker: 'w1',
      thread: 0,
      start: 49_995,
      stop: 50_000,
      erred: false,
    });
    feed.taskEnded('w1', ended('inc-250'));
    feed.push();
    assert.deepEqual(
      first.last.stream.map((e) => e.key),
      ['inc-250'],
    );
    const second = new RecordingSink();
    feed.add(second);
    assert.equal(second.last.stream.length, 100, 'a dashboard that joins later gets the whole stream kept');
    feed.remove(second);
  } finally {
    feed.close();
  }
});

test('the task stream keeps a copy of each key of its own, not a slice of the text it came in', () => {
  const h = new Harness();
  h.worker('w1');
  h.client('c');
  const [known] = submit(h, 'inc', 1);
  const feed = new DashboardFeed(h.s, new TrafficBook(isWorker));
  const sink = new RecordingSink();
  feed.add(sink);
  try {
    const keys = [known ?? '', 'inc-no-longer-known-0001'];
    // Each slice is of a 16 MiB text: a ring entry that kept one would keep all of it.
    const kept = retainedBy(() => {
      for (const key of keys) feed.taskEnded('w1', ended(cutFromBig(key)));
    });
    assert.ok(kept < 2 * 1024 * 1024, `${kept} bytes kept`);
    feed.push();
    assert.deepEqual(
      sink.last.stream.map((e) => [e.key, e.group]),
      [
        [known, 'inc'],
        ['inc-no-longer-known-0001', 'inc-no-longer-known'],
      ],
    );
  } finally {
    feed.remove(sink);
  }
});

test('while no dashboard is connected nothing is scheduled, but task runs are kept for the page opened later', () => {
  const h = new Harness();
  h.worker('w1');
  const feed = new DashboardFeed(h.s, new TrafficBook(isWorker));
  feed.taskEnded('w1', ended('inc-1'));
  feed.push();
  assert.equal(feed.streamSize, 1);
  assert.equal(feed.ticking, false);
  const sink = new RecordingSink();
  feed.add(sink);
  assert.equal(feed.ticking, true);
  assert.equal(sink.updates.length, 1, 'an update at once on connect');
  assert.deepEqual(
    sink.last.stream.map((e) => e.key),
    ['inc-1'],
    'with the runs that ended before it connected',
  );
  feed.remove(sink);
  assert.equal(feed.ticking, false);
  feed.taskEnded('w1', ended('inc-2'));
  assert.equal(feed.streamSize, 2);
});

test('a backed-up dashboard misses updates instead of queueing them, then catches up on the stream', () => {
  const h = new Harness();
  h.worker('w1');
  const feed = new DashboardFeed(h.s, new TrafficBook(isWorker), { maxBufferedBytes: 1000 });
  const sink = new RecordingSink();
  feed.add(sink);
  try {
    sink.bufferedAmount = 5000;
    for (let i = 0; i < 10; i++) {
      feed.taskEnded('w1', ended(`inc-${i}`));
      feed.push();
    }
    assert.equal(sink.updates.length, 1);
    assert.equal(feed.skipped, 10);
    sink.bufferedAmount = 0;
    feed.push();
    assert.equal(sink.updates.length, 2);
    assert.equal(sink.last.stream.length, 10);
  } finally {
    feed.close();
  }
});

test('peer traffic becomes edges between peers connected now, each transfer counted once; workers list their peers', () => {
  const h = new Harness();
  h.worker('w1');
  h.worker('w2');
  h.worker('tab', 1, { kind: 'browser', dataAddress: null });
  h.client('client-1');
  const traffic = new TrafficBook(isWorker);
  // w2 fetched 100 B from w1 over TCP: both report it. w1 sent 30 B to a client (which reports
  // nothing), and 40 B to a client that has left since.
  traffic.report('w1', [
    { peer: 'w2', path: 'tcp', bytesSent: 100, bytesReceived: 0 },
    { peer: 'client-1', path: 'tcp', bytesSent: 30, bytesReceived: 0 },
    { peer: 'client-gone', path: 'tcp', bytesSent: 40, bytesReceived: 0 },
  ]);
  traffic.report('w2', [{ peer: 'w1', path: 'tcp', bytesSent: 0, bytesReceived: 100 }]);
  traffic.report('tab', [{ peer: 'w2', path: 'webrtc', bytesSent: 0, bytesReceived: 7 }]);
  traffic.relayed(3);
  const snap = new DashboardFeed(h.s, traffic).snapshot();
  assert.deepEqual(snap.traffic, [
    { from: 'w1', to: 'w2', path: 'tcp', bytes: 100 },
    { from: 'w1', to: 'client-1', path: 'tcp', bytes: 30 },
    { from: 'w2', to: 'tab', path: 'webrtc', bytes: 7 },
  ]);
  assert.deepEqual(
    snap.workers.map((w) => [w.id, w.kind, w.peers]),
    [
      ['w1', 'node', 3],
      ['w2', 'node', 1],
      ['tab', 'browser', 1],
    ],
  );
  assert.deepEqual(
    snap.summary.bytes,
    { tcp: 170, webrtc: 7, relay: 0 },
    'the edges, and what went to the client that left',
  );
  assert.equal(snap.summary.relayedBytes, 3);
  assert.equal(snap.summary.workersJoined, 3);
  // The client leaves: its edge goes from the graph, its bytes stay in the summary.
  h.s.removeClient('client-1');
  const after = new DashboardFeed(h.s, traffic).snapshot();
  assert.deepEqual(
    after.traffic.map((e) => e.to),
    ['w2', 'tab'],
  );
  assert.deepEqual(after.summary.bytes, snap.summary.bytes);
});

/** Opens a WebSocket, sends `hello`, and resolves with the first frames (decoded) and the raw bytes seen. */
async function dashboardSocket(
  url: string,
  hello: Record<string, unknown>,
  frames: number,
): Promise<{ messages: unknown[]; raw: Buffer[]; close: () => void }> {
  const ws = new WebSocket(url);
  const messages: unknown[] = [];
  const raw: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => ws.send(encodeFrame([hello])));
    ws.on('message', (data: Buffer) => {
      raw.push(data);
      messages.push(...(decode(data) as unknown[]));
      if (raw.length >= frames) resolve();
    });
    ws.once('close', () => resolve());
    ws.once('error', reject);
  });
  return { messages, raw, close: () => ws.close() };
}

test('a dashboard says hello over the WebSocket and gets valid updates; no token ever appears in them', async () => {
  const token = 'sekret-token-123';
  const server = await SchedulerServer.start({ port: 0, token });
  try {
    // A worker that joins with the token: the token must not reach the dashboard.
    const worker = new WebSocket(server.address);
    await new Promise<void>((resolve) => worker.once('open', () => resolve()));
    worker.send(
      encodeFrame([
        {
          type: 'hello',
          protocolVersion: PROTOCOL_VERSION,
          role: 'worker',
          name: 'w-named',
          kind: 'node',
          threads: 2,
          memoryLimit: null,
          resources: {},
          dataAddress: null,
          agent: 'v20',
          token,
        },
      ]),
    );
    await new Promise<void>((resolve) => worker.once('message', () => resolve()));

    // On loopback a dashboard needs no token (as /api/state), but a wrong one is refused.
    const refused = await dashboardSocket(
      server.address,
      { type: 'hello', protocolVersion: PROTOCOL_VERSION, role: 'dashboard', token: 'wrong' },
      1,
    );
    assert.equal((refused.messages[0] as { code?: string }).code, 'AUTH_FAILED');
    const old = await dashboardSocket(
      server.address,
      { type: 'hello', protocolVersion: PROTOCOL_VERSION + 1, role: 'dashboard', token },
      1,
    );
    assert.equal((old.messages[0] as { code?: string }).code, 'VERSION_MISMATCH');

    const dash = await dashboardSocket(
      server.address,
      { type: 'hello', protocolVersion: PROTOCOL_VERSION, role: 'dashboard', token },
      3,
    );
    dash.close();
    const parsed = dash.messages.map((m) => v.parse(DashboardChannel.ServerToDashboard, m));
    assert.equal(parsed[0]?.type, 'welcome');
    const updates = parsed.filter((m): m is Update => m.type === 'dashboard-update');
    assert.ok(updates.length >= 2, 'an update on connect, then one per interval');
    assert.deepEqual(
      updates[0]?.workers.map((w) => [w.name, w.threads, w.agent]),
      [['w-named', 2, 'v20']],
    );
    for (const bytes of dash.raw) assert.ok(!bytes.includes(token), 'the token is not in any frame');
    worker.close();
  } finally {
    await server.close();
  }
  assert.equal(server.dashboards.ticking, false);
});

test('a group is the name part of the keys clients make: key-safe, `lambda` for an anonymous function', () => {
  const h = new Harness();
  h.client('c');
  h.s.updateGraph('c', {
    type: 'update-graph',
    fns: [
      { id: 'anon', name: '', source: '() => 1' },
      { id: 'odd', name: 'bound f', source: '() => 2' },
    ],
    tasks: [
      { key: 'lambda-01', fn: 'anon', args: new Uint8Array([1]), deps: [], priority: 0, retries: 0 },
      { key: 'bound_f-02', fn: 'odd', args: new Uint8Array([1]), deps: [], priority: 0, retries: 0 },
    ],
    wants: ['lambda-01', 'bound_f-02'],
  });
  h.check();
  const names = new DashboardFeed(h.s, new TrafficBook(isWorker)).snapshot().groups.map((g) => g.name);
  assert.deepEqual(names.sort(), ['bound_f', 'lambda']);
});
