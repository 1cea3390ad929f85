/**
 * comlink ships ES modules (`dist/esm/*.mjs`) without `.d.mts` beside them, and its package
 * `main` is a UMD build that Node's ESM loader cannot read named exports from. These
 * declarations give the ES modules the types comlink publishes for its UMD build.
 */
declare module 'comlink/dist/esm/comlink.mjs' {
  export * from 'comlink';
}

declare module 'comlink/dist/esm/node-adapter.mjs' {
  import type { Endpoint } from 'comlink';
  /** What the adapter needs: a `worker_threads` Worker or MessagePort. */
  export interface NodeEndpoint {
    postMessage(message: unknown, transfer?: readonly unknown[]): void;
    on(type: 'message', listener: (value: unknown) => void): unknown;
    off(type: 'message', listener: (value: unknown) => void): unknown;
    start?: () => void;
  }
  export default function nodeEndpoint(nep: NodeEndpoint): Endpoint;
}
