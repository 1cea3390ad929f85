/**
 * The subset of the W3C WebRTC API this folder uses, declared structurally so the code compiles
 * without the DOM lib and runs unchanged against a browser's `RTCPeerConnection` and
 * node-datachannel's polyfill. The constructor is always injected, never read from globalThis.
 */

export interface RtcIceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface RtcConfiguration {
  iceServers?: RtcIceServer[];
}

export interface RtcSessionDescriptionInit {
  type: 'offer' | 'answer' | 'pranswer' | 'rollback';
  sdp?: string;
}

export interface RtcIceCandidateInit {
  candidate?: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

/** The `candidate` of an `icecandidate` event (null at the end of gathering). */
export interface RtcIceCandidateLike {
  readonly candidate: string;
  readonly sdpMid: string | null;
  readonly sdpMLineIndex: number | null;
}

export interface RtcDataChannelInit {
  ordered?: boolean;
  negotiated?: boolean;
  id?: number;
}

export type RtcDataChannelState = 'connecting' | 'open' | 'closing' | 'closed';

export interface RtcEventLike {
  readonly type: string;
}

export interface RtcDataChannelLike {
  readonly label: string;
  readonly readyState: RtcDataChannelState;
  readonly bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  binaryType: string;
  send(data: Uint8Array): void;
  close(): void;
  addEventListener(type: 'open' | 'close' | 'closing' | 'bufferedamountlow', listener: (e: RtcEventLike) => void): void;
  addEventListener(type: 'error', listener: (e: RtcEventLike & { error?: unknown }) => void): void;
  addEventListener(type: 'message', listener: (e: RtcEventLike & { data: unknown }) => void): void;
}

export interface RtcPeerConnectionLike {
  readonly connectionState: string;
  readonly iceConnectionState: string;
  readonly remoteDescription: { readonly type?: string; readonly sdp?: string } | null;
  readonly sctp?: { readonly maxMessageSize: number | null } | null;
  createDataChannel(label: string, init?: RtcDataChannelInit): RtcDataChannelLike;
  createOffer(): Promise<RtcSessionDescriptionInit>;
  createAnswer(): Promise<RtcSessionDescriptionInit>;
  setLocalDescription(description: RtcSessionDescriptionInit): Promise<void>;
  setRemoteDescription(description: RtcSessionDescriptionInit): Promise<void>;
  addIceCandidate(candidate?: RtcIceCandidateInit): Promise<void>;
  close(): void;
  addEventListener(
    type: 'icecandidate',
    listener: (e: RtcEventLike & { candidate: RtcIceCandidateLike | null }) => void,
  ): void;
  addEventListener(
    type: 'connectionstatechange' | 'iceconnectionstatechange',
    listener: (e: RtcEventLike) => void,
  ): void;
}

/** `RTCPeerConnection` itself (the page's) or node-datachannel's, see node-rtc.ts. */
export type RtcPeerConnectionConstructor = new (configuration?: RtcConfiguration) => RtcPeerConnectionLike;
