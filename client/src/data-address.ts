/**
 * Workers' data-link addresses (`tcp://host:port`, what the scheduler hands out with a key's
 * holders) and the WebSocket URL a browser opens for one: the worker's data link answers
 * WebSocket on the same port. Runtime-free.
 */
import { parseTcpAddress } from '@meshwork/datalink';

/** Loopback names and addresses: browsers let any page, https or not, open `ws:` to them. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * The WebSocket URL of the data link at `address`, from a page loaded over `pageProtocol`
 * (`location.protocol`; undefined outside a page): `ws://host:port/`, or `wss://host:port/` from
 * an `https:` page to a host that is not loopback (browsers refuse `ws:` there as mixed content).
 */
export function dataLinkWebSocketUrl(address: string, pageProtocol: string | undefined): string {
  const { host, port } = parseTcpAddress(address);
  const scheme = pageProtocol === 'https:' && !isLoopbackHost(host) ? 'wss' : 'ws';
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}/`;
}
