// The responder's refusal: the refusing end sends why, then leaves the close to the remote for
// REFUSAL_LINGER_MS (a data channel closed at once can lose its last message at the far end), and
// closes the link itself only past that.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROTOCOL_VERSION } from '@meshwork/protocol';
import { REFUSAL_LINGER_MS } from '../src/constants.js';
import type { FrameLink, FrameReceiver } from '../src/link.js';
import { PeerResponder } from '../src/responder.js';

/** A FrameLink that records what is sent and when it is closed. */
function recordingLink(): FrameLink & { sent: unknown[]; closedAt: number | undefined } {
  const link = {
    sent: [] as unknown[],
    closedAt: undefined as number | undefined,
    get closed() {
      return link.closedAt !== undefined;
    },
    send(header: unknown) {
      link.sent.push(header);
      return Promise.resolve();
    },
    receive(_receiver: FrameReceiver) {},
    close() {
      link.closedAt ??= Date.now();
    },
  };
  return link;
}

test('a refused hello is answered at once; the link is closed only after REFUSAL_LINGER_MS, for the remote to close first', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const link = recordingLink();
  const responder = new PeerResponder(link, 'b', { handler: () => undefined, path: 'webrtc' });
  responder.request({ type: 'hello', protocolVersion: PROTOCOL_VERSION + 1, from: 'a' }, new Uint8Array(0));
  assert.deepEqual(
    link.sent.map((h) => (h as { code?: string }).code),
    ['VERSION_MISMATCH'],
    'the refusal is sent at once',
  );
  assert.equal(link.closed, false, 'not closed with the refusal');
  t.mock.timers.tick(REFUSAL_LINGER_MS - 1);
  assert.equal(link.closed, false, 'still open within the linger');
  t.mock.timers.tick(1);
  assert.equal(link.closed, true, 'closed by this end once the linger is over');
});
