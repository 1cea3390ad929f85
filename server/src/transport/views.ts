/** Read-only views of the scheduler state: the /api/state JSON and the /metrics text. */
import type { SchedulerState } from '../state/scheduler-state.js';
import { checkInvariants } from '../state/invariants.js';
import type { PeerTraffic, TrafficBook } from './traffic.js';

export interface WorkerInfo {
  id: string;
  name: string;
  kind: 'node' | 'browser';
  agent: string;
  threads: number;
  resources: Record<string, number>;
  paused: boolean;
  memory: { used: number; limit: number | null };
  tasks: { running: number; done: number };
  bytesStored: number;
  /** Bytes of values traded with each peer, per path, as the worker last reported. */
  peers: PeerTraffic[];
  /**
   * Times it was outvoted on verified tasks (`verify: k`) or blamed by peers for a missing or wrong
   * value; `excluded` once it gets no more tasks (for this, or for `racesLost`).
   */
  suspicions: number;
  /** Tasks it held past their lease that now run elsewhere too (its copies may still win). */
  overdue: number;
  /** Its copies of tasks overtaken by a later copy elsewhere: many, and more than it finished, exclude it. */
  racesLost: number;
  excluded: boolean;
}

export interface ClusterState {
  workers: WorkerInfo[];
  tasks: { waiting: number; processing: number; memory: number; erred: number };
}

export function clusterState(s: SchedulerState, traffic?: TrafficBook): ClusterState {
  return {
    workers: [...s.workers.values()].map((w) => ({
      id: w.id,
      name: w.name,
      kind: w.kind,
      agent: w.agent,
      threads: w.threads,
      resources: w.resources,
      paused: w.paused,
      memory: { used: w.memoryUsed, limit: w.memoryLimit },
      tasks: { running: w.processing.size, done: w.tasksDone },
      bytesStored: w.bytesStored,
      peers: traffic?.peersOf(w.id) ?? [],
      suspicions: w.suspicions,
      overdue: w.overdue.size,
      racesLost: w.racesLost,
      excluded: w.excluded,
    })),
    tasks: {
      waiting: s.counts.waiting + s.counts.queued,
      processing: s.counts.processing,
      memory: s.counts.memory,
      erred: s.counts.erred,
    },
  };
}

export function prometheusText(s: SchedulerState, traffic: TrafficBook): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: [string, number][]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  metric('meshwork_workers', 'gauge', 'Connected workers.', [
    ['{kind="node"}', [...s.workers.values()].filter((w) => w.kind === 'node').length],
    ['{kind="browser"}', [...s.workers.values()].filter((w) => w.kind === 'browser').length],
  ]);
  metric('meshwork_clients', 'gauge', 'Connected clients.', [['', s.clients.size]]);
  metric(
    'meshwork_tasks',
    'gauge',
    'Tasks known to the scheduler, by state.',
    Object.entries(s.counts).map(([state, n]) => [`{state="${state}"}`, n]),
  );
  metric('meshwork_tasks_finished_total', 'counter', 'Tasks that finished.', [['', s.totals.tasksFinished]]);
  metric('meshwork_tasks_erred_total', 'counter', 'Tasks that failed.', [['', s.totals.tasksErred]]);
  metric('meshwork_tasks_replanned_total', 'counter', 'Tasks planned again: an input could not be fetched.', [
    ['', s.totals.tasksReplanned],
  ]);
  metric('meshwork_tasks_speculated_total', 'counter', 'Copies of tasks run elsewhere because a worker held them past their lease.', [
    ['', s.speculation.copies],
  ]);
  metric('meshwork_races_lost_total', 'counter', 'Copies held past their lease and overtaken by a later copy (their workers suspected).', [
    ['', s.speculation.racesLost],
  ]);
  metric('meshwork_workers_joined_total', 'counter', 'Workers that joined.', [['', s.totals.workersJoined]]);
  metric('meshwork_workers_lost_total', 'counter', 'Workers that left or died.', [['', s.totals.workersLost]]);
  metric('meshwork_bytes_stored', 'gauge', 'Bytes of results held by workers.', [
    ['', [...s.workers.values()].reduce((n, w) => n + w.bytesStored, 0)],
  ]);
  metric('meshwork_relayed_bytes_total', 'counter', 'Bytes of task data relayed through the scheduler.', [['', traffic.relayedBytes]]);
  metric(
    'meshwork_peer_bytes_total',
    'counter',
    'Bytes of values workers received from peers, by path (tcp: the direct Node link; webrtc; relay: through the scheduler).',
    (['tcp', 'webrtc', 'relay'] as const).map((path) => [`{path="${path}"}`, traffic.received[path]]),
  );
  return lines.join('\n') + '\n';
}

/** Tasks listed by /api/dump unless `?limit=` says otherwise. */
export const DUMP_DEFAULT_TASK_LIMIT = 10_000;

/** The whole state, for debugging stuck work: every task's status, inputs, holders and wanters. */
export function clusterDump(s: SchedulerState, taskLimit: number): unknown {
  const tasks = [];
  for (const t of s.tasks.values()) {
    if (tasks.length >= taskLimit) break;
    tasks.push({
      key: t.key,
      status: t.status,
      function: t.fnName,
      deps: t.deps.map((d) => d.key),
      dependents: t.dependents.size,
      waitingOn: t.status === 'waiting' ? t.deps.filter((d) => d.status !== 'memory').map((d) => d.key) : [],
      processingOn: t.processingOn?.id ?? null,
      whoHas: [...t.whoHas].map((w) => w.id),
      wantedBy: Object.fromEntries(t.wants),
      waiters: [...t.waiters].map((d) => d.key),
      nbytes: t.nbytes,
      hash: t.hash,
      priority: t.priority,
      retriesLeft: t.retriesLeft,
      suspicious: t.suspicious,
      stragglers: t.stragglers?.map((w) => w.id) ?? [],
      scattered: t.scattered,
      restrictions: t.restrictions,
      error: t.error ? { code: t.error.code, name: t.error.name, message: t.error.message } : null,
    });
  }
  const summary = clusterState(s);
  const info = new Map(summary.workers.map((w) => [w.id, w]));
  return {
    ...summary,
    counts: s.statusCounts(),
    totals: s.totals,
    taskCount: s.tasks.size,
    tasksListed: tasks.length,
    tasks,
    workers: [...s.workers.values()].map((w) => ({
      ...info.get(w.id),
      dataAddress: w.dataAddress,
      processing: [...w.processing].map((t) => t.key),
      seceded: [...w.seceded].map((t) => t.key),
      resourcesUsed: w.resourcesUsed,
      holds: w.hasWhat.size,
    })),
    clients: [...s.clients.values()].map((c) => ({ id: c.id, name: c.name, wants: c.wants.size })),
    invariants: checkInvariants(s),
  };
}
