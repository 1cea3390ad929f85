/**
 * A scheduler in this process and N worker processes on this machine, for users, tests and
 * `npm start`. Each worker is a separate Node process running `meshwork worker`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hugePagesEnv } from '@meshwork/web-worker/huge-pages';
import { SchedulerServer, type SchedulerServerOptions } from './transport/scheduler-server.js';

/** How long `start` waits for its workers to join, in milliseconds. */
export const LOCAL_WORKERS_JOIN_TIMEOUT_MS = 30_000;
/** How long `close` waits for a worker process to exit after SIGTERM before SIGKILL, in milliseconds. */
export const WORKER_EXIT_GRACE_MS = 3_000;

/** The environment variables the CLIs read tokens from: a worker inherits none but its own. */
const TOKEN_ENV_VARS = ['MESHWORK_TOKEN', 'MESHWORK_CLIENT_TOKEN', 'MESHWORK_WORKER_TOKEN'] as const;

export interface LocalClusterOptions extends Omit<SchedulerServerOptions, 'port' | 'host'> {
  workers?: number;
  threadsPerWorker?: number;
  host?: string;
  /** 0 (the default) picks any free port. */
  port?: number;
  /** Where worker processes write their output; by default it is discarded. */
  workerStdio?: 'ignore' | 'inherit';
  /** Extra arguments for every worker (e.g. ['--memory-limit', '1e9']). */
  workerArgs?: string[];
  /** Node options for every worker process (e.g. ['--cpu-prof', '--cpu-prof-dir', 'profiles']). */
  workerExecArgv?: string[];
}

const cliPath = fileURLToPath(new URL('./cli.js', import.meta.url));

export class LocalCluster {
  readonly processes = new Set<ChildProcess>();
  private serial = 0;
  private closing = false;

  private constructor(
    readonly scheduler: SchedulerServer,
    private readonly options: LocalClusterOptions,
  ) {}

  static async start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    const scheduler = await SchedulerServer.start({ ...options, host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
    const cluster = new LocalCluster(scheduler, options);
    try {
      const n = options.workers ?? 2;
      for (let i = 0; i < n; i++) cluster.spawnWorker();
      await cluster.waitForWorkers(n);
    } catch (e) {
      await cluster.close();
      throw e;
    }
    return cluster;
  }

  /** `ws://HOST:PORT`: what clients and workers connect to. */
  get address(): string {
    return this.scheduler.address;
  }

  /** `http://HOST:PORT`: the dashboard, /join, /api/state, /metrics. */
  get httpUrl(): string {
    return this.scheduler.httpUrl;
  }

  /** Starts one more worker process; resolves once it has joined. */
  async addWorker(extraArgs: string[] = []): Promise<ChildProcess> {
    const before = this.scheduler.state.workers.size;
    const child = this.spawnWorker(extraArgs);
    await this.waitForWorkers(before + 1);
    return child;
  }

  private spawnWorker(extraArgs: string[] = []): ChildProcess {
    const args = [
      ...(this.options.workerExecArgv ?? []),
      cliPath,
      'worker',
      this.address,
      '--threads',
      String(this.options.threadsPerWorker ?? 1),
      '--name',
      `local-${this.serial++}`,
      '--host',
      this.options.host ?? '127.0.0.1',
      ...(this.options.workerArgs ?? []),
      ...extraArgs,
    ];
    const child = spawn(process.execPath, args, { env: this.workerEnv(), stdio: ['ignore', this.options.workerStdio ?? 'ignore', this.options.workerStdio ?? 'ignore'] });
    this.processes.add(child);
    child.once('exit', () => this.processes.delete(child));
    return child;
  }

  /**
   * A worker's environment: this process's, with the worker token as MESHWORK_WORKER_TOKEN (the
   * worker CLI reads it) and no other token. Not in argv: any local user can read a process's
   * command line (`ps`), while its environment is readable only by its own user. On Linux with
   * glibc it also asks for transparent huge pages (see hugePagesEnv: fresh memory for values costs
   * 4–8 ms per MB without them on some machines), unless MESHWORK_HUGE_PAGES=0.
   */
  private workerEnv(): NodeJS.ProcessEnv {
    const env = { ...(hugePagesEnv(process.env) ?? process.env) };
    for (const name of TOKEN_ENV_VARS) delete env[name];
    const token = this.options.workerToken ?? this.options.token;
    if (token !== undefined) env.MESHWORK_WORKER_TOKEN = token;
    return env;
  }

  /** Resolves when at least `n` workers are connected. */
  async waitForWorkers(n: number, timeoutMs = LOCAL_WORKERS_JOIN_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.scheduler.state.workers.size < n) {
      if (Date.now() > deadline) throw new Error(`only ${this.scheduler.state.workers.size} of ${n} workers joined within ${timeoutMs} ms`);
      if (this.processes.size === 0 && !this.closing) throw new Error('every worker process exited before joining');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Ends every worker process and the scheduler. */
  async close(): Promise<void> {
    this.closing = true;
    const exits = [...this.processes].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const kill = setTimeout(() => child.kill('SIGKILL'), WORKER_EXIT_GRACE_MS);
          child.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);
    await this.scheduler.close();
  }
}
