/** `@meshwork/web-worker/node`: the Node host of the meshwork worker runtime. */
export { startWorker, type WorkerHandle, type WorkerOptions } from './worker.js';
export { runWorkerCli, parseWorkerArgs, WORKER_USAGE } from './cli.js';
export { ThreadPool, type ThreadPoolOptions } from './thread-pool.js';
export { lineLogger, silentLogger, type Logger, type LogLevel } from '../core/logger.js';
export type { Executor, FetchResult, Job, Outcome, PeerFetcher } from '../core/interfaces.js';
export { TransferStats, type PeerTraffic, type TransferPath } from '../core/transfer-stats.js';
export { NodeRtcPeers, isLoopbackHost, type NodeRtcPeersOptions } from './rtc-peers.js';
export { HUGE_PAGES_OPT_OUT_ENV, HUGE_PAGES_TUNABLE, MEMORY_TUNABLES, RELAUNCHED_ENV, hugePagesEnv, isLinuxGlibc, relaunchWithHugePages } from './huge-pages.js';
