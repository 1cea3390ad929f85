// The compliance suite (compliance.ts) over each of the three links: TCP between Node processes'
// sockets, a WebRTC data channel (node-datachannel on loopback), and the scheduler's relay (two
// relay channels wired through a forwarder that plays the scheduler).
import { after } from 'node:test';
import { createServer, type Socket } from 'node:net';
import type { WorkerChannel } from '@meshwork/protocol';
import { RelayChannel } from '../src/relay.js';
import { acceptedLink, dialLink } from '../src/tcp/socket-link.node.js';
import { ChannelStream } from '../src/webrtc/channel-stream.js';
import { PeerConnection } from '../src/webrtc/peer-connection.js';
import { nodeRtcPeerConnection, shutdownNodeRtc } from '../src/webrtc/rtc.node.js';
import { linkCompliance, type LinkPair } from './compliance.js';

const MiB = 1024 * 1024;
/** Bytes that are no peer frame: a header length of 0xffffffff. */
const GARBAGE = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 2, 3]);

/** What each pair opened, closed when the suite ends. */
const opened: (() => void)[] = [];
after(() => {
  for (const close of opened) close();
  shutdownNodeRtc();
});

linkCompliance({
  name: 'tcp',
  bigBytes: 100e6,
  async pair(): Promise<LinkPair> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const port = (server.address() as { port: number }).port;
    const a = await dialLink(`tcp://127.0.0.1:${port}`);
    const socket = await accepted;
    server.close();
    const b = acceptedLink(socket);
    opened.push(() => (a.close(), b.close(), socket.destroy()));
    return { a, b, garbageToA: () => socket.write(GARBAGE), vanish: () => socket.destroy() };
  },
});

const RTC = nodeRtcPeerConnection({ bindAddress: '127.0.0.1' });

linkCompliance({
  name: 'webrtc',
  bigBytes: 16 * MiB,
  async pair(): Promise<LinkPair> {
    const pcs: { a?: PeerConnection; b?: PeerConnection } = {};
    const deliver = (to: 'a' | 'b') => (p: Parameters<PeerConnection['receive']>[0]) => setImmediate(() => pcs[to]?.receive(p));
    pcs.a = new PeerConnection({ localId: 'a', remoteId: 'b', signal: deliver('b'), RTCPeerConnection: RTC });
    pcs.b = new PeerConnection({ localId: 'b', remoteId: 'a', signal: deliver('a'), RTCPeerConnection: RTC });
    const signal = AbortSignal.timeout(10_000);
    await Promise.all([pcs.a.whenOpen({ signal }), pcs.b.whenOpen({ signal })]);
    const [ca, cb] = [pcs.a.channel, pcs.b.channel];
    if (!ca || !cb) throw new Error('no channel');
    const a = new ChannelStream(ca, { name: 'b', maxMessageBytes: pcs.a.maxMessageBytes });
    const b = new ChannelStream(cb, { name: 'a', maxMessageBytes: pcs.b.maxMessageBytes });
    opened.push(() => (pcs.a?.close(), pcs.b?.close()));
    return { a, b, garbageToA: () => cb.send(GARBAGE), vanish: () => pcs.b?.close() };
  },
});

linkCompliance({
  name: 'relay',
  bigBytes: 16 * MiB,
  async pair(): Promise<LinkPair> {
    const ends: Record<string, RelayChannel> = {};
    let cut = false;
    // The scheduler: forwards each message to the other end on a later turn.
    const via = (from: string) => (m: WorkerChannel.WorkerToServer) => {
      if (m.type !== 'relay' || cut) return;
      const out: WorkerChannel.RelayFrom = { type: 'relay', from };
      if (m.data) out.data = m.data;
      if (m.ack !== undefined) out.ack = m.ack;
      if (m.close) out.close = true;
      setImmediate(() => ends[m.to]?.deliver(out));
    };
    ends['a'] = new RelayChannel('b', via('a'));
    ends['b'] = new RelayChannel('a', via('b'));
    const a = new ChannelStream(ends['a'], { name: 'b' });
    const b = new ChannelStream(ends['b'], { name: 'a' });
    opened.push(() => (a.close(), b.close()));
    return {
      a,
      b,
      garbageToA: () => ends['b']?.send(GARBAGE),
      // A worker gone: the scheduler tells the other end its relay closed.
      vanish: () => {
        cut = true;
        ends['a']?.deliver({ type: 'relay', from: 'b', close: true });
      },
    };
  },
});
