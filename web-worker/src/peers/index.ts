/**
 * `@meshwork/web-worker/peers`: the WebRTC data plane, runtime-free (the same code in a page and
 * in Node). The RTCPeerConnection constructor is injected: a page passes its own, Node passes
 * `nodeRtcPeerConnection()` from `@meshwork/web-worker/peers/node`.
 */
export * from './constants.js';
export type {
  FrameLink,
  FrameReceiver,
  PeerAddress,
  PeerDataHandler,
  PeerLink,
  PeerTransport,
  Delivery,
  RequestOptions,
} from './link.js';
export type * from './rtc-types.js';
export { isOfferer, parseSignal, type SignalPayload, type Signaller } from './signals.js';
export { PeerConnection, type PeerConnectionOptions, type PeerConnectionState } from './peer-connection.js';
export { ChannelStream, type ChannelStreamOptions } from './channel-stream.js';
export { PeerSession, type PeerSessionOptions } from './session.js';
export { WebRtcTransport, type WebRtcTransportOptions } from './webrtc-transport.js';
export { SchedulerSignaller, type DeliveryWrapper } from './scheduler-signaller.js';
export { TransportFetcher, type TransportFetcherOptions } from './transport-fetcher.js';
export { RelayChannel, RelayTransport, type RelayTransportOptions } from './relay.js';
export { FallbackTransport } from './fallback-transport.js';
