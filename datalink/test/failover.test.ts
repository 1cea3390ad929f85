import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeValueHash } from '../src/blake3.node.js';
import { valueHash, type Holder } from '@meshwork/protocol';
import { HOLDER_FAILURES_TO_BLAME } from '../src/constants.js';
import { HolderFailures, fetchWithFailover, type HolderDelivery, type HolderFetcher } from '../src/failover.js';
import { RoutingPeerFetcher } from '../src/routing.js';

/** Counts bytes received per peer and path. */
class TransferStats {
  readonly received = (peer: string, path: string, bytes: number): void => {
    const key = `${peer} ${path}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + bytes);
  };
  readonly counts = new Map<string, number>();
}

/** A fake link: each holder id answers from its own map, says missing for the rest, or fails. */
class FakeLink implements HolderFetcher {
  asked: string[] = [];
  constructor(
    private readonly data: Record<string, Record<string, number>>,
    private readonly failing = new Set<string>(),
  ) {}
  async fetchFrom(holder: Holder, keys: readonly string[]): Promise<HolderDelivery> {
    this.asked.push(`${holder.id}:${keys.join(',')}`);
    if (this.failing.has(holder.id)) throw new Error(`${holder.id} unreachable`);
    const values = new Map<string, Uint8Array>();
    const missing: string[] = [];
    for (const key of keys) {
      const n = this.data[holder.id]?.[key];
      if (n === undefined) missing.push(key);
      else values.set(key, new Uint8Array(n));
    }
    return { values, missing };
  }
}

const signal = () => new AbortController().signal;

test('each holder is reached over the link its address calls for, with failover and counters', async () => {
  const tcp = new FakeLink({ n1: { a: 10 } });
  const rtc = new FakeLink({ tab1: { a: 5, b: 20 }, tab2: { c: 30 } }, new Set(['tab3']));
  const stats = new TransferStats();
  let closed = 0;
  const f = new RoutingPeerFetcher({
    localId: 'me',
    stats,
    route: (h) => (h.address.startsWith('tcp://') ? { path: 'tcp', fetcher: tcp } : { path: 'webrtc', fetcher: rtc }),
    onClose: () => closed++,
  });
  const holders: Holder[] = [
    { id: 'me', address: 'webrtc' }, // this worker itself: skipped
    { id: 'n1', address: 'tcp://127.0.0.1:9' },
    { id: 'tab3', address: 'webrtc' }, // fails: the next holder is tried
    { id: 'tab1', address: 'webrtc' },
  ];
  const r = await f.fetch(holders, ['a', 'b', 'z'], { signal: signal() });
  assert.deepEqual([...r.values.keys()].sort(), ['a', 'b']);
  assert.equal(r.values.get('a')?.byteLength, 10, 'the first holder that has it wins');
  // 'z': this worker is listed first and (its store looked in before fetching) lacks it.
  assert.deepEqual(r.missing, [{ key: 'z', holder: 'me', absent: true }]);
  assert.deepEqual(tcp.asked, ['n1:a,b,z']);
  assert.deepEqual(rtc.asked, ['tab3:b,z', 'tab1:b,z']);
  assert.deepEqual([...stats.counts], [
    ['n1 tcp', 10],
    ['tab1 webrtc', 20],
  ]);
  f.close();
  assert.equal(closed, 1);
});

test('a holder said missing is blamed before one that failed; this worker listed alone lacks the value', async () => {
  const link = new FakeLink({ n1: {} }, new Set(['n0']));
  const f = new RoutingPeerFetcher({ localId: 'me', route: () => ({ path: 'tcp', fetcher: link }) });
  const n = (id: string) => ({ id, address: `tcp://${id}:9` });
  assert.deepEqual((await f.fetch([n('n0'), n('n1')], ['k'], { signal: signal() })).missing, [
    { key: 'k', holder: 'n1', absent: true },
  ]);
  // The scheduler thinks this worker holds it (a wrong claim): it is blamed, so that copy is dropped.
  assert.deepEqual((await f.fetch([n('me')], ['k'], { signal: signal() })).missing, [
    { key: 'k', holder: 'me', absent: true },
  ]);
  assert.deepEqual(link.asked, ['n0:k', 'n1:k'], 'never asks itself');
});

test('when every holder fails, the first holder is blamed; an abort rejects', async () => {
  const rtc = new FakeLink({}, new Set(['t1', 't2']));
  const f = new RoutingPeerFetcher({ localId: 'me', route: () => ({ path: 'webrtc', fetcher: rtc }) });
  const holders = [
    { id: 't1', address: 'webrtc' },
    { id: 't2', address: 'webrtc' },
  ];
  assert.deepEqual((await f.fetch(holders, ['k'], { signal: signal() })).missing, [{ key: 'k', holder: 't1' }]);
  const ac = new AbortController();
  ac.abort(new Error('stop'));
  await assert.rejects(f.fetch(holders, ['k'], { signal: ac.signal }), /stop/);
});

test("bytes that do not match the producer's size or hash are refused: the next holder is asked, else the bad one is blamed", async () => {
  const good = new Uint8Array([1, 2, 3, 4]);
  const flipped = new Uint8Array([1, 2, 3, 5]);
  const hash = await valueHash(good);
  const links: Record<string, Uint8Array> = { bad: flipped, short: good.subarray(0, 3), ok: good };
  const fetchFrom = async (holder: Holder, keys: readonly string[]): Promise<HolderDelivery> => ({
    values: new Map(keys.map((k) => [k, links[holder.id] as Uint8Array])),
    missing: [],
  });
  const digest = nodeValueHash;
  const expect = new Map([['k', { nbytes: 4, hash }]]);
  const at = (...ids: string[]): Holder[] => ids.map((id) => ({ id, address: 'webrtc' }));

  const r1 = await fetchWithFailover(at('bad', 'short', 'ok'), ['k'], { signal: signal(), expect }, fetchFrom, {
    digest,
  });
  assert.deepEqual([...(r1.values.get('k') ?? [])], [1, 2, 3, 4], 'the holder with the right bytes wins');
  assert.deepEqual(r1.missing, []);

  const r2 = await fetchWithFailover(at('short', 'bad'), ['k'], { signal: signal(), expect }, fetchFrom, { digest });
  assert.equal(r2.values.size, 0);
  assert.deepEqual(
    r2.missing,
    [{ key: 'k', holder: 'short', absent: true }],
    'the first holder that sent bad bytes is blamed',
  );

  // The same value through WebAssembly (what a tab uses) hashes the same.
  assert.equal(await valueHash(good), hash);
  const r3 = await fetchWithFailover(at('bad', 'ok'), ['k'], { signal: signal(), expect }, fetchFrom, {
    digest: valueHash,
  });
  assert.equal(r3.values.get('k'), good);
});

test('a holder whose fetches keep failing is blamed as lacking the value after HOLDER_FAILURES_TO_BLAME in a row; a delivery resets it', async () => {
  const failures = new HolderFailures();
  let up = false;
  const fetchFrom = async (_h: Holder, keys: readonly string[]): Promise<HolderDelivery> => {
    if (!up) throw new Error('stalled');
    return { values: new Map(keys.map((k) => [k, new Uint8Array(1)])), missing: [] };
  };
  const holders: Holder[] = [{ id: 'h', address: 'tcp://h:9' }];
  const once = () => fetchWithFailover(holders, ['k'], { signal: signal() }, fetchFrom, { failures });
  for (let i = 1; i < HOLDER_FAILURES_TO_BLAME; i++) assert.deepEqual((await once()).missing, [{ key: 'k', holder: 'h' }], `failure ${i}: not blamed`);
  assert.deepEqual((await once()).missing, [{ key: 'k', holder: 'h', absent: true }], 'blamed: its copy is dropped');
  up = true;
  assert.equal((await once()).values.size, 1);
  up = false;
  assert.deepEqual((await once()).missing, [{ key: 'k', holder: 'h' }], 'the count starts again after a delivery');
});

test('one link failing several fetches at once is one failure of its holder, not enough to blame it', async () => {
  // A wedged data channel closes with one error, which every fetch waiting on it gets.
  const failures = new HolderFailures();
  const closed = new Error('data channel accepted nothing');
  const fetchFrom = async (): Promise<HolderDelivery> => {
    throw closed;
  };
  const holders: Holder[] = [{ id: 'h', address: 'webrtc' }];
  const results = await Promise.all(
    Array.from({ length: HOLDER_FAILURES_TO_BLAME + 1 }, (_, i) =>
      fetchWithFailover(holders, [`k${i}`], { signal: signal() }, fetchFrom, { failures }),
    ),
  );
  for (const [i, r] of results.entries()) assert.deepEqual(r.missing, [{ key: `k${i}`, holder: 'h' }], 'not blamed');
  assert.equal(failures.blamed('h'), false);
  assert.equal(failures.failed('h', new Error('the next link failed too')), 2, 'a new failure counts on from one');
});
