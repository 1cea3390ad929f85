/** Gathering a value only a browser tab holds: a Node worker acquires a copy, or the value is made again. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Harness } from './harness.js';

/**
 * A tab and a Node worker; client `c` wants `big` (1 MB, made on the tab, `allowOtherWorkers`
 * as given) and gathers it: returns the harness and the `acquire` sent to the Node worker.
 */
function gatherFromTab(allowOtherWorkers = false) {
  const h = new Harness();
  h.worker('tab', 1, { kind: 'browser', dataAddress: null });
  h.worker('node', 1);
  h.client('c');
  h.s.updateGraph('c', {
    type: 'update-graph',
    fns: [{ id: 'f', name: 'f', source: '(x) => x' }],
    tasks: [{ key: 'big', fn: 'f', args: new Uint8Array(0), deps: [], priority: 0, retries: 0, workers: ['tab'], allowOtherWorkers }],
    wants: ['big'],
  });
  h.s.taskFinished('tab', { type: 'task-finished', key: 'big', nbytes: 1e6, startedAt: 0, stoppedAt: 1, thread: 0 });
  h.check();
  h.s.gather('c', 1, ['big']);
  const acquire = h.toWorkers.get('node')?.find((m) => m.type === 'acquire');
  assert.ok(acquire?.type === 'acquire');
  return { h, acquire };
}

const gatherReply = (h: Harness) => {
  const reply = h.clientMessages('c').find((m) => m.type === 'gather-reply');
  assert.ok(reply?.type === 'gather-reply');
  return reply;
};

test('gathering a large value only a tab holds: a Node worker acquires it first, then the client fetches from it', () => {
  const { h, acquire } = gatherFromTab();
  assert.deepEqual(acquire.items[0]?.holders, [{ id: 'tab', address: 'webrtc' }]);
  assert.ok(!h.clientMessages('c').some((m) => m.type === 'gather-reply'), 'waits for the copy');
  h.s.acquired('node', { type: 'acquired', id: acquire.id, items: [{ key: 'big', nbytes: 1e6 }], missing: [] });
  h.check();
  assert.ok(gatherReply(h).items[0]?.holders?.some((x) => x.address === 'tcp://node'));
});

test('a value the tab says it lacks when a Node worker acquires it: that copy is dropped, the value made again, and the gather waits for it', () => {
  const { h, acquire } = gatherFromTab(true);
  h.s.acquired('node', { type: 'acquired', id: acquire.id, items: [], missing: [{ key: 'big', holder: 'tab' }] });
  h.check();
  const t = h.s.tasks.get('big');
  assert.notEqual(t?.status, 'memory', 'the only copy was dropped');
  assert.ok(t?.whoHas.size === 0);
  assert.ok(h.toWorkers.get('tab')?.some((m) => m.type === 'free-keys' && m.keys.includes('big')), 'the tab is told to free its copy');
  assert.ok(!h.clientMessages('c').some((m) => m.type === 'gather-reply'), 'the gather waits for the value to be made again');
  const on = t?.processingOn?.id;
  assert.ok(on, 'the value is being made again');
  h.s.taskFinished(on, { type: 'task-finished', key: 'big', nbytes: 1e6, startedAt: 2, stoppedAt: 3, thread: 0 });
  if (on === 'tab') {
    const again = h.toWorkers.get('node')?.filter((m) => m.type === 'acquire').at(-1);
    assert.ok(again?.type === 'acquire' && again.id !== acquire.id, 'a tab-held value is acquired again');
    h.s.acquired('node', { type: 'acquired', id: again.id, items: [{ key: 'big', nbytes: 1e6 }], missing: [] });
  }
  h.check();
  const item = gatherReply(h).items[0];
  assert.ok(item?.holders?.some((x) => x.address === 'tcp://node'), JSON.stringify(item));
});

test('an acquire that could not reach the tab (a failed link, no one blamed) drops no copy: the value is not made again', () => {
  const { h, acquire } = gatherFromTab();
  h.s.acquired('node', { type: 'acquired', id: acquire.id, items: [], missing: [{ key: 'big' }] });
  h.check();
  const t = h.s.tasks.get('big');
  assert.equal(t?.status, 'memory');
  assert.deepEqual([...(t?.whoHas ?? [])].map((w) => w.id), ['tab']);
  assert.ok(!h.toWorkers.get('tab')?.some((m) => m.type === 'free-keys'), 'the tab keeps its copy');
  assert.deepEqual(gatherReply(h).items[0]?.holders, [{ id: 'tab', address: 'webrtc' }], 'the client is told where it is, and asks again later');
});
