/** A driver for the pure state machine: records what it sends, plays workers and clients. */
import { taskDigest, type ClientChannel, type WorkerChannel } from '@meshwork/protocol';
import { SchedulerState, type NewWorker, type SchedulerOptions } from '../src/state/scheduler-state.js';
import { checkInvariants } from '../src/state/invariants.js';

type ToWorker = WorkerChannel.ServerToWorker;
type ToClient = ClientChannel.ServerToClient;

interface SubmitOptions {
  unwanted?: string[];
  retries?: number;
  priority?: number;
  verify?: number;
  timeoutMs?: number;
  /** Runs only there (allowOtherWorkers: false). */
  workers?: string[];
}

function spec(key: string, deps: string[], opts: SubmitOptions): ClientChannel.TaskSpec {
  return {
    key,
    fn: 'f',
    args: new Uint8Array([1, ...deps.join('').slice(0, 8).split('').map((c) => c.charCodeAt(0) & 255)]),
    deps,
    priority: opts.priority ?? 0,
    retries: opts.retries ?? 0,
    ...(opts.verify ? { verify: opts.verify } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.workers ? { workers: opts.workers, allowOtherWorkers: false } : {}),
  };
}

export class Harness {
  readonly toWorkers = new Map<string, ToWorker[]>();
  readonly toClients = new Map<string, ToClient[]>();
  readonly s: SchedulerState;
  private seq = 0;

  constructor(options: SchedulerOptions = {}) {
    this.s = new SchedulerState(
      {
        worker: (id, m) => this.push(this.toWorkers, id, m),
        client: (id, m) => this.push(this.toClients, id, m),
      },
      options,
    );
  }

  private push<M>(map: Map<string, M[]>, id: string, m: M): void {
    const list = map.get(id) ?? [];
    list.push(m);
    map.set(id, list);
  }

  check(): void {
    const broken = checkInvariants(this.s);
    if (broken.length > 0) throw new Error(`invariants broken:\n${broken.join('\n')}`);
  }

  worker(id: string, threads = 1, extra: Partial<NewWorker> = {}): void {
    this.s.addWorker({ id, name: id, kind: 'node', agent: 'test', threads, resources: {}, dataAddress: `tcp://${id}`, memoryLimit: null, ...extra });
    this.check();
  }

  client(id: string): void {
    this.s.addClient(id, id);
  }

  /** Submits tasks: `[key, deps]` pairs; every key is wanted by the client unless listed in `unwanted`. */
  submit(client: string, tasks: [string, string[]][], opts: SubmitOptions = {}): void {
    this.s.updateGraph(client, {
      type: 'update-graph',
      fns: [{ id: 'f', name: 'f', source: '(x) => x' }],
      tasks: tasks.map(([key, deps]) => spec(key, deps, opts)),
      wants: tasks.map(([k]) => k).filter((k) => !opts.unwanted?.includes(k)),
    });
    this.check();
  }

  /** The pure key `<name>-<digest>` of the task `submit` makes with these inputs and options: one that clients share. */
  pure(name: string, deps: string[] = [], opts: SubmitOptions = {}): string {
    return `${name}-${taskDigest(spec('', deps, opts))}`;
  }

  /** Compute-task keys sent to a worker and not yet taken by `drain`. */
  drain(worker: string): string[] {
    const msgs = this.toWorkers.get(worker) ?? [];
    this.toWorkers.set(worker, []);
    return msgs.flatMap((m) => (m.type === 'compute-task' ? [m.key] : []));
  }

  /** `worker` finished `key`; with `hash` it says it made those bytes (results of verified tasks agree by hash). */
  finish(worker: string, key: string, nbytes = 8, hash?: string): void {
    const value = new Uint8Array([this.seq++ & 255]);
    this.s.taskFinished(worker, { type: 'task-finished', key, nbytes, value, ...(hash === undefined ? {} : { hash }), startedAt: 0, stoppedAt: 1, thread: 0 });
    this.check();
  }

  err(worker: string, key: string): void {
    this.s.taskErred(worker, { type: 'task-erred', key, error: { code: 'REMOTE_ERROR', name: 'Error', message: 'boom' }, startedAt: 0, stoppedAt: 1, thread: 0 });
    this.check();
  }

  clientMessages(client: string): ToClient[] {
    return this.toClients.get(client) ?? [];
  }

  /** Messages sent to a worker and not yet taken by `drain`. */
  workerMessages(worker: string): ToWorker[] {
    return this.toWorkers.get(worker) ?? [];
  }

  status(key: string): string | undefined {
    return this.s.tasks.get(key)?.status;
  }
}
