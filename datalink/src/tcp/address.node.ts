/** The address a Node worker advertises for its data link (parsing and formatting: ../address.ts). */
import { networkInterfaces } from 'node:os';

/** The host peers should dial: the bound one, or for a wildcard bind the first external IPv4. */
export function advertisedHost(bound: string): string {
  if (bound !== '0.0.0.0' && bound !== '::') return bound;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
