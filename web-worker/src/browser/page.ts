/**
 * The join page's entry to the host: reads where the scheduler is and what was asked from the
 * page's URL (`<base>/join?threads=N&name=NAME&token=T`), joins, and leaves when the tab goes
 * away (`pagehide`, `beforeunload`: closing the WebSocket lets the scheduler recover at once
 * instead of after the heartbeat timeout).
 */
import { joinParams, schedulerUrls, type JoinParams, type SchedulerUrls } from './address.js';
import { startTab, type TabOptions, type TabWorker } from './host.js';

export interface PageJoin {
  urls: SchedulerUrls;
  params: JoinParams;
  /** Resolves once welcomed; rejects when joining failed. */
  worker: Promise<TabWorker>;
}

/** Makes this tab a worker of the scheduler that served the page. */
export function joinFromPage(
  options: Pick<TabOptions, 'logger' | 'signal' | 'onRejoining' | 'onRejoined'> = {},
): PageJoin {
  const urls = schedulerUrls(location.href);
  const params = joinParams(location.search, navigator.hardwareConcurrency);
  const worker = startTab({
    scheduler: urls.ws,
    httpBase: urls.http,
    threads: params.threads,
    name: params.name,
    token: params.token,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onRejoining ? { onRejoining: options.onRejoining } : {}),
    ...(options.onRejoined ? { onRejoined: options.onRejoined } : {}),
  });
  const abandon = new AbortController();
  const onHide = (): void => {
    abandon.abort();
    void worker.then((w) => w.leave('tab closed'));
  };
  worker.then(
    (w) => {
      addEventListener('pagehide', onHide);
      addEventListener('beforeunload', onHide);
      void w.closed.then(() => {
        removeEventListener('pagehide', onHide);
        removeEventListener('beforeunload', onHide);
      });
    },
    () => {},
  );
  return { urls, params, worker };
}
