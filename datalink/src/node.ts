/**
 * `@meshwork/datalink/node`: the Node-only links: TCP (dialled and listened to, values read
 * straight into their memory) and node-datachannel's RTCPeerConnection for WebRTC with tabs.
 */
export { startDataServer, type DataServer, type DataServerOptions, type PutHandler } from './tcp/listener.node.js';
export { TcpPeerFetcher, Unreachable, type TcpPeerFetcherOptions } from './tcp/pool.node.js';
export { acceptedLink, dialLink, type DialOptions } from './tcp/socket-link.node.js';
export { advertisedHost } from './tcp/address.node.js';
export { TCP_SCHEME, formatTcpAddress, parseTcpAddress } from './address.js';
export { nodeRtcPeerConnection, retainNodeRtc, shutdownNodeRtc, type NodeRtcOptions } from './webrtc/rtc.node.js';
export { blake3Hasher, nodeValueHash } from './blake3.node.js';
