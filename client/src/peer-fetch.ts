/**
 * The client's side of a worker's data link: the data plane's ask-only PeerSession (datalink)
 * over the platform's link (Node: the workers' own TCP link). A client has no data token: each key goes with the ticket the
 * scheduler gave for it (protocol tickets.ts). One link per call, closed when it is answered.
 */
import { TimeoutError } from '@meshwork/protocol';
import { PeerSession, type PeerLink, type StreamLink } from '@meshwork/datalink';
import type { Platform } from './platform.js';

/** Who this client is to a worker's data link: its id (for the worker's logs and counters). */
export interface PeerIdentity {
  id: string;
}

/** A key to get or put, with the ticket the scheduler gave for it (none from a scheduler that gives none). */
export interface Ticketed {
  key: string;
  ticket?: string | undefined;
}

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

/**
 * Opens a session to `address`, runs `use` on it within `timeoutMs` (as a whole), and closes it.
 * Rejects (ConnectionError/ProtocolError/TimeoutError) if the link fails or times out first.
 */
async function withSession<T>(
  platform: Platform,
  address: string,
  from: PeerIdentity,
  timeoutMs: number,
  what: string,
  use: (session: PeerLink, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const signal = AbortSignal.timeout(timeoutMs);
  const onTimeout = (): Error => new TimeoutError(`data link to ${address}: no answer for ${what} within ${timeoutMs} ms`);
  let link: StreamLink | undefined;
  let session: PeerSession | undefined;
  try {
    link = await platform.dialPeer(address, signal);
    session = new PeerSession(link, { localId: from.id, peerId: address, role: 'ask', path: 'tcp' });
    return await use(session, signal);
  } catch (e) {
    throw signal.aborted ? onTimeout() : e;
  } finally {
    session?.close();
    link?.close();
  }
}

/** Asks one worker for `items`; rejects (ConnectionError/ProtocolError) if the link fails first. */
export async function fetchFromPeer(
  platform: Platform,
  address: string,
  from: PeerIdentity,
  items: readonly Ticketed[],
  timeoutMs: number,
): Promise<PeerFetchResult> {
  const result: PeerFetchResult = { found: new Map(), missing: new Set(), refused: new Map() };
  if (items.length === 0) return result;
  const tickets = new Map(items.map((i) => [i.key, i.ticket]));
  const got = await withSession(platform, address, from, timeoutMs, `${tickets.size} key(s)`, (s, signal) =>
    s.getData([...tickets.keys()], { signal, timeoutMs, tickets }),
  );
  return { found: got.values, missing: new Set(got.missing), refused: got.refused };
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
  const bytes = items.reduce((n, i) => n + i.bytes.byteLength, 0);
  await withSession(platform, address, from, timeoutMs, `${items.length} value(s) of ${bytes} bytes`, (s, signal) =>
    Promise.all(
      items.map(async (item) => {
        try {
          await s.putData(item.key, item.bytes, { signal, timeoutMs, ticket: item.ticket });
          result.stored.add(item.key);
        } catch (e) {
          // A refusal of this value (its ticket, the worker's memory) is answered per value; the link's failure is not.
          if (s.closed || signal.aborted) throw e;
          result.refused.set(item.key, (e as Error).message);
        }
      }),
    ),
  );
  return result;
}
