/** Values that are not inline: fetched directly from the workers that hold them (fake TCP workers). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, ConnectionError, GATHER_ATTEMPTS } from '../src/index.js';
import { ONLY_TABS_GATHER_ATTEMPTS } from '../src/constants.js';
import { PROTOCOL_VERSION, encodeValue, valueHash } from '@meshwork/protocol';
import { platform } from '../src/platform.node.js';
import { FakeScheduler } from './fake-scheduler.js';
import { fakeWorker, type FakeWorker } from './fake-worker.js';

describe('direct fetch from holders', () => {
  let fake: FakeScheduler;
  let client: Client;
  let empty: FakeWorker;
  let full: FakeWorker;
  let liar: FakeWorker;
  const store = new Map<string, Uint8Array>();
  /** The same values with their last byte flipped: what a faulty or tampering holder serves. */
  const bad = new Map<string, Uint8Array>();
  let holders: { id: string; address: string }[] = [];
  let expect: { hash: string; nbytes: number } | undefined;
  const big = (n: number): Float64Array => new Float64Array(n).fill(1.5);
  const broken = (n: number): number => n;

  before(async () => {
    empty = await fakeWorker(new Map());
    full = await fakeWorker(store);
    liar = await fakeWorker(bad);
    fake = await FakeScheduler.start({
      holdersFor: (key) => {
        const r = fake.results.get(key);
        if (key.startsWith('big-') && r?.value) {
          store.set(key, r.value);
          const flipped = new Uint8Array(r.value);
          flipped.set([(flipped.at(-1) ?? 0) ^ 0xff], flipped.length - 1);
          bad.set(key, flipped);
        }
        return key.startsWith('big-') || key.startsWith('broken-') ? holders : undefined;
      },
      expectFor: () => expect,
    });
    client = await Client.connect(fake.address, { platform });
  });
  after(async () => {
    await client.close();
    await fake.close();
    empty.server.close();
    full.server.close();
    liar.server.close();
  });

  it('tries the next holder on data-missing and decodes the value', async () => {
    holders = [
      { id: 'w-empty', address: empty.address },
      { id: 'w-full', address: full.address },
    ];
    const f = client.submit(big, 20_000); // 160 kB: over the inline limit
    const value = await f.result();
    assert.ok(value instanceof Float64Array);
    assert.equal(value.length, 20_000);
    assert.equal(value[19_999], 1.5);
    assert.deepEqual(full.requests[0], { type: 'hello', protocolVersion: PROTOCOL_VERSION, from: 'client-1' });
    assert.deepEqual(full.requests[1], { type: 'get-data', id: 1, keys: [f.key] });
    assert.equal(empty.requests.filter((r) => r.type === 'get-data').length, 1);
  });

  it("checks each value against its producer's hash as it arrives, without reading it again: bad bytes are refused", async () => {
    const n = 30_003;
    const encoded = encodeValue(big(n)).bytes;
    expect = { hash: await valueHash(encoded), nbytes: encoded.byteLength };
    let hashed = 0;
    const counting: typeof platform = { ...platform, valueHash: (bytes) => (hashed++, valueHash(bytes)) };
    const other = await Client.connect(fake.address, { platform: counting });
    try {
      holders = [
        { id: 'w-liar', address: liar.address },
        { id: 'w-full', address: full.address },
      ];
      const f = other.submit(big, n);
      const value = await f.result();
      assert.deepEqual(value, big(n));
      assert.deepEqual(
        fake.of('missing-data').filter((m) => m.key === f.key),
        [{ type: 'missing-data', key: f.key, holder: 'w-liar' }],
        'the holder of bad bytes is reported',
      );
      assert.equal(hashed, 0, 'both values were hashed as they arrived');
    } finally {
      expect = undefined;
      await other.close();
    }
  });

  it('closes its link to a worker once answered: one that goes on sending is not read for seconds more', async () => {
    const chatty = await fakeWorker(store, { chatter: true });
    try {
      holders = [{ id: 'w-chatty', address: chatty.address }];
      const value = await client.submit(big, 20_005).result();
      assert.equal(value.length, 20_005);
      const answered = Date.now();
      for (let waited = 0; chatty.closes.length === 0 && waited < 2_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      assert.equal(chatty.closes.length, 1, 'the link was closed');
      assert.ok((chatty.closes[0] as number) - answered < 2_000);
    } finally {
      chatty.server.close();
    }
  });

  it('asks the scheduler again, pausing longer each time, when no holder has it, then fails with ConnectionError', async () => {
    holders = [{ id: 'w-empty', address: empty.address }];
    const f = client.submit(broken, 1);
    const started = Date.now();
    await assert.rejects(f.result(), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.match(e.message, new RegExp(`could not fetch .* after ${GATHER_ATTEMPTS} attempt`));
      return true;
    });
    assert.equal(fake.of('gather').filter((g) => g.keys.includes(f.key)).length, GATHER_ATTEMPTS);
    assert.ok(Date.now() - started >= 5_000, 'the asks are spread over seconds (a dead holder takes time to be noticed)');
    assert.equal(f.status, 'finished', 'the task did finish; only fetching failed');
  });

  it('does not dial holders only reachable over WebRTC; asks again until a worker it can reach holds the value', async () => {
    holders = [{ id: 'tab-1', address: 'webrtc' }];
    const dialed: string[] = [];
    const spy: typeof platform = {
      ...platform,
      dialPeer: (address, signal) => (dialed.push(address), platform.dialPeer(address, signal)),
    };
    const other = await Client.connect(fake.address, { platform: spy });
    try {
      const f = other.submit(big, 20_001);
      setTimeout(() => {
        holders = [{ id: 'w-full', address: full.address }];
      }, 400);
      const value = await f.result();
      assert.equal(value.length, 20_001);
      assert.ok(fake.of('gather').filter((g) => g.keys.includes(f.key)).length >= 2);
      assert.deepEqual(dialed, [full.address]);
    } finally {
      await other.close();
    }
  });

  it('a value only tabs hold fails soon with a ConnectionError that says to start a Node worker', async () => {
    holders = [{ id: 'tab-1', address: 'webrtc' }];
    const f = client.submit(big, 30_000);
    const started = Date.now();
    await assert.rejects(f.result(), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.match(e.message, /held only by browser tabs .*Start a Node worker/);
      return true;
    });
    assert.equal(fake.of('gather').filter((g) => g.keys.includes(f.key)).length, ONLY_TABS_GATHER_ATTEMPTS);
    assert.ok(Date.now() - started < 5_000, 'not the full round of asks');
  });
});
