/**
 * `@meshwork/datalink`: the data plane, runtime-free (the same code in a page and in Node): one
 * peer session (requester + responder) over any FrameLink, one failover with one blame rule,
 * routing, the WebRTC link and the scheduler's relay. The RTCPeerConnection constructor is
 * injected: a page passes its own, Node passes `nodeRtcPeerConnection()` from
 * `@meshwork/datalink/node`, which also has the TCP link.
 */
export * from './constants.js';
export type {
  FrameLink,
  FrameReceiver,
  LinkPath,
  PeerAddress,
  PeerDataHandler,
  PeerLink,
  PeerTransport,
  PutResult,
  Delivery,
  GetOptions,
  PutOptions,
  RequestOptions,
} from './link.js';
export { arrivedDigests, arrivedOr, type Digest, type Expected, type FetchOptions, type FetchResult, type IncrementalHash, type PeerFetcher, type TransferCounter, type TransferPath } from './fetch.js';
export { silentLogger, type Logger } from './logger.js';
export { TCP_SCHEME, formatTcpAddress, parseTcpAddress } from './address.js';
export { abortable } from './abortable.js';
export { PeerSession, type PeerSessionOptions, type SessionRole } from './session.js';
export type { Admission } from './responder.js';
export { StreamLink, type ByteStream, type StreamLinkOptions } from './stream-link.js';
export { HolderFailures, fetchDeadlineMs, fetchWithFailover, type FailoverOptions, type HolderDelivery, type HolderFetcher } from './failover.js';
export { RoutingPeerFetcher, type HolderRoute, type RoutingPeerFetcherOptions } from './routing.js';
export type * from './webrtc/rtc-types.js';
export { isOfferer, parseSignal, type SignalPayload, type Signaller } from './webrtc/signals.js';
export { PeerConnection, type PeerConnectionOptions, type PeerConnectionState } from './webrtc/peer-connection.js';
export { ChannelStream, type ChannelStreamOptions } from './webrtc/channel-stream.js';
export { WebRtcTransport, type WebRtcTransportOptions } from './webrtc/webrtc-transport.js';
export { SchedulerSignaller, type DeliveryWrapper } from './webrtc/scheduler-signaller.js';
export { TransportFetcher, type TransportFetcherOptions } from './transport-fetcher.js';
export { RelayChannel, RelayTransport, type RelayTransportOptions } from './relay.js';
export { FallbackTransport } from './fallback-transport.js';
