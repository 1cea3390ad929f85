/**
 * Values in a Node worker live in shared memory: the store, fetched inputs and results written
 * by threads all use it, so a value reaches any thread of this worker without a copy (tasks get
 * views of it). The memory is not pooled here: malloc reuses it once V8 frees it, with the
 * tunables the worker process runs with (huge-pages.ts), so no block still viewed by a thread or
 * written to a socket is ever handed out again.
 */
export function sharedBytes(length: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(length));
}
