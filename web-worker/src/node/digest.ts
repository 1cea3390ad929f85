/** The value hash (protocol `valueHash`: SHA-256, hex) through node:crypto: no copy of shared memory, ~1.7 GB/s. */
import { createHash } from 'node:crypto';
import type { Digest } from '../core/interfaces.js';

export const nodeDigest: Digest = (bytes) => Promise.resolve(createHash('sha256').update(bytes).digest('hex'));
