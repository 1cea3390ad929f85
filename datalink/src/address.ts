/** Data-link addresses: `tcp://HOST:PORT` (IPv6 hosts in brackets). Runtime-free: clients in pages parse them too. */
import { ConnectionError } from '@meshwork/protocol';

/** How a holder's address starts when it is reached over the direct TCP data link. */
export const TCP_SCHEME = 'tcp://';

export function formatTcpAddress(host: string, port: number): string {
  return `${TCP_SCHEME}${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** `tcp://host:port` → host and port; anything else is a ConnectionError (addresses come from the network). */
export function parseTcpAddress(address: string): { host: string; port: number } {
  const bad = (): ConnectionError => new ConnectionError(`bad data-link address '${address}' (expected tcp://HOST:PORT)`);
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw bad();
  }
  const port = Number(url.port);
  if (url.protocol !== 'tcp:' || !url.hostname || !Number.isInteger(port) || port <= 0) throw bad();
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}
