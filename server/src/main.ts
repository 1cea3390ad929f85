/**
 * `npm start`: the embedded default (embedded.ts), in a process with huge pages.
 */
import { relaunchWithHugePages } from '@meshwork/web-worker/huge-pages';

// With huge pages (huge-pages.ts in @meshwork/web-worker): started again with them when missing,
// before anything else is loaded, so that the process which only waits never loads the cluster.
if (await relaunchWithHugePages()) process.exit();
await import('./embedded.js');
