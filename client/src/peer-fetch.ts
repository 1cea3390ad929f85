/**
 * Fetching values directly from a worker over its data link (protocol/src/channels/peer.ts):
 * `hello {protocolVersion, from}`, then `get-data {id, keys}`; the worker answers each key with
 * `data {id, key, nbytes}` (the value's encoded bytes as the frame body) or `data-missing`.
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

const replyTypes = typesOf(PeerChannel.PeerReply);
const REQUEST_ID = 1;

export interface PeerFetchResult {
  /** Encoded values, by key. */
  found: Map<string, Uint8Array>;
  /** Keys the worker said it does not hold. */
  missing: Set<string>;
}

/** Asks one worker for `keys`; rejects (ConnectionError/ProtocolError) if the link fails first. */
export function fetchFromPeer(
  platform: Platform,
  address: string,
  from: string,
  keys: readonly string[],
  timeoutMs: number,
): Promise<PeerFetchResult> {
  return new Promise<PeerFetchResult>((resolve, reject) => {
    const wanted = new Set(keys);
    const result: PeerFetchResult = { found: new Map(), missing: new Set() };
    const reader = new PeerFrameReader();
    let stream: PeerStream | undefined;
    let done = false;
    const finish = (error?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream?.close();
      if (error) reject(error);
      else resolve(result);
    };
    const timer = setTimeout(
      () =>
        finish(
          new ConnectionError(`data link to ${address}: no answer for ${keys.length} key(s) within ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    const onHeader = (header: unknown, body: Uint8Array): void => {
      const parsed = parseMessage(header, PeerChannel.PeerReply, replyTypes);
      if (!parsed.ok) return finish(new ProtocolError(`data link to ${address}: ${parsed.error.message}`));
      const msg = parsed.message;
      switch (msg.type) {
        case 'data':
          if (msg.id !== REQUEST_ID || !wanted.has(msg.key)) break;
          if (body.byteLength !== msg.nbytes) {
            return finish(
              new ProtocolError(
                `data link to ${address}: '${msg.key}' announced ${msg.nbytes} bytes, sent ${body.byteLength}`,
              ),
            );
          }
          wanted.delete(msg.key);
          result.found.set(msg.key, body);
          break;
        case 'data-missing':
          if (msg.id !== REQUEST_ID || !wanted.delete(msg.key)) break;
          result.missing.add(msg.key);
          break;
        case 'error':
          return finish(new ProtocolError(`data link to ${address} refused the request: ${msg.code}: ${msg.message}`));
      }
      if (wanted.size === 0) finish();
    };
    try {
      stream = platform.openPeerStream(address, {
        onOpen() {
          stream?.write(encodePeerFrame({ type: 'hello', protocolVersion: PROTOCOL_VERSION, from }));
          stream?.write(encodePeerFrame({ type: 'get-data', id: REQUEST_ID, keys: [...wanted] }));
        },
        onData(chunk) {
          if (done) return;
          try {
            for (const frame of reader.push(chunk)) onHeader(frame.header, frame.body);
          } catch (e) {
            finish(new ProtocolError(`data link to ${address}: ${(e as Error).message}`));
          }
        },
        onClose(error) {
          finish(error ?? new ConnectionError(`data link to ${address} closed with ${wanted.size} key(s) unanswered`));
        },
      });
    } catch (e) {
      finish(e instanceof Error ? e : new ConnectionError(String(e)));
    }
    if (wanted.size === 0) finish();
  });
}
