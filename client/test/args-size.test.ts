/**
 * Arguments too large for the control channel are refused at submit (SerializationError naming
 * MAX_TASK_ARGS_BYTES), before anything is sent: sent, the frame would close the connection.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_TASK_ARGS_BYTES } from '@meshwork/protocol';
import { SerializationError } from '../src/index.js';
import { compileGraph } from '../src/graph.js';
import { defaultOptions, encodeArgs } from '../src/tasks.js';

const tooLarge = (path: string) => (e: unknown) =>
  e instanceof SerializationError &&
  e.code === 'SERIALIZATION' &&
  e.path === path &&
  e.message.includes(`MAX_TASK_ARGS_BYTES (${MAX_TASK_ARGS_BYTES} bytes)`);

test('encoded arguments up to MAX_TASK_ARGS_BYTES pass; one byte more is refused, naming the limit', () => {
  const probe = 1024 * 1024;
  const overhead = encodeArgs([new Uint8Array(probe)]).bytes.byteLength - probe;
  assert.equal(encodeArgs([new Uint8Array(MAX_TASK_ARGS_BYTES - overhead)]).bytes.byteLength, MAX_TASK_ARGS_BYTES);
  assert.throws(() => encodeArgs([new Uint8Array(MAX_TASK_ARGS_BYTES - overhead + 1)]), tooLarge('args'));
});

test('a task of a graph (client.get) with arguments over the limit is refused, naming its place in the graph', () => {
  const inc = (x: Uint8Array): number => x.length;
  assert.throws(
    () => compileGraph({ a: [inc, new Uint8Array(MAX_TASK_ARGS_BYTES + 1)] }, 'a', defaultOptions),
    tooLarge('graph.a'),
  );
});
