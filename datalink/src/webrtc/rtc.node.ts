/**
 * The Node adapter of this folder: node-datachannel's standard `RTCPeerConnection`
 * (`node-datachannel/polyfill`, libdatachannel inside; DESIGN.md says why this one). The only
 * file under peers/ that names a runtime; the page passes its own `RTCPeerConnection` instead.
 */
import nodeDataChannel from 'node-datachannel';
import { RTCPeerConnection as PolyfillPeerConnection } from 'node-datachannel/polyfill';
import type { RtcConfiguration, RtcPeerConnectionConstructor } from './rtc-types.js';

export interface NodeRtcOptions {
  /** Local address ICE binds to; '127.0.0.1' keeps tests on loopback (default: all interfaces). */
  bindAddress?: string;
  /** UDP port range ICE may use (default: any). */
  portRangeBegin?: number;
  portRangeEnd?: number;
}

/** An `RTCPeerConnection` constructor for Node, with libdatachannel's options applied to every connection. */
export function nodeRtcPeerConnection(o: NodeRtcOptions = {}): RtcPeerConnectionConstructor {
  const extra: NodeRtcOptions = {};
  if (o.bindAddress !== undefined) extra.bindAddress = o.bindAddress;
  if (o.portRangeBegin !== undefined) extra.portRangeBegin = o.portRangeBegin;
  if (o.portRangeEnd !== undefined) extra.portRangeEnd = o.portRangeEnd;
  // The polyfill is typed against the DOM lib, which this package does not load; its runtime
  // shape is the W3C one that RtcPeerConnectionLike describes (checked by the tests).
  const Base = PolyfillPeerConnection as unknown as RtcPeerConnectionConstructor;
  return class NodeRtcPeerConnection extends Base {
    constructor(configuration: RtcConfiguration = {}) {
      super({ ...configuration, ...extra });
    }
  };
}

/**
 * Stops libdatachannel's threads so the process can exit; call once every connection is closed
 * (node-datachannel keeps the event loop alive otherwise). It closes every node-datachannel
 * connection of the process: code that shares the process with others uses `retainNodeRtc`.
 */
export function shutdownNodeRtc(): void {
  nodeDataChannel.cleanup();
}

let users = 0;

/**
 * Counts one more user of node-datachannel in this process (e.g. a worker); the returned release
 * (idempotent) calls `shutdownNodeRtc()` when the last user lets go, so several workers in one
 * process do not cut each other's connections.
 */
export function retainNodeRtc(): () => void {
  users++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--users === 0) shutdownNodeRtc();
  };
}
