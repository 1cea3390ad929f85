/**
 * The browser host of the meshwork worker runtime (the /join page): one tab = one worker, tasks
 * on Web Workers, data with peers over WebRTC. Bundled by Vite from source (demo-site).
 */
/// <reference lib="dom" />
export { startTab, type TabOptions, type TabStats, type TabWorker } from './host.js';
export { joinFromPage, type PageJoin } from './page.js';
export { joinParams, schedulerUrls, type JoinParams, type SchedulerUrls } from './address.js';
export { WebThreadPool, type WebThreadPoolOptions } from './thread-pool.js';
export { PeerBook, type PeerInfo, type PeerState } from './peer-book.js';
export { lineLogger, silentLogger, type Logger } from '../core/logger.js';
