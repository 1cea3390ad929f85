// Types of retained.mjs, for unit tests of what the scheduler and the client keep.

/** Size of the text `cutFromBig` cuts from: a slice kept anywhere keeps all of it alive. */
export const BIG_TEXT_BYTES: number;

/** `tail` as a slice of a 16 MiB string. */
export function cutFromBig(tail: string): string;

/** Bytes of heap still in use after `step` (and a full collection) that were not before it; once it settles when it returns a promise. */
export function retainedBy(step: () => Promise<unknown>): Promise<number>;
export function retainedBy(step: () => void): number;
