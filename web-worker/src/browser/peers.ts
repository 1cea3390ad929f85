/**
 * The tab's data plane. A tab cannot open TCP, so every other worker (Node or browser) is reached
 * over WebRTC (peers/ WebRtcTransport), addressed by worker id: a holder's `address` is ignored.
 * Signals travel through the scheduler's WebSocket (`signal {to, payload}` out, `signal {from,
 * payload}` in). The same transport answers other workers' `get-data` from this tab's store.
 */
import { PEER_FETCH_TIMEOUT_MS, type Holder, type WorkerChannel } from '@meshwork/protocol';
import { abortable } from '../core/abortable.js';
import type { FetchResult, PeerFetcher } from '../core/interfaces.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { Store } from '../core/store.js';
import {
  WebRtcTransport,
  parseSignal,
  type RtcIceServer,
  type RtcPeerConnectionConstructor,
  type SignalPayload,
  type Signaller,
} from '../peers/index.js';
import type { PeerBook } from './peer-book.js';

/** The relay as the transport sees it, over the scheduler link. */
export class SchedulerSignaller implements Signaller {
  private receiver: ((from: string, payload: SignalPayload) => void) | undefined;

  constructor(
    /** Queues one message to the scheduler (batched with the rest of this turn's). */
    private readonly sendMessage: (msg: WorkerChannel.WorkerToServer) => void,
    private readonly book?: PeerBook,
  ) {}

  send(to: string, payload: SignalPayload): void {
    this.sendMessage({ type: 'signal', to, payload });
  }

  subscribe(receiver: (from: string, payload: SignalPayload) => void): () => void {
    this.receiver = receiver;
    return () => {
      if (this.receiver === receiver) this.receiver = undefined;
    };
  }

  /** The payload of a `signal {from, payload}` from the scheduler (validated by the frame parser, and again here). */
  deliver(from: string, raw: unknown): void {
    const payload = parseSignal(raw);
    const receiver = this.receiver;
    if (!payload || !receiver) return;
    if (this.book) this.book.attributeTo(from, () => receiver(from, payload));
    else receiver(from, payload);
  }
}

export interface TabPeersOptions {
  localId: string;
  signaller: SchedulerSignaller;
  RTCPeerConnection: RtcPeerConnectionConstructor;
  iceServers: RtcIceServer[];
  /** Where `get-data` from other workers is answered from. */
  store: Store;
  book?: PeerBook;
  logger?: Logger;
  /** Gives up on a holder that sends nothing for this long, in milliseconds. */
  timeoutMs?: number;
}

/** The PeerFetcher of a tab, and the server side of its data plane. */
export class TabPeers implements PeerFetcher {
  readonly transport: WebRtcTransport;
  private readonly log: Logger;
  private readonly timeoutMs: number;

  constructor(private readonly o: TabPeersOptions) {
    this.log = o.logger ?? silentLogger;
    this.timeoutMs = o.timeoutMs ?? PEER_FETCH_TIMEOUT_MS;
    const Ctor = o.book ? o.book.instrument(o.RTCPeerConnection) : o.RTCPeerConnection;
    this.transport = new WebRtcTransport({
      localId: o.localId,
      signaller: o.signaller,
      RTCPeerConnection: Ctor,
      iceServers: o.iceServers,
      logger: this.log,
    });
    // Values a client puts here (scatter) are not accepted yet: the scheduler plans scatters only
    // onto workers with a data address, and a tab has none.
    this.transport.serve({ lookup: (key) => o.store.get(key) });
  }

  async fetch(
    holders: readonly Holder[],
    keys: readonly string[],
    { signal }: { signal: AbortSignal },
  ): Promise<FetchResult> {
    const values = new Map<string, Uint8Array>();
    const saidMissing = new Map<string, string>();
    let remaining = [...new Set(keys)];
    for (const holder of holders) {
      if (remaining.length === 0) break;
      signal.throwIfAborted();
      if (holder.id === this.o.localId) continue;
      try {
        const connecting = this.connect(holder.id, signal);
        const link = await abortable(connecting, signal);
        const got = await link.getData(remaining, { signal, timeoutMs: this.timeoutMs });
        for (const [key, bytes] of got.values) values.set(key, bytes);
        for (const key of got.missing) if (!saidMissing.has(key)) saidMissing.set(key, holder.id);
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        this.log.warn('fetch from a holder failed; trying the next', { holder: holder.id, error: e });
      }
      remaining = remaining.filter((k) => !values.has(k));
    }
    const blame = holders[0]?.id ?? '';
    return { values, missing: remaining.map((key) => ({ key, holder: saidMissing.get(key) ?? blame })) };
  }

  close(): void {
    this.transport.close();
  }

  private connect(id: string, signal: AbortSignal): ReturnType<WebRtcTransport['connect']> {
    const open = (): ReturnType<WebRtcTransport['connect']> => this.transport.connect({ id }, { signal });
    return this.o.book ? this.o.book.attributeTo(id, open) : open();
  }
}
