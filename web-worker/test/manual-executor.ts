/** An executor for the core's tests, whose jobs finish when the test says so. */
import { encodeValue } from '@meshwork/protocol';
import type { Executor, Job, Outcome, RunHooks } from '../src/core/interfaces.js';

export class ManualExecutor implements Executor {
  readonly jobs: { job: Job; signal: AbortSignal; hooks: RunHooks; finish(o?: Partial<Outcome>): void }[] = [];

  /**
   * @param startAtOnce each job starts on a thread of its own at once (`onStart`); else it stays
   *   sent (and stealable) until the test calls its `hooks.onStart`.
   */
  constructor(
    readonly threads = 1,
    private readonly startAtOnce = true,
  ) {}

  run(job: Job, signal: AbortSignal, hooks: RunHooks = {}): Promise<Outcome> {
    if (this.startAtOnce) hooks.onStart?.();
    return new Promise((resolve) => {
      const base = { startedAt: 1, stoppedAt: 2, thread: 0 };
      signal.addEventListener('abort', () =>
        resolve({ ...base, ok: false, error: { code: 'CANCELLED', name: 'CancelledError', message: 'x' } }),
      );
      this.jobs.push({
        job,
        signal,
        hooks,
        finish: (o = {}) => resolve({ ...base, ok: true, bytes: encodeValue(job.key).bytes, ...o } as Outcome),
      });
    });
  }

  async close(): Promise<void> {}
}
