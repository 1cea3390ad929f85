/**
 * The asking half of a PeerSession: `get-data` and `put-data` requests on a FrameLink,
 * multiplexed by id, with each request's replies gathered. Replies come in already validated.
 */
import {
  ConnectionError,
  PEER_FETCH_TIMEOUT_MS,
  ProtocolError,
  TimeoutError,
  type PeerChannel,
} from '@meshwork/protocol';
import type { Delivery, FrameLink, GetOptions, PutOptions, RequestOptions } from './link.js';

interface Pending {
  kind: 'get' | 'put';
  /** Keys still to come (get-data), or the one key stored (put-data). */
  remaining: Set<string>;
  delivery: Delivery;
  timer: ReturnType<typeof setTimeout>;
  resolve(d: Delivery): void;
  reject(e: Error): void;
}

export class PeerRequester {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closedBy: Error | undefined;
  /** Date.now() of the last chunk received (timers are re-armed from it: `Timeout.refresh` is Node-only). */
  private lastProgress = 0;

  constructor(
    private readonly link: FrameLink,
    private readonly name: string,
    /** Called when a request times out: a silent peer is stuck, so the owner drops the link. */
    private readonly onStall: (e: Error) => void,
  ) {}

  get busy(): boolean {
    return this.pending.size > 0;
  }

  getData(keys: readonly string[], o: GetOptions): Promise<Delivery> {
    const unique = [...new Set(keys)];
    const t = o.tickets;
    const tickets = t && unique.some((k) => t.get(k) !== undefined) ? { tickets: unique.map((k) => t.get(k) ?? '') } : {};
    return this.request('get', new Set(unique), o, (id, signal) =>
      this.link.send({ type: 'get-data', id, keys: unique, ...tickets }, undefined, { signal }),
    );
  }

  async putData(key: string, bytes: Uint8Array, o: PutOptions): Promise<void> {
    const ticket = o.ticket !== undefined ? { ticket: o.ticket } : {};
    await this.request('put', new Set([key]), o, (id, signal) =>
      this.link.send({ type: 'put-data', id, key, ...ticket }, bytes, { signal }),
    );
  }

  /** Every chunk received is progress for every request (a big value is not cut short). */
  progress(): void {
    this.lastProgress = Date.now();
  }

  reply(msg: PeerChannel.PeerReply, body: Uint8Array): void {
    switch (msg.type) {
      case 'data': {
        if (msg.nbytes !== body.byteLength) {
          return this.link.close(
            new ProtocolError(`${this.name} sent ${body.byteLength} bytes for '${msg.key}', announcing ${msg.nbytes}`),
          );
        }
        const p = this.pending.get(msg.id);
        if (!p || p.kind !== 'get' || !p.remaining.delete(msg.key)) return; // a request given up on, or a repeat
        p.delivery.values.set(msg.key, body);
        if (p.remaining.size === 0) p.resolve(p.delivery);
        return;
      }
      case 'data-missing': {
        const p = this.pending.get(msg.id);
        if (!p || p.kind !== 'get' || !p.remaining.delete(msg.key)) return;
        p.delivery.missing.push(msg.key);
        if (p.remaining.size === 0) p.resolve(p.delivery);
        return;
      }
      case 'put-ok': {
        const p = this.pending.get(msg.id);
        if (p && p.kind === 'put' && p.remaining.delete(msg.key) && p.remaining.size === 0) p.resolve(p.delivery);
        return;
      }
      case 'error': {
        const p = msg.replyTo !== undefined ? this.pending.get(msg.replyTo) : undefined;
        if (p && msg.key !== undefined && p.kind === 'get') {
          // One key refused (a client's ticket): the others are still coming.
          if (!p.remaining.delete(msg.key)) return;
          p.delivery.refused.set(msg.key, `${msg.code}: ${msg.message}`);
          if (p.remaining.size === 0) p.resolve(p.delivery);
          return;
        }
        if (p) return p.reject(new ProtocolError(`${this.name} refused the request (${msg.code}): ${msg.message}`));
        return this.link.close(new ProtocolError(`${this.name} refused the connection (${msg.code}): ${msg.message}`));
      }
      default:
        msg satisfies never;
    }
  }

  /** Fails every request in flight; later requests reject with `reason`. */
  close(reason: Error): void {
    this.closedBy ??= reason;
    for (const p of [...this.pending.values()]) p.reject(reason);
  }

  private request(
    kind: Pending['kind'],
    expect: Set<string>,
    o: RequestOptions,
    write: (id: number, signal: AbortSignal) => Promise<void>,
  ): Promise<Delivery> {
    if (this.closedBy || this.link.closed)
      return Promise.reject(this.closedBy ?? new ConnectionError(`link to ${this.name} closed`));
    const { signal } = o;
    if (signal.aborted) return Promise.reject(signal.reason);
    const timeoutMs = o.timeoutMs ?? PEER_FETCH_TIMEOUT_MS;
    const id = this.nextId++;
    return new Promise<Delivery>((resolve, reject) => {
      const onAbort = (): void => settle(() => reject(signal.reason));
      const settle = (fn: () => void): void => {
        if (!this.pending.delete(id)) return;
        clearTimeout(p.timer);
        signal.removeEventListener('abort', onAbort);
        fn();
      };
      const started = Date.now();
      const onTimer = (): void => {
        const quiet = Date.now() - Math.max(started, this.lastProgress);
        if (quiet < timeoutMs) {
          p.timer = setTimeout(onTimer, timeoutMs - quiet);
          return;
        }
        const e = new TimeoutError(`no data from ${this.name} for ${timeoutMs} ms`);
        settle(() => reject(e));
        this.onStall(e);
      };
      const p: Pending = {
        kind,
        remaining: expect,
        delivery: { values: new Map(), missing: [], refused: new Map() },
        timer: setTimeout(onTimer, timeoutMs),
        resolve: (d) => settle(() => resolve(d)),
        reject: (e) => settle(() => reject(e)),
      };
      this.pending.set(id, p);
      signal.addEventListener('abort', onAbort, { once: true });
      if (expect.size === 0) return p.resolve(p.delivery);
      write(id, signal).catch((e: unknown) => p.reject(e as Error));
    });
  }
}
