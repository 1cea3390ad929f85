import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PROTOCOL_VERSION, encodeFrame } from '@meshwork/protocol';
import { FrameGate } from '../src/core/handshake.js';

const welcome = encodeFrame([{ type: 'welcome', protocolVersion: PROTOCOL_VERSION, id: 'w1' }]);
const later = (n: number): Uint8Array => encodeFrame([{ type: 'free-keys', keys: [`k${n}`] }]);

test('the first frame answers hello; later frames reach the handler in order, buffered until it is set', () => {
  const gate = new FrameGate();
  const reply = gate.push(welcome);
  assert.ok(reply?.ok && reply.id === 'w1');
  assert.equal(gate.settled, true);
  assert.equal(gate.push(later(1)), undefined);
  const got: Uint8Array[] = [];
  gate.onFrame((b) => got.push(b));
  gate.push(later(2));
  assert.deepEqual(got, [later(1), later(2)]);
});

test('a refusal is returned unsettled for the host to act on; after that nothing more is read', () => {
  const gate = new FrameGate();
  const refusal = encodeFrame([{ type: 'error', code: 'AUTH_FAILED', message: 'no' }]);
  const reply = gate.push(refusal);
  assert.ok(reply && !reply.ok && reply.error.code === 'AUTH');
  assert.equal(gate.settled, false);
  gate.settled = true;
  assert.equal(gate.push(welcome), undefined);
});
