/**
 * The dashboard's link to its scheduler: one WebSocket to the page's own base URL (so it works
 * behind a reverse proxy on a sub-path), `hello` as role `dashboard`, then an update every
 * DASHBOARD_PUSH_INTERVAL_MS. Every frame is parsed once, here, against the channel's schema.
 * The link comes back by itself after the scheduler restarts or the network drops.
 */
import * as v from 'valibot';
import { DashboardChannel, PROTOCOL_VERSION, decode, encodeFrame } from '@meshwork/protocol';

/** First wait before reconnecting, in milliseconds; doubled on each failure up to the max. */
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 10_000;

export type FeedStatus =
  | { state: 'connecting' }
  | { state: 'connected'; id: string }
  | { state: 'disconnected'; why: string }
  | { state: 'refused'; why: string };

export interface FeedHandlers {
  update(u: DashboardChannel.DashboardUpdate): void;
  status(s: FeedStatus): void;
}

/** The scheduler's WebSocket for a page at `pageUrl`: the page's directory, in the ws(s) scheme. */
export function feedUrl(pageUrl: string): string {
  const url = new URL('.', pageUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = '';
  url.hash = '';
  return url.href;
}

/** Connects, and reconnects after losing the link, until `signal` aborts. */
export function openFeed(pageUrl: string, token: string | undefined, on: FeedHandlers, signal: AbortSignal): void {
  const url = feedUrl(pageUrl);
  let wait = RECONNECT_FIRST_MS;
  const connect = (): void => {
    if (signal.aborted) return;
    on.status({ state: 'connecting' });
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    let refused = false;
    const onAbort = (): void => ws.close(1000, 'page closed');
    signal.addEventListener('abort', onAbort, { once: true });
    ws.addEventListener('open', () => {
      const hello: DashboardChannel.DashboardToServer = {
        type: 'hello',
        protocolVersion: PROTOCOL_VERSION,
        role: 'dashboard',
      };
      if (token !== undefined) hello.token = token;
      ws.send(encodeFrame([hello]));
    });
    ws.addEventListener('message', (e: MessageEvent<unknown>) => {
      if (!(e.data instanceof ArrayBuffer)) return;
      let raw: unknown;
      try {
        raw = decode(new Uint8Array(e.data));
      } catch {
        return on.status({ state: 'disconnected', why: 'an undecodable frame from the scheduler' });
      }
      for (const item of Array.isArray(raw) ? (raw as unknown[]) : []) {
        const parsed = v.safeParse(DashboardChannel.ServerToDashboard, item);
        if (!parsed.success) continue; // a newer scheduler's extra message: not for this page
        const m = parsed.output;
        switch (m.type) {
          case 'welcome':
            wait = RECONNECT_FIRST_MS;
            on.status({ state: 'connected', id: m.id });
            break;
          case 'dashboard-update':
            on.update(m);
            break;
          case 'error':
            if (m.code === 'AUTH_FAILED' || m.code === 'VERSION_MISMATCH') {
              refused = true;
              on.status({ state: 'refused', why: m.message });
            }
            break;
        }
      }
    });
    ws.addEventListener('close', (e) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted || refused) return;
      on.status({ state: 'disconnected', why: e.reason || `connection closed (${e.code})` });
      setTimeout(connect, wait);
      wait = Math.min(RECONNECT_MAX_MS, wait * 2);
    });
  };
  connect();
}
