/** Where peers find a worker and a value: what compute-task, acquire and gather replies carry. */
import { WEBRTC_ADDRESS } from '@meshwork/protocol';
import type { TaskState, WorkerState } from './types.js';

/** How peers reach a worker: its TCP data link, or WebRTC by id (a browser tab). */
export function holderOf(w: WorkerState): { id: string; address: string } {
  return { id: w.id, address: w.dataAddress ?? WEBRTC_ADDRESS };
}

/** Where to fetch `t`'s value (all its holders: a worker listed that lacks it says so), with the size and hash the bytes must match. */
export function depSpec(t: TaskState): {
  key: string;
  holders: { id: string; address: string }[];
  nbytes: number;
  hash?: string;
} {
  const spec = { key: t.key, holders: [...t.whoHas].map(holderOf), nbytes: t.nbytes };
  return t.hash === null ? spec : { ...spec, hash: t.hash };
}
