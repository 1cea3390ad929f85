/**
 * A graph from a client, checked at the edge before the state machine sees it: functions must be
 * what their ids say (`functionId`: a client cannot plant another source under an id others use),
 * and the unfinished tasks of the client's token (all its connections) stay under
 * MAX_PENDING_TASKS_PER_TOKEN: a graph past it is refused, each new key it wanted failing with
 * GraphError. Which keys the client may name is the state machine's to say (tenancy.ts).
 */
import { ErrorCode, ReplyCode, functionId, type ClientChannel } from '@meshwork/protocol';
import type { SchedulerState } from '../state/scheduler-state.js';
import type { Connection } from './connection.js';
import type { LimitCounts } from './options.js';
import type { PendingTasks } from './pending-tasks.js';

type UpdateGraph = Extract<ClientChannel.ClientToServer, { type: 'update-graph' }>;

export interface GraphEdge {
  state: SchedulerState;
  pending: PendingTasks;
  limits: LimitCounts;
  /** The pending-task limit per token. */
  pendingLimit: number;
  /** Whether the scheduler has tokens (the limit's message says whose tasks count). */
  secured: boolean;
}

export function admitGraph(o: GraphEdge, id: string, conn: Connection<ClientChannel.ServerToClient>, m: UpdateGraph): void {
  for (const f of m.fns) {
    if (o.state.fns.has(f.id)) continue;
    if (f.id !== functionId(f.source, f.module)) {
      conn.reply(ReplyCode.PROTOCOL_ERROR, `bad 'update-graph' message: function id ${f.id.slice(0, 64)} is not the hash of its source`);
      return;
    }
  }
  const fresh: string[] = [];
  for (const t of m.tasks) if (!o.state.tasks.has(t.key)) fresh.push(t.key);
  const admitted = o.pending.admit(id, fresh);
  if (admitted.ok) return o.state.updateGraph(id, m);
  o.limits.graphsRefused++;
  const whose = o.secured ? 'the clients of this token have' : 'the clients of this scheduler (it has no token: they count as one) have';
  const message = `graph of ${m.tasks.length} tasks refused: ${whose} ${admitted.pending} unfinished tasks and may have at most ${o.pendingLimit} (MAX_PENDING_TASKS_PER_TOKEN); wait for some to finish`;
  conn.reply(ReplyCode.LIMIT_EXCEEDED, message);
  const refused = new Set(fresh);
  for (const key of m.wants) if (refused.has(key)) conn.send({ type: 'key-erred', key, error: { code: ErrorCode.GRAPH, name: 'GraphError', message, key } });
  // Wants of keys the scheduler already knows still count: the client will release them.
  const known = m.wants.filter((key) => !refused.has(key));
  if (known.length > 0) o.state.updateGraph(id, { type: 'update-graph', fns: [], tasks: [], wants: known });
}
