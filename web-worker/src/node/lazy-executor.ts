/**
 * An Executor started on first use: `run-function` (client.run) gets a thread of its own this
 * way, apart from the task threads and never queued behind tasks, and a worker that is never
 * asked to run anything starts no such thread.
 */
import { CancelledError, errorToWire } from '@meshwork/protocol';
import { abortable } from '@meshwork/datalink';
import type { Executor, Job, Outcome, RunHooks } from '../core/interfaces.js';

export class LazyExecutor implements Executor {
  private starting: Promise<Executor> | undefined;
  private closed = false;

  constructor(
    readonly threads: number,
    private readonly start: () => Promise<Executor>,
  ) {}

  async run(job: Job, signal: AbortSignal, hooks?: RunHooks): Promise<Outcome> {
    const startedAt = Date.now();
    const fail = (e: unknown): Outcome => ({ ok: false, error: errorToWire(e), startedAt, stoppedAt: Date.now(), thread: 0 });
    if (this.closed) return fail(new CancelledError('the executor closed'));
    this.starting ??= this.start().catch((e: unknown) => {
      this.starting = undefined;
      throw e;
    });
    let executor: Executor;
    try {
      executor = await abortable(this.starting, signal);
    } catch (e) {
      return fail(e);
    }
    return executor.run(job, signal, hooks);
  }

  async close(): Promise<void> {
    this.closed = true;
    const starting = this.starting;
    this.starting = undefined;
    await starting?.then(
      (executor) => executor.close(),
      () => undefined,
    );
  }
}
