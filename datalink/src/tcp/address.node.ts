/** Data-link addresses: `tcp://HOST:PORT` (IPv6 hosts in brackets). */
import { networkInterfaces } from 'node:os';

/** How a holder's address starts when it is reached over the direct TCP data link. */
export const TCP_SCHEME = 'tcp://';

export function formatTcpAddress(host: string, port: number): string {
  return `${TCP_SCHEME}${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function parseTcpAddress(address: string): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new TypeError(`not a data-link address: '${address}' (expected tcp://HOST:PORT)`);
  }
  const port = Number(url.port);
  if (url.protocol !== 'tcp:' || !url.hostname || !Number.isInteger(port) || port <= 0) {
    throw new TypeError(`not a data-link address: '${address}' (expected tcp://HOST:PORT)`);
  }
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}

/** The host peers should dial: the bound one, or for a wildcard bind the first external IPv4. */
export function advertisedHost(bound: string): string {
  if (bound !== '0.0.0.0' && bound !== '::') return bound;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
