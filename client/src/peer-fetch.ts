/**
 * The client's side of a worker's data link (protocol/src/channels/peer.ts): `hello
 * {protocolVersion, from}`, then requests. Fetching: `get-data {id, keys, tickets}`, answered per
 * key by `data {id, key, nbytes}` (the encoded value as the frame body), `data-missing`, or an
 * `error` naming the key (its ticket refused). Scattering: `put-data {id, key, ticket}` with the
 * encoded value as the body, answered by `put-ok` or `error`. A client has no data token: each
 * key goes with the ticket the scheduler gave for it (protocol tickets.ts).
 * Runtime-free: the byte stream comes from the platform.
 */
import {
  ConnectionError,
  PROTOCOL_VERSION,
  PeerChannel,
  PeerFrameReader,
  ProtocolError,
  encodePeerFrame,
  parseMessage,
  typesOf,
} from '@meshwork/protocol';
import type { Platform, PeerStream } from './platform.js';

/** Who this client is to a worker's data link: its id (for the worker's logs and counters). */
export interface PeerIdentity {
  id: string;
}

/** A key to get or put, with the ticket the scheduler gave for it (none from a scheduler that gives none). */
export interface Ticketed {
  key: string;
  ticket?: string | undefined;
}

const replyTypes = typesOf(PeerChannel.PeerReply);
const REQUEST_ID = 1;

export interface PeerFetchResult {
  /** Encoded values, by key. */
  found: Map<string, Uint8Array>;
  /** Keys the worker said it does not hold. */
  missing: Set<string>;
  /** Keys it would not serve (their ticket refused), with its reason. */
  refused: Map<string, string>;
}

export interface PeerPutResult {
  /** Keys the worker stored (`put-ok`). */
  stored: Set<string>;
  /** Keys it refused, with its reason. */
  refused: Map<string, string>;
}

/** What to do after one reply: go on, stop (all answered), or fail the whole exchange. */
type Step = 'more' | 'done' | Error;

/**
 * Opens a link to `address`, writes hello and `requests`, and feeds each reply to `onReply` until
 * it says done. Rejects (ConnectionError/ProtocolError) if the link fails or times out first.
 */
function exchange(
  platform: Platform,
  address: string,
  from: PeerIdentity,
  requests: readonly Uint8Array[][],
  timeoutMs: number,
  what: string,
  onReply: (reply: PeerChannel.PeerReply, body: Uint8Array) => Step,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const reader = new PeerFrameReader();
    let stream: PeerStream | undefined;
    let done = false;
    const finish = (error?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream?.close();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(
      () => finish(new ConnectionError(`data link to ${address}: no answer for ${what} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onFrame = (header: unknown, body: Uint8Array): void => {
      const parsed = parseMessage(header, PeerChannel.PeerReply, replyTypes);
      if (!parsed.ok) return finish(new ProtocolError(`data link to ${address}: ${parsed.error.message}`));
      const step = onReply(parsed.message, body);
      if (step === 'done') finish();
      else if (step instanceof Error) finish(step);
    };
    try {
      stream = platform.openPeerStream(address, {
        onOpen() {
          const hello = { type: 'hello', protocolVersion: PROTOCOL_VERSION, from: from.id };
          stream?.write(encodePeerFrame(hello));
          for (const parts of requests) stream?.write(parts);
        },
        onData(chunk) {
          if (done) return;
          try {
            for (const frame of reader.push(chunk)) onFrame(frame.header, frame.body);
          } catch (e) {
            finish(new ProtocolError(`data link to ${address}: ${(e as Error).message}`));
          }
        },
        onClose(error) {
          finish(error ?? new ConnectionError(`data link to ${address} closed before answering ${what}`));
        },
      });
    } catch (e) {
      finish(e instanceof Error ? e : new ConnectionError(String(e)));
    }
  });
}

/** Asks one worker for `items`; rejects (ConnectionError/ProtocolError) if the link fails first. */
export async function fetchFromPeer(
  platform: Platform,
  address: string,
  from: PeerIdentity,
  items: readonly Ticketed[],
  timeoutMs: number,
): Promise<PeerFetchResult> {
  const tickets = new Map(items.map((i) => [i.key, i.ticket]));
  const wanted = new Set(tickets.keys());
  const result: PeerFetchResult = { found: new Map(), missing: new Set(), refused: new Map() };
  if (wanted.size === 0) return result;
  const keys = [...wanted];
  const ticketed = items.some((i) => i.ticket !== undefined);
  const request = encodePeerFrame({ type: 'get-data', id: REQUEST_ID, keys, ...(ticketed ? { tickets: keys.map((k) => tickets.get(k) ?? '') } : {}) });
  await exchange(platform, address, from, [request], timeoutMs, `${wanted.size} key(s)`, (msg, body) => {
    switch (msg.type) {
      case 'data':
        if (msg.id !== REQUEST_ID || !wanted.has(msg.key)) break;
        if (body.byteLength !== msg.nbytes) {
          return new ProtocolError(
            `data link to ${address}: '${msg.key}' announced ${msg.nbytes} bytes, sent ${body.byteLength}`,
          );
        }
        wanted.delete(msg.key);
        result.found.set(msg.key, body);
        break;
      case 'data-missing':
        if (msg.id !== REQUEST_ID || !wanted.delete(msg.key)) break;
        result.missing.add(msg.key);
        break;
      case 'put-ok':
        break;
      case 'error':
        // One key refused (its ticket), or the whole request.
        if (msg.replyTo === REQUEST_ID && msg.key !== undefined) {
          if (wanted.delete(msg.key)) result.refused.set(msg.key, `${msg.code}: ${msg.message}`);
          break;
        }
        return new ProtocolError(`data link to ${address} refused the request: ${msg.code}: ${msg.message}`);
    }
    return wanted.size === 0 ? 'done' : 'more';
  });
  return result;
}

/** Puts encoded values on one worker (one `put-data` each); rejects only if the link itself fails. */
export async function putToPeer(
  platform: Platform,
  address: string,
  from: PeerIdentity,
  items: readonly (Ticketed & { bytes: Uint8Array })[],
  timeoutMs: number,
): Promise<PeerPutResult> {
  const result: PeerPutResult = { stored: new Set(), refused: new Map() };
  if (items.length === 0) return result;
  // Request ids are 1-based positions in `items`.
  const unanswered = new Set(items.map((_, i) => i + 1));
  const requests = items.map((item, i) =>
    encodePeerFrame({ type: 'put-data', id: i + 1, key: item.key, ...(item.ticket !== undefined ? { ticket: item.ticket } : {}) }, item.bytes),
  );
  const bytes = items.reduce((n, i) => n + i.bytes.byteLength, 0);
  await exchange(platform, address, from, requests, timeoutMs, `${items.length} value(s) of ${bytes} bytes`, (msg) => {
    switch (msg.type) {
      case 'put-ok': {
        const item = items[msg.id - 1];
        if (item && item.key === msg.key && unanswered.delete(msg.id)) result.stored.add(item.key);
        break;
      }
      case 'error': {
        const item = msg.replyTo === undefined ? undefined : items[msg.replyTo - 1];
        if (!item || msg.replyTo === undefined)
          return new ProtocolError(`data link to ${address} refused the puts: ${msg.code}: ${msg.message}`);
        if (unanswered.delete(msg.replyTo)) result.refused.set(item.key, `${msg.code}: ${msg.message}`);
        break;
      }
      case 'data':
      case 'data-missing':
        break;
    }
    return unanswered.size === 0 ? 'done' : 'more';
  });
  return result;
}
