/**
 * What two peers say to each other through the scheduler's relay to open a WebRTC connection.
 * Plain JSON; the scheduler forwards a payload unchanged from one worker to another (a schema
 * for the relay message belongs in protocol's worker-server channel: `{ to | from, signal }`).
 *
 * The worker with the lower id (string comparison) makes the offer; the other one asks it to
 * with `request-offer`. There is never a renegotiation: a new offer means a new connection.
 */
import { MAX_CANDIDATE_CHARS, MAX_SDP_CHARS } from '../constants.js';

export type SignalPayload =
  | { kind: 'offer' | 'answer'; sdp: string }
  | { kind: 'candidate'; candidate: string; sdpMid: string | null; sdpMLineIndex: number | null }
  | { kind: 'end-of-candidates' }
  /** From the higher id to the lower: "open a connection to me" (the lower id always offers). */
  | { kind: 'request-offer' }
  /** From the scheduler, in the name of a worker that left the cluster: close the connection to it. */
  | { kind: 'bye' };

/** The relay, as a peer sees it: addressed by worker id. */
export interface Signaller {
  /** Sends `payload` to worker `to`. Best effort: a lost payload ends in a connect timeout. */
  send(to: string, payload: SignalPayload): void;
  /** Registers the receiver of payloads addressed to this worker; returns its removal. */
  subscribe(receiver: (from: string, payload: SignalPayload) => void): () => void;
}

/** True when `local` makes the offer to `remote`. */
export function isOfferer(local: string, remote: string): boolean {
  return local < remote;
}

/** Parses a payload from the network (validate at the edge); undefined when it is not one. */
export function parseSignal(value: unknown): SignalPayload | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const o = value as Record<string, unknown>;
  switch (o['kind']) {
    case 'offer':
    case 'answer': {
      const sdp = o['sdp'];
      if (typeof sdp !== 'string' || sdp.length === 0 || sdp.length > MAX_SDP_CHARS) return undefined;
      return { kind: o['kind'], sdp };
    }
    case 'candidate': {
      const { candidate, sdpMid, sdpMLineIndex } = o;
      if (typeof candidate !== 'string' || candidate.length > MAX_CANDIDATE_CHARS) return undefined;
      if (sdpMid !== null && (typeof sdpMid !== 'string' || sdpMid.length > MAX_CANDIDATE_CHARS)) return undefined;
      if (sdpMLineIndex !== null && !(Number.isInteger(sdpMLineIndex) && (sdpMLineIndex as number) >= 0))
        return undefined;
      if (sdpMid === null && sdpMLineIndex === null) return undefined;
      return { kind: 'candidate', candidate, sdpMid, sdpMLineIndex: sdpMLineIndex as number | null };
    }
    case 'end-of-candidates':
      return { kind: 'end-of-candidates' };
    case 'request-offer':
      return { kind: 'request-offer' };
    case 'bye':
      return { kind: 'bye' };
    default:
      return undefined;
  }
}
