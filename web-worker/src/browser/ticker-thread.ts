/**
 * The heartbeat ticker: a dedicated Web Worker that posts an empty message every `intervalMs`
 * (sent to it as a number; 0 stops it). Browsers throttle a hidden page's timers (to once a
 * minute after a few minutes in Chromium), which would let the scheduler drop the tab; a Web
 * Worker's timers are not throttled, and a message from it wakes the page at once.
 */
const scope = globalThis as unknown as {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (e: { data: unknown }) => void): void;
};

let timer: ReturnType<typeof setInterval> | undefined;

scope.addEventListener('message', (e) => {
  clearInterval(timer);
  timer = undefined;
  const intervalMs = e.data;
  if (typeof intervalMs === 'number' && intervalMs > 0) timer = setInterval(() => scope.postMessage(null), intervalMs);
});
