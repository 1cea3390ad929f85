/** Read-only views of the scheduler state: the /api/state JSON and the /metrics text. */
import type { SchedulerState } from '../state/scheduler-state.js';

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
}

export interface ClusterState {
  workers: WorkerInfo[];
  tasks: { waiting: number; processing: number; memory: number; erred: number };
}

export function clusterState(s: SchedulerState): ClusterState {
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
    })),
    tasks: {
      waiting: s.counts.waiting + s.counts.queued,
      processing: s.counts.processing,
      memory: s.counts.memory,
      erred: s.counts.erred,
    },
  };
}

export function prometheusText(s: SchedulerState, relayedBytes: number): string {
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
  metric('meshwork_workers_joined_total', 'counter', 'Workers that joined.', [['', s.totals.workersJoined]]);
  metric('meshwork_workers_lost_total', 'counter', 'Workers that left or died.', [['', s.totals.workersLost]]);
  metric('meshwork_bytes_stored', 'gauge', 'Bytes of results held by workers.', [
    ['', [...s.workers.values()].reduce((n, w) => n + w.bytesStored, 0)],
  ]);
  metric('meshwork_relayed_bytes_total', 'counter', 'Bytes of task data relayed through the scheduler.', [['', relayedBytes]]);
  return lines.join('\n') + '\n';
}
