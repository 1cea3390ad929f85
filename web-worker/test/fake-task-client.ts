/**
 * Stands in for `@meshwork/client` inside worker threads (WorkerOptions.clientModule): its
 * `installTaskGlobal` gives tasks `globalThis.meshwork.client()`, whose `compute(fn, ...args)`
 * asks the fake scheduler (a `sub-submit` over its own WebSocket) to run `fn` and waits for the
 * `sub-result`, calling `onWait(true)` / `onWait(false)` around the wait as the real client does;
 * `sleep(ms)` waits the same way with no scheduler; `capability` is the running task's capability,
 * which `compute` says hello with.
 */
import WebSocket from 'ws';
import { decode, decodeValue, encodeFrame, encodeValue } from '@meshwork/protocol';

type Msg = Record<string, unknown> & { type: string };

export const installs: { address: string; options: string[] }[] = [];

export function installTaskGlobal(options: { address: string; capability?: () => string | undefined; onWait?: (waiting: boolean) => void }): void {
  installs.push({ address: options.address, options: Object.keys(options).sort() });
  const compute = async (fn: (...a: never[]) => unknown, ...args: unknown[]): Promise<unknown> => {
    options.onWait?.(true);
    const ws = new WebSocket(options.address);
    try {
      const inbox: Msg[] = [];
      const waiters: (() => void)[] = [];
      ws.on('message', (data: Buffer) => {
        inbox.push(...(decode(data) as Msg[]));
        waiters.splice(0).forEach((w) => w());
      });
      const next = async (type: string): Promise<Msg> => {
        for (;;) {
          const i = inbox.findIndex((m) => m.type === type);
          if (i >= 0) return inbox.splice(i, 1)[0] as Msg;
          await new Promise<void>((r) => waiters.push(r));
        }
      };
      await new Promise((r) => ws.once('open', r));
      ws.send(encodeFrame([{ type: 'hello', role: 'task-client', capability: options.capability?.() }]));
      await next('welcome');
      ws.send(encodeFrame([{ type: 'sub-submit', source: fn.toString(), args: encodeValue(args).bytes }]));
      const reply = await next('sub-result');
      return decodeValue(reply.value as Uint8Array);
    } finally {
      ws.close();
      options.onWait?.(false);
    }
  };
  /** Waits `ms` as if on tasks of its own (no scheduler needed). */
  const sleep = async (ms: number): Promise<void> => {
    options.onWait?.(true);
    await new Promise((r) => setTimeout(r, ms));
    options.onWait?.(false);
  };
  // Like the real one: merged into an existing globalThis.meshwork (the worker's stub).
  const g = globalThis as Record<string, unknown>;
  const target = typeof g.meshwork === 'object' && g.meshwork !== null ? (g.meshwork as Record<string, unknown>) : {};
  target.client = () => ({ compute, sleep, capability: options.capability?.() });
  g.meshwork = target;
}
