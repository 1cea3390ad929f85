/** Values that are not inline: fetched directly from the workers that hold them (fake TCP workers). */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PeerChannel, PeerFrameReader, encodePeerFrame, parseMessage, typesOf } from '@meshwork/protocol';
import { Client, ConnectionError } from '../src/index.js';
import { platform as browserPlatform } from '../src/platform.browser.js';
import { platform } from '../src/platform.node.js';
import { FakeScheduler } from './fake-scheduler.js';

const requestTypes = typesOf(PeerChannel.PeerRequest);

/** A worker's data link that holds `store`; records the requests it got. */
async function fakeWorker(
  store: Map<string, Uint8Array>,
): Promise<{ server: Server; address: string; requests: PeerChannel.PeerRequest[] }> {
  const requests: PeerChannel.PeerRequest[] = [];
  const server = createServer((socket) => {
    const reader = new PeerFrameReader();
    socket.on('data', (chunk) => {
      for (const { header } of reader.push(chunk)) {
        const parsed = parseMessage(header, PeerChannel.PeerRequest, requestTypes);
        if (!parsed.ok) throw new Error(parsed.error.message);
        requests.push(parsed.message);
        if (parsed.message.type !== 'get-data') continue;
        const { id, keys } = parsed.message;
        for (const key of keys) {
          const bytes = store.get(key);
          const parts = bytes
            ? encodePeerFrame({ type: 'data', id, key, nbytes: bytes.byteLength }, bytes)
            : encodePeerFrame({ type: 'data-missing', id, key });
          for (const p of parts) socket.write(p);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, address: `tcp://127.0.0.1:${(server.address() as { port: number }).port}`, requests };
}

describe('direct fetch from holders', () => {
  let fake: FakeScheduler;
  let client: Client;
  let empty: Awaited<ReturnType<typeof fakeWorker>>;
  let full: Awaited<ReturnType<typeof fakeWorker>>;
  const store = new Map<string, Uint8Array>();
  let holders: { id: string; address: string }[] = [];
  const big = (n: number): Float64Array => new Float64Array(n).fill(1.5);
  const broken = (n: number): number => n;

  before(async () => {
    empty = await fakeWorker(new Map());
    full = await fakeWorker(store);
    fake = await FakeScheduler.start({
      holdersFor: (key) => {
        const r = fake.results.get(key);
        if (key.startsWith('big-') && r?.value) store.set(key, r.value);
        return key.startsWith('big-') || key.startsWith('broken-') ? holders : undefined;
      },
    });
    client = await Client.connect(fake.address, { platform });
  });
  after(async () => {
    await client.close();
    await fake.close();
    empty.server.close();
    full.server.close();
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
    assert.deepEqual(full.requests[0], { type: 'hello', protocolVersion: 1, from: 'client-1' });
    assert.deepEqual(full.requests[1], { type: 'get-data', id: 1, keys: [f.key] });
    assert.equal(empty.requests.filter((r) => r.type === 'get-data').length, 1);
  });

  it('asks the scheduler again when no holder has it, then fails with ConnectionError', async () => {
    holders = [{ id: 'w-empty', address: empty.address }];
    const f = client.submit(broken, 1);
    await assert.rejects(f.result(), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.match(e.message, /could not fetch .* after 3 attempt/);
      return true;
    });
    assert.equal(fake.of('gather').filter((g) => g.keys.includes(f.key)).length, 3);
    assert.equal(f.status, 'finished', 'the task did finish; only fetching failed');
  });

  it('in a browser, fails values that are not inline with a clear ConnectionError', async () => {
    holders = [{ id: 'w-full', address: full.address }];
    const hybrid = {
      ...platform,
      name: 'browser',
      directLinks: false,
      openPeerStream: (address: string) =>
        browserPlatform.openPeerStream(address, { onOpen() {}, onData() {}, onClose() {} }),
    };
    const other = await Client.connect(fake.address, { platform: hybrid });
    await assert.rejects(other.submit(big, 30_000).result(), /not supported yet/);
    await other.close();
  });
});
