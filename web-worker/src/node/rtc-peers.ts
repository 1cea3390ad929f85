/**
 * A Node worker's WebRTC side, so that browser tabs can trade data with it: a WebRtcTransport on
 * node-datachannel (bound to 127.0.0.1 when the worker's data link is on loopback), signalling
 * through the scheduler (`signal {to, payload}` out on the control link, `signal {from, payload}`
 * in through WorkerCore's `onSignal`, handed to `deliver`), ICE servers from the welcome. It
 * answers `get-data` from the worker's store and fetches from holders by id (`fetcher`).
 * Incoming values land in shared memory, like everything else the worker holds.
 */
import type { WorkerChannel } from '@meshwork/protocol';
import { silentLogger, type Logger } from '../core/logger.js';
import type { Store } from '../core/store.js';
import type { TransferStats } from '../core/transfer-stats.js';
import {
  FallbackTransport,
  RelayTransport,
  SchedulerSignaller,
  TransportFetcher,
  WebRtcTransport,
  type RtcIceServer,
  type RtcPeerConnectionConstructor,
} from '@meshwork/datalink';
import { nodeRtcPeerConnection, retainNodeRtc } from '@meshwork/datalink/node';
import { sharedBytes } from './shared-memory.js';

/** What node-datachannel binds to when the worker's data link is on a loopback address. */
export const LOOPBACK_RTC_BIND = '127.0.0.1';

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

export interface NodeRtcPeersOptions {
  localId: string;
  iceServers: RtcIceServer[];
  /** Queues one message to the scheduler on the control link. */
  sendMessage(msg: WorkerChannel.WorkerToServer): void;
  /** Where other workers' `get-data` is answered from. */
  store: Store;
  stats?: TransferStats;
  /** The worker's data-link host: a loopback one keeps ICE on 127.0.0.1. */
  host: string;
  /** Default: node-datachannel's, with the bind address above. */
  RTCPeerConnection?: RtcPeerConnectionConstructor;
  logger?: Logger;
}

export class NodeRtcPeers {
  readonly transport: FallbackTransport;
  private readonly relay: RelayTransport;
  readonly fetcher: TransportFetcher;
  /** Through the scheduler only: for a Node holder whose data link cannot be reached. */
  readonly relayFetcher: TransportFetcher;
  private readonly signaller: SchedulerSignaller;
  private readonly release: () => void;

  constructor(o: NodeRtcPeersOptions) {
    const log = o.logger ?? silentLogger;
    this.signaller = new SchedulerSignaller((msg) => o.sendMessage(msg));
    const RTC = o.RTCPeerConnection ?? nodeRtcPeerConnection(isLoopbackHost(o.host) ? { bindAddress: LOOPBACK_RTC_BIND } : {});
    this.release = retainNodeRtc();
    const direct = new WebRtcTransport({
      localId: o.localId,
      signaller: this.signaller,
      RTCPeerConnection: RTC,
      iceServers: o.iceServers,
      allocate: sharedBytes,
      logger: log,
    });
    this.relay = new RelayTransport({ localId: o.localId, post: (m) => o.sendMessage(m), allocate: sharedBytes, logger: log });
    this.transport = new FallbackTransport(direct, this.relay, { logger: log });
    this.transport.serve({
      lookup: (key, peer, path) => {
        const bytes = o.store.get(key);
        if (bytes) {
          o.stats?.sent(peer, path, bytes.byteLength);
          log.debug('serving a value to a peer', { peer, path, key, bytes: bytes.byteLength });
        }
        return bytes;
      },
    });
    this.fetcher = new TransportFetcher({ transport: this.transport });
    this.relayFetcher = new TransportFetcher({ transport: this.relay });
  }

  /** Peer data the scheduler relayed from another worker. */
  deliverRelay(msg: WorkerChannel.RelayFrom): void {
    this.relay.deliver(msg);
  }

  /** A signal the scheduler relayed from worker `from`. */
  deliver(from: string, payload: unknown): void {
    this.signaller.deliver(from, payload);
  }

  /** Closes every connection, then lets node-datachannel stop if no one else in the process uses it. */
  close(): void {
    this.transport.close();
    this.release();
  }
}
