/**
 * Values in a Node worker live in shared memory: the store, fetched inputs and results written
 * by threads all use it, so a value reaches any thread of this worker without a copy.
 */
export function sharedBytes(length: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(length));
}
