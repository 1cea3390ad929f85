/**
 * `meshwork worker <ws-address> [options]`: a headless Node worker joining a scheduler. Runs until
 * SIGINT/SIGTERM, or until it lost the scheduler and could not rejoin it; then stops cleanly. Sets
 * `process.exitCode` (0 clean stop, 1 could not join or rejoin, 2 bad usage) and returns; it never
 * calls `process.exit`.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_SCHEDULER_PORT } from '@meshwork/protocol';
import { REJOIN_TIMEOUT_MS } from '../constants.js';
import { LOG_LEVELS, lineLogger, type LogLevel } from '../core/logger.js';
import { startWorker, type WorkerOptions } from './worker.js';

export const WORKER_USAGE = `Usage: meshwork worker <ws-address> [options]

Joins the scheduler at <ws-address> (e.g. ws://127.0.0.1:${DEFAULT_SCHEDULER_PORT}) as a Node worker and
runs its tasks until the process gets SIGINT/SIGTERM. A scheduler not up yet is waited for, and if
the scheduler goes away (restarted, or it dropped this worker), the worker joins it again by itself,
as a new worker: each for up to --rejoin-timeout seconds; then it exits with code 1.

Options:
  --threads N              worker threads running tasks (default: the number of CPUs)
  --name NAME              a name shown on the dashboard (default: none; the scheduler assigns an id)
  --memory-limit BYTES     memory this worker should hold at most, in bytes (1e9, 512MB, 2GiB:
                           suffixes kB MB GB TB, KiB MiB GiB TiB); the scheduler stops giving it
                           tasks above 80% and scattered data over the limit is refused
                           (default: no limit)
  --resources LIST         abstract resources this worker offers, e.g. gpu=1,tpu=2; tasks that ask
                           for resources only run where enough are free (default: none)
  --token T                the worker token, or the admin token (default: $MESHWORK_WORKER_TOKEN, else $MESHWORK_TOKEN;
                           prefer those: any local user can read a process's command line, e.g. with ps)
  --host H                 interface the data link (peer-to-peer transfers) listens on
                           (default: 127.0.0.1; use 0.0.0.0 so other machines can fetch from it);
                           on a loopback address WebRTC (to browser tabs) stays on 127.0.0.1 too
  --advertise tcp://H:P    the data address announced to the scheduler, when peers reach this
                           worker at another address than it listens on (a NAT, a proxy)
  --rejoin-timeout SECONDS how long to keep trying to join the scheduler, at start and after losing it
                           (default: ${REJOIN_TIMEOUT_MS / 1000}; 0: exit at once, with code 0, when it goes away)
  -h, --help               show this help

Environment: MESHWORK_LOG_LEVEL = debug | info | warn | error (default: info), logs go to stderr.`;

class UsageError extends Error {}

const units: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** A number of bytes: `4000000000`, `1e9`, `1.5e9`, `512MB`, `512 MiB`, `2GiB`, `4g` (case-insensitive). */
export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?(?:e\+?\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? units[(m[2] as string).toLowerCase()] : undefined;
  const bytes = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`--memory-limit: '${text}' is not a number of bytes (e.g. 4000000000, 1e9, 512MB or 4GiB)`);
  return bytes;
}

export function parseResources(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of text.split(',').filter((s) => s.trim() !== '')) {
    const m = /^\s*([A-Za-z_][\w.-]*)\s*=\s*(\d+(?:\.\d+)?)\s*$/.exec(item);
    if (!m) throw new UsageError(`--resources: '${item}' is not NAME=NUMBER (e.g. gpu=1,tpu=2)`);
    out[m[1] as string] = Number(m[2]);
  }
  return out;
}

function schedulerUrl(text: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(text) ? text : `ws://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`'${text}' is not a scheduler address (e.g. ws://127.0.0.1:${DEFAULT_SCHEDULER_PORT})`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new UsageError(`'${text}': the scheduler address must be ws:// or wss://`);
  return url.pathname === '/' && !url.search ? url.href.slice(0, -1) : url.href;
}

/** Parses the arguments after `meshwork worker` (a leading `worker` is skipped). `null` means help. */
export function parseWorkerArgs(argv: readonly string[]): Omit<WorkerOptions, 'logger' | 'signal'> | null {
  const args = argv[0] === 'worker' ? argv.slice(1) : [...argv];
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        threads: { type: 'string' },
        name: { type: 'string' },
        'memory-limit': { type: 'string' },
        resources: { type: 'string' },
        token: { type: 'string' },
        host: { type: 'string' },
        advertise: { type: 'string' },
        'rejoin-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return null;
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'missing <ws-address>' : `unexpected argument '${positionals[1]}'`);
  const options: Omit<WorkerOptions, 'logger' | 'signal'> = { scheduler: schedulerUrl(positionals[0] as string) };
  if (values.threads !== undefined) {
    const n = Number(values.threads);
    if (!/^\d+$/.test(values.threads) || n < 1 || n > 1024) throw new UsageError(`--threads: '${values.threads}' is not a whole number from 1 to 1024`);
    options.threads = n;
  }
  if (values.name !== undefined) options.name = values.name;
  if (values['memory-limit'] !== undefined) options.memoryLimit = parseBytes(values['memory-limit']);
  if (values.resources !== undefined) options.resources = parseResources(values.resources);
  const token = values.token ?? process.env.MESHWORK_WORKER_TOKEN ?? process.env.MESHWORK_TOKEN;
  if (token !== undefined && token !== '') options.token = token;
  if (values.host !== undefined) options.host = values.host;
  if (values.advertise !== undefined) options.advertise = values.advertise;
  const rejoin = values['rejoin-timeout'];
  if (rejoin !== undefined) {
    const seconds = Number(rejoin);
    if (rejoin.trim() === '' || !Number.isFinite(seconds) || seconds < 0)
      throw new UsageError(`--rejoin-timeout: '${rejoin}' is not a number of seconds (e.g. 60, or 0 not to rejoin)`);
    options.rejoinTimeoutMs = Math.round(seconds * 1000);
  }
  return options;
}

export async function runWorkerCli(argv: string[]): Promise<void> {
  let options;
  try {
    options = parseWorkerArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`meshwork worker: ${e.message}\nRun 'meshwork worker --help' for the options.`);
    process.exitCode = 2;
    return;
  }
  if (options === null) {
    console.log(WORKER_USAGE);
    return;
  }
  const envLevel = process.env.MESHWORK_LOG_LEVEL;
  const level: LogLevel = LOG_LEVELS.find((l) => l === envLevel) ?? 'info';
  const logger = lineLogger((line) => process.stderr.write(`${line}\n`), level, 'meshwork worker: ');

  const threads = options.threads ?? availableParallelism();
  const startup = new AbortController();
  let stopRequested: (() => void) | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info(`got ${signal}, stopping`);
    startup.abort(new Error(`interrupted by ${signal}`));
    stopRequested?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let worker;
    try {
      worker = await startWorker({ ...options, threads, logger, signal: startup.signal });
    } catch (e) {
      if (startup.signal.aborted) return;
      console.error(`meshwork worker: could not join ${options.scheduler}: ${(e as Error).message}`);
      process.exitCode = 1;
      return;
    }
    const handle = worker;
    stopRequested = () => void handle.close();
    if (startup.signal.aborted) void handle.close();
    console.error(`meshwork worker ${handle.id} connected to ${options.scheduler}: ${threads} thread${threads === 1 ? '' : 's'}, data at ${handle.dataAddress}`);
    const stopped = await handle.closed;
    if (stopped.error) console.error(`meshwork worker: ${stopped.error.message}`);
    process.exitCode = stopped.error ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
