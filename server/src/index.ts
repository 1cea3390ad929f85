export { LocalCluster, type LocalClusterOptions } from './local-cluster.js';
export { SchedulerServer, type SchedulerServerOptions } from './transport/scheduler-server.js';
export { SchedulerState, type SchedulerOptions } from './state/scheduler-state.js';
export { checkInvariants } from './state/invariants.js';
export type { ClusterState, WorkerInfo } from './transport/views.js';
export { lineLogger, silentLogger, type Logger } from './logger.js';
export { treeReduction, type TreeReductionResult } from '@meshwork/examples';
export { startStunServer, type StunServer, type StunServerOptions } from './transport/stun.js';
