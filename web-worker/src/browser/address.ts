/**
 * Where the join page finds its scheduler, and what it was asked for. The page is served at
 * `<base>/join` (or `<base>/join.html`), and the scheduler's WebSocket is `<base>` with the ws
 * scheme: this keeps working behind a reverse proxy that mounts the scheduler on a sub-path.
 */
import { FALLBACK_THREADS, MAX_NAME_CHARS, MAX_TAB_THREADS } from './constants.js';

const JOIN_PAGE = /\/join(\.html)?\/?$/;

export interface SchedulerUrls {
  /** The WebSocket to the scheduler, e.g. `ws://127.0.0.1:8786` or `wss://example.org/mesh/`. */
  ws: string;
  /** The scheduler's HTTP base without a trailing slash (modules are under `<http>/modules/`). */
  http: string;
}

/** The scheduler's URLs for a page at `pageUrl` (`<base>/join?…`). */
export function schedulerUrls(pageUrl: string): SchedulerUrls {
  const url = new URL(pageUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError(`the join page must be served over http(s), not ${url.protocol}`);
  const basePath = url.pathname.replace(JOIN_PAGE, '/').replace(/\/+$/, '');
  const wsScheme = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return { ws: `${wsScheme}//${url.host}${basePath === '' ? '' : `${basePath}/`}`, http: `${url.origin}${basePath}` };
}

export interface JoinParams {
  threads: number;
  name: string | undefined;
  token: string | undefined;
  /** What was wrong with the query (the defaults were used instead). */
  warnings: string[];
}

/** Reads `?threads=N&name=NAME&token=T`; `cores` is navigator.hardwareConcurrency. */
export function joinParams(search: string, cores: number | undefined): JoinParams {
  const q = new URLSearchParams(search);
  const warnings: string[] = [];
  const fallback = Math.min(
    MAX_TAB_THREADS,
    cores !== undefined && Number.isInteger(cores) && cores > 0 ? cores : FALLBACK_THREADS,
  );
  let threads = fallback;
  const asked = q.get('threads');
  if (asked !== null) {
    const n = Number(asked);
    if (!Number.isInteger(n) || n < 1) warnings.push(`threads=${asked} is not a positive integer: using ${fallback}`);
    else if (n > MAX_TAB_THREADS) {
      warnings.push(`threads=${n} is over ${MAX_TAB_THREADS}: using ${MAX_TAB_THREADS}`);
      threads = MAX_TAB_THREADS;
    } else threads = n;
  }
  let name = q.get('name') ?? undefined;
  if (name !== undefined && name.length > MAX_NAME_CHARS) {
    warnings.push(`name is over ${MAX_NAME_CHARS} characters: cut`);
    name = name.slice(0, MAX_NAME_CHARS);
  }
  return { threads, name: name === '' ? undefined : name, token: q.get('token') ?? undefined, warnings };
}
