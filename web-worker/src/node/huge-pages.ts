/**
 * Huge pages and reused memory for the long-lived Node processes meshwork starts (workers,
 * schedulers), through glibc's malloc tunables.
 *
 * Memory a process touches for the first time is mapped 4 KiB at a time; on some machines (VMs
 * that reclaim memory in the background) that costs 4–8 ms per MB, which dwarfs copying or
 * hashing a value. `glibc.malloc.hugetlb=1` makes malloc ask for transparent huge pages
 * (madvise) on the large blocks behind ArrayBuffers; numpy does the same, which is why dask does
 * not pay this. Even so a fresh block costs ~1 ms per MB here, and by default glibc gives every
 * block over 128 KiB (soon: over the last one freed) back to the system when it is freed, so each
 * new value is fresh memory again. With the mmap threshold at glibc's maximum (32 MiB) and a
 * trim threshold of 128 MiB, values up to 32 MiB come from malloc's heap and their memory is
 * reused once V8 frees it (every thread dropped it, no write in flight): 8 MB written into a new
 * SharedArrayBuffer ~7.5 → ~1.1 ms. That is the memory pool of the data plane, and it never hands
 * out memory still referenced.
 *
 * glibc reads tunables only when a process starts, so a process that lacks them is started again
 * with them: `relaunchWithHugePages` (the CLIs), `hugePagesEnv` (the environment of a child, e.g.
 * LocalCluster's workers). Measured figures: docs/performance.md. Nothing happens off Linux, on a
 * libc other than glibc, or with MESHWORK_HUGE_PAGES=0; a tunable GLIBC_TUNABLES already names
 * keeps its value (the user's choice stands), the others are appended.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/** Transparent huge pages for malloc's large blocks. */
export const HUGE_PAGES_TUNABLE = 'glibc.malloc.hugetlb=1';
/** Blocks up to this come from malloc's heap, and are reused when freed: glibc's maximum on 64-bit, in bytes. */
export const MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024;
/** Free memory at the top of a heap that glibc keeps for reuse rather than returning it, in bytes. */
export const TRIM_THRESHOLD_BYTES = 128 * 1024 * 1024;
/**
 * Malloc arenas: one. Task threads then allocate values from the main heap, which is advised for
 * huge pages and reused like the rest, instead of 64 MiB per-thread heaps of 4 KiB pages: encoding
 * a tree reduction's results into fresh per-thread memory was its largest cost. Tree reduction on
 * 2 workers, alternating in one run: 1.52–1.56 s without, 0.93–1.09 s with.
 */
export const MALLOC_ARENAS = 1;
/** Every tunable set, in order; each is appended to GLIBC_TUNABLES unless it names it already. */
export const MEMORY_TUNABLES: readonly string[] = [
  HUGE_PAGES_TUNABLE,
  `glibc.malloc.mmap_threshold=${MMAP_THRESHOLD_BYTES}`,
  `glibc.malloc.trim_threshold=${TRIM_THRESHOLD_BYTES}`,
  `glibc.malloc.arena_max=${MALLOC_ARENAS}`,
];
/** Set to `0` (or `off`, `false`, `no`) to leave GLIBC_TUNABLES alone. */
export const HUGE_PAGES_OPT_OUT_ENV = 'MESHWORK_HUGE_PAGES';
/** Set in the environment of a relaunched process: it is never relaunched again. */
export const RELAUNCHED_ENV = 'MESHWORK_RELAUNCHED';
const OPT_OUT_VALUES = new Set(['0', 'off', 'false', 'no']);

let glibc: boolean | undefined;

/** Whether this process runs on Linux with glibc (the only place the tunable means anything). */
export function isLinuxGlibc(): boolean {
  if (glibc === undefined) {
    const header =
      process.platform === 'linux'
        ? (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header
        : undefined;
    glibc = typeof header?.glibcVersionRuntime === 'string';
  }
  return glibc;
}

const nameOf = (tunable: string): string => (tunable.split('=')[0] ?? '').trim();

/**
 * `env` with the MEMORY_TUNABLES that GLIBC_TUNABLES does not name appended to it (a new object),
 * or `undefined` when nothing is to change: opted out, all named already, or `platformOk` says no
 * (default: Linux with glibc). The platform is asked last, and only then: its answer comes from a
 * diagnostic report (~5 ms), which a worker LocalCluster started, every tunable set, never needs.
 */
export function hugePagesEnv(
  env: NodeJS.ProcessEnv,
  platformOk: () => boolean = isLinuxGlibc,
): NodeJS.ProcessEnv | undefined {
  if (OPT_OUT_VALUES.has((env[HUGE_PAGES_OPT_OUT_ENV] ?? '').trim().toLowerCase())) return undefined;
  const current = (env['GLIBC_TUNABLES'] ?? '').trim();
  const named = new Set(current.split(':').map(nameOf));
  const missing = MEMORY_TUNABLES.filter((t) => !named.has(nameOf(t)));
  if (missing.length === 0) return undefined;
  if (!platformOk()) return undefined;
  return { ...env, GLIBC_TUNABLES: [...(current === '' ? [] : [current]), ...missing].join(':') };
}

/** Signals passed on to the relaunched process (a terminal's Ctrl-C reaches both; a supervisor's SIGTERM only this one). */
const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Starts this very command again (same node, flags and arguments, stdio inherited) with the
 * memory tunables, when `hugePagesEnv` says so and this process is not itself a relaunch.
 * Resolves `false` when it did not (the caller goes on), else, once the relaunched process has
 * ended, `true` with `process.exitCode` set to its exit code (128 + signal number if a signal
 * ended it): the caller then returns without doing anything else. Signals this process gets go on
 * to the relaunched one; this one stays only to wait for it. If the process cannot be started,
 * resolves `false` and this one goes on without huge pages.
 */
export async function relaunchWithHugePages(): Promise<boolean> {
  if (process.env[RELAUNCHED_ENV] !== undefined) {
    // This is the relaunch: its own children may be relaunched (they get the tunable anyway).
    delete process.env[RELAUNCHED_ENV];
    // The launcher ends only after this one, so losing it means it was killed (SIGKILL cannot be
    // passed on): end too, as abruptly, rather than live on unseen by whoever killed it.
    if (process.channel) {
      process.channel.unref();
      process.once('disconnect', () => process.kill(process.pid, 'SIGKILL'));
    }
    return false;
  }
  const env = hugePagesEnv(process.env);
  if (!env) return false;
  env[RELAUNCHED_ENV] = '1';
  // The IPC channel carries nothing: it closes when this process dies, however it dies.
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { env, stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
  const forward = (signal: NodeJS.Signals): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const s of FORWARDED_SIGNALS) process.on(s, forward);
  try {
    const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined>((resolve) => {
      // Could not start it (no process was made): go on in this one, without huge pages.
      child.once('error', () => resolve(undefined));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    if (!ended) return false;
    process.exitCode = ended.code ?? 128 + (ended.signal ? constants.signals[ended.signal] : 0);
  } finally {
    for (const s of FORWARDED_SIGNALS) process.off(s, forward);
  }
  return true;
}
