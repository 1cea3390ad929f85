/**
 * `run-function` (client.run), runtime-free: runs once on an executor of its own, apart from
 * tasks, bounded by RUN_FUNCTION_TIMEOUT_MS and by the worker closing; answers `run-result`.
 */
import { ProtocolError, TimeoutError, errorToWire, type WireError, type WorkerChannel } from '@meshwork/protocol';
import { RUN_FUNCTION_TIMEOUT_MS } from '../constants.js';
import type { Executor, Job } from './interfaces.js';

type RunFunction = Extract<WorkerChannel.ServerToWorker, { type: 'run-function' }>;

export interface RunFunctionContext {
  /** Without one, the run is answered with an error. */
  executor: Executor | undefined;
  workerId: string;
  /** Aborts when the worker closes. */
  closing: AbortSignal;
  send(msg: WorkerChannel.WorkerToServer): void;
}

export async function runFunction(msg: RunFunction, c: RunFunctionContext): Promise<void> {
  const wire = (error: WireError): WireError => {
    const w: WireError = { ...error, workerId: c.workerId };
    if (w.stack === undefined) delete w.stack;
    return w;
  };
  if (!c.executor) {
    c.send({ type: 'run-result', id: msg.id, error: wire(errorToWire(new ProtocolError('this worker does not run functions'))) });
    return;
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new TimeoutError(`run of '${msg.fnName}' took over ${RUN_FUNCTION_TIMEOUT_MS} ms`)), RUN_FUNCTION_TIMEOUT_MS);
  const onClose = (): void => abort.abort(c.closing.reason);
  c.closing.addEventListener('abort', onClose, { once: true });
  const job: Job = { key: `run-${msg.id}`, fn: msg.fn, fnName: msg.fnName, source: msg.source, module: msg.module, args: msg.args, deps: new Map() };
  try {
    const outcome = await c.executor.run(job, abort.signal);
    c.send(outcome.ok ? { type: 'run-result', id: msg.id, value: outcome.bytes } : { type: 'run-result', id: msg.id, error: wire(outcome.error) });
  } finally {
    clearTimeout(timer);
    c.closing.removeEventListener('abort', onClose);
  }
}
