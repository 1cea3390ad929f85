/**
 * Getting results: `gather {id, keys}` to the scheduler (requests of one turn merged, one request
 * in flight per key), then for each item its inline bytes, its error, or a direct fetch from the
 * workers that hold it (next holder on `data-missing` or a failed link; asking the scheduler again,
 * after a pause that doubles, up to GATHER_ATTEMPTS, when no holder could hand it over). Holders
 * only reachable over WebRTC (tabs) are skipped: the scheduler copies such values onto a Node
 * worker first when it has one; with none, the wait fails with a ConnectionError saying so. Each key goes to its holders with the get ticket the gather reply
 * gave for it; a holder that refuses the ticket (its scheduler restarted) is passed over, and its
 * copy is not reported missing.
 */
import {
  AuthError,
  ConnectionError,
  ErrorCode,
  INLINE_VALUE_MAX_BYTES,
  ProtocolError,
  ReplyCode,
  WEBRTC_ADDRESS,
  errorFromWire,
  valueHash,
  valueMismatch,
  type ExpectedValue,
  type ClientChannel,
  type ErrorReply,
  type Holder,
  type MeshworkError,
} from '@meshwork/protocol';
import { arrivedOr } from '@meshwork/datalink';
import {
  GATHER_ATTEMPTS,
  GATHER_RETRY_MAX_MS,
  GATHER_RETRY_MS,
  ONLY_TABS_GATHER_ATTEMPTS,
  PEER_FETCH_BATCH_TIMEOUT_MS,
} from './constants.js';
import type { Connection } from './connection.js';
import { fetchFromPeer } from './peer-fetch.js';
import type { Platform } from './platform.js';

/** How one key settled: its encoded value, or the error the task (or its data) ended with. */
export type Outcome = { value: Uint8Array } | { error: MeshworkError };

type GatherReply = Extract<ClientChannel.ServerToClient, { type: 'gather-reply' }>;

interface Inflight {
  promise: Promise<Outcome>;
  resolve(outcome: Outcome): void;
  reject(error: Error): void;
  requestId: number;
  attempts: number;
  /** The pause before asking again, while one runs. */
  timer?: ReturnType<typeof setTimeout> | undefined;
}

/** A value to fetch from its holders, and the size and hash its bytes must match. */
interface RemoteItem {
  key: string;
  entry: Inflight;
  holders: Holder[];
  expect: ExpectedValue;
  /** What the holders' data links ask for this key (from the gather reply). */
  ticket: string | undefined;
}

export class Results {
  private readonly inflight = new Map<string, Inflight>();
  private readonly requests = new Map<number, Set<string>>();

  constructor(
    private readonly conn: Connection,
    private readonly platform: Platform,
  ) {}

  /** The outcome of `key`; rejects (ConnectionError, ProtocolError) only when it could not be learnt. */
  get(key: string): Promise<Outcome> {
    const known = this.inflight.get(key);
    if (known) return known.promise;
    let resolve!: (o: Outcome) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<Outcome>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const entry: Inflight = { promise, resolve, reject, requestId: 0, attempts: 0 };
    const done = (): void => {
      clearTimeout(entry.timer);
      if (this.inflight.get(key) === entry) this.inflight.delete(key);
    };
    entry.resolve = (o) => (done(), resolve(o));
    entry.reject = (e) => (done(), reject(e));
    this.request(key, entry);
    this.inflight.set(key, entry);
    return promise;
  }

  private request(key: string, entry: Inflight): void {
    const message = this.conn.gather(() => {
      const id = this.conn.nextRequestId();
      this.requests.set(id, new Set());
      return id;
    });
    message.keys.push(key);
    this.requests.get(message.id)?.add(key);
    entry.requestId = message.id;
    entry.attempts++;
  }

  onReply(reply: GatherReply): void {
    const asked = this.requests.get(reply.id);
    if (!asked) return;
    this.requests.delete(reply.id);
    const remote: RemoteItem[] = [];
    for (const item of reply.items) {
      const entry = this.inflight.get(item.key);
      if (!asked.delete(item.key) || !entry || entry.requestId !== reply.id) continue;
      // A key really cancelled was forgotten on `key-cancelled`, which comes first: a CANCELLED
      // item for a key still asked for belongs to another key of the same gather. Ask again.
      if (item.error?.code === ErrorCode.CANCELLED && entry.attempts < GATHER_ATTEMPTS) this.request(item.key, entry);
      else if (item.error) entry.resolve({ error: errorFromWire({ ...item.error, key: item.error.key ?? item.key }) });
      else if (item.value) entry.resolve({ value: item.value });
      else if (item.holders && item.holders.length > 0) {
        const holders = item.holders.filter((h) => this.reachable(h));
        if (holders.length === 0) this.retry(item.key, entry, item.holders);
        else remote.push({ key: item.key, entry, holders, expect: { nbytes: item.nbytes, hash: item.hash }, ticket: item.ticket });
      }
      else entry.reject(new ProtocolError(`gather-reply for '${item.key}' has neither a value, holders nor an error`));
    }
    for (const key of asked) {
      const entry = this.inflight.get(key);
      if (entry?.requestId === reply.id) entry.reject(new ProtocolError(`gather-reply ${reply.id} left out '${key}'`));
    }
    if (remote.length > 0) void this.fetchRemote(remote, 0);
  }

  /** An `error` reply naming one of our gathers fails the keys it asked for. */
  onErrorReply(reply: ErrorReply): boolean {
    const asked = reply.replyTo === undefined ? undefined : this.requests.get(reply.replyTo);
    if (!asked || reply.replyTo === undefined) return false;
    this.requests.delete(reply.replyTo);
    for (const key of asked) {
      const entry = this.inflight.get(key);
      if (entry?.requestId === reply.replyTo)
        entry.reject(
          reply.code === ReplyCode.NOT_YOURS
            ? new AuthError(`scheduler refused gather: ${reply.message}`)
            : new ProtocolError(`scheduler refused gather: ${reply.code}: ${reply.message}`),
        );
    }
    return true;
  }

  /** Tries holder `index` of each item, grouped by address: one link and one `get-data` per worker. */
  private async fetchRemote(items: RemoteItem[], index: number): Promise<void> {
    const byAddress = new Map<string, typeof items>();
    const exhausted: typeof items = [];
    for (const item of items) {
      const holder = item.holders[index];
      if (!holder) exhausted.push(item);
      else byAddress.set(holder.address, [...(byAddress.get(holder.address) ?? []), item]);
    }
    for (const item of exhausted) this.retry(item.key, item.entry, item.holders);
    const retryNext: typeof items = [];
    const digest = arrivedOr(this.platform.valueHash ?? valueHash);
    await Promise.all(
      [...byAddress].map(async ([address, group]) => {
        try {
          const { found, refused } = await fetchFromPeer(
            this.platform,
            address,
            { id: this.conn.id },
            group.map((g) => ({ key: g.key, ticket: g.ticket })),
            PEER_FETCH_BATCH_TIMEOUT_MS,
          );
          for (const g of group) {
            const bytes = found.get(g.key);
            if (bytes && (await valueMismatch(bytes, g.expect, digest)) === undefined) {
              g.entry.resolve({ value: bytes });
              continue;
            }
            if (refused.has(g.key)) {
              retryNext.push(g);
              continue;
            }
            // Not there, or bytes that do not match what their producer reported: the scheduler
            // drops that copy (recomputing the value if it was the last); the next holder is asked.
            const holder = g.holders[index];
            if (holder && this.conn.isOpen) this.conn.send({ type: 'missing-data', key: g.key, holder: holder.id });
            retryNext.push(g);
          }
        } catch (e) {
          if (!this.platform.directLinks) for (const g of group) g.entry.reject(e as Error);
          else retryNext.push(...group);
        }
      }),
    );
    if (retryNext.length > 0) await this.fetchRemote(retryNext, index + 1);
  }

  /** A client dials Node workers' data links (TCP, or WebSocket from a page); a tab (address 'webrtc') it cannot reach. */
  private reachable(h: Holder): boolean {
    return !this.platform.directLinks || h.address !== WEBRTC_ADDRESS;
  }

  /** Asks the scheduler again for `key` after a pause, or fails the wait once the attempts are spent. */
  private retry(key: string, entry: Inflight, holders: readonly Holder[]): void {
    const onlyTabs = holders.length > 0 && holders.every((h) => h.address === WEBRTC_ADDRESS);
    const giveUp = (): void => {
      const where = holders.map((h) => `${h.id} (${h.address})`).join(', ');
      entry.reject(
        new ConnectionError(
          onlyTabs
            ? onlyTabsMessage(key, where)
            : `could not fetch '${key}' from any holder after ${entry.attempts} attempt(s): ${where}`,
        ),
      );
    };
    if (this.inflight.get(key) !== entry) return;
    if (entry.attempts >= (onlyTabs ? ONLY_TABS_GATHER_ATTEMPTS : GATHER_ATTEMPTS) || !this.conn.isOpen) return giveUp();
    entry.requestId = 0; // a reply to the last request is stale now
    const pause = Math.min(GATHER_RETRY_MS * 2 ** (entry.attempts - 1), GATHER_RETRY_MAX_MS);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (this.inflight.get(key) !== entry) return;
      if (this.conn.isOpen) this.request(key, entry);
      else giveUp();
    }, pause);
  }

  /**
   * The key was cancelled: a wait in flight settles with `error` now, and a later `get` asks anew
   * (a reply to the old request is ignored).
   */
  forget(key: string, error: MeshworkError): void {
    this.inflight.get(key)?.resolve({ error });
  }

  /** The connection is gone: every wait fails with `error`. */
  failAll(error: ConnectionError): void {
    const entries = [...this.inflight.values()];
    this.inflight.clear();
    this.requests.clear();
    for (const entry of entries) entry.reject(error);
  }
}

/**
 * Why a value held only by tabs cannot be had: clients reach workers' data links (Node workers);
 * the scheduler copies such a value onto a Node worker for a gather, when the cluster has one.
 */
export function onlyTabsMessage(key: string, where: string): string {
  return (
    `'${key}' is held only by browser tabs (${where}) and is over ${INLINE_VALUE_MAX_BYTES} bytes: a client ` +
    'fetches large values from Node workers only. Start a Node worker (npx meshwork worker <scheduler address>) ' +
    'and the scheduler copies such values onto it, or return smaller results'
  );
}
