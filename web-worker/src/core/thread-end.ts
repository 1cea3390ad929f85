/**
 * A task thread's end, and a job's wait on its reply, the thread's end or an abort, whichever
 * comes first — for both thread pools (worker_threads and Web Workers).
 *
 * The wait is not `Promise.race([reply, died, aborted])`: race subscribes to every promise it is
 * given, and a thread's `died` stays pending as long as the thread lives, so each job added a
 * reaction to it that reached the job's settled race and its reply. Every result a thread ever
 * made stayed reachable: a worker grew by the size of each result (~130 MB per tree reduction),
 * and new values never reused freed memory. Here a job watches the end through a callback it
 * removes when its wait is over, and keeps nothing once settled.
 */

export class ThreadEnd {
  private reason: Error | undefined;
  private readonly watchers = new Set<(reason: Error) => void>();
  private settle!: (reason: Error) => void;
  /** Settles once, with the reason: for one-off waits (a thread starting), not one per job. */
  readonly promise = new Promise<Error>((resolve) => (this.settle = resolve));

  get ended(): boolean {
    return this.reason !== undefined;
  }

  /** The thread ended (exited, crashed, was stopped); later calls change nothing. */
  end(reason: Error): void {
    if (this.reason) return;
    this.reason = reason;
    this.settle(reason);
    for (const watcher of [...this.watchers]) watcher(reason);
    this.watchers.clear();
  }

  /** Calls `watcher` when the thread ends (on a later turn if it has); returns how to stop watching. */
  watch(watcher: (reason: Error) => void): () => void {
    const reason = this.reason;
    if (reason) {
      let live = true;
      queueMicrotask(() => live && watcher(reason));
      return () => (live = false);
    }
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }
}

export type FirstOf<T> = T | { died: Error } | { aborted: unknown };

/**
 * The job's `reply`, the thread's `end` or the `signal`'s abort, whichever comes first. A reply
 * that rejects (the call itself failed, e.g. a value could not be cloned) counts as aborted with
 * that error. Once settled, neither `end` nor `signal` refers to anything of the job.
 */
export function firstOf<T>(reply: Promise<T>, end: ThreadEnd, signal: AbortSignal): Promise<FirstOf<T>> {
  return new Promise<FirstOf<T>>((resolve) => {
    let stopWatching = (): void => {};
    let settled = false;
    const onAbort = (): void => finish({ aborted: signal.reason as unknown });
    function finish(r: FirstOf<T>): void {
      if (settled) return;
      settled = true;
      stopWatching();
      signal.removeEventListener('abort', onAbort);
      resolve(r);
    }
    stopWatching = end.watch((died) => finish({ died }));
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    reply.then(finish, (e: unknown) => finish({ aborted: e }));
  });
}
