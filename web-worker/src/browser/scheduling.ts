/**
 * Timing sources for a tab that must keep working while hidden: heartbeats from a Web Worker
 * ticker, and per-turn batching through a MessageChannel (a hidden page's `setTimeout(0)` waits
 * up to a second; a message to itself does not).
 */
import type { TurnScheduler } from '@meshwork/protocol';
import { intervalTicker, type Ticker } from '../core/outbox.js';

/** A Ticker whose ticks come from a dedicated Web Worker (ticker-thread.ts); setInterval if one cannot start. */
export function webWorkerTicker(onFallback?: (error: unknown) => void): Ticker {
  return (tick, intervalMs) => {
    let worker: Worker;
    try {
      // Literal arguments: Vite finds and bundles the script from exactly this expression.
      worker = new Worker(new URL('./ticker-thread.js', import.meta.url), {
        type: 'module',
        name: 'meshwork-heartbeat',
      });
    } catch (e) {
      onFallback?.(e);
      return intervalTicker(tick, intervalMs);
    }
    worker.addEventListener('message', () => tick());
    worker.postMessage(intervalMs);
    return () => worker.terminate();
  };
}

/** Runs each callback as its own task right after the current one, without timer clamping. */
export function messageChannelTurns(): TurnScheduler {
  const channel = new MessageChannel();
  const queue: (() => void)[] = [];
  channel.port1.onmessage = () => queue.shift()?.();
  return (callback) => {
    queue.push(callback);
    channel.port2.postMessage(null);
  };
}
