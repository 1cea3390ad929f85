/**
 * @meshwork/client: submit work to a meshwork cluster and get futures back.
 * The same code runs in Node ≥ 20 and in browsers; the runtime adapter is chosen by `#platform`.
 */
export { Client, type GetOptions, type FutureTree } from './client.js';
export { Submitter } from './submitter.js';
export { Future } from './future.js';
export { AsCompleted } from './as-completed.js';
export { Progress, type ProgressState } from './progress.js';
export { Executor, type ShutdownOptions } from './executor.js';
export type { Graph, KeySpec } from './graph.js';
export type { ModuleFunction, ModuleHandle, UploadPackageOptions } from './modules.js';
export type { RunOptions } from './remote.js';
export type { ScatterOptions } from './scatter.js';
export type { DoneAndNotDone, ReturnWhen, WaitForOptions } from './wait.js';
export type { WaitOptions } from './deadline.js';
export { installTaskGlobal, type TaskGlobal, type TaskGlobalOptions } from './task-global.js';
export type {
  ConnectOptions,
  FutureStatus,
  Gathered,
  Logger,
  MaybeFuture,
  ResultOptions,
  TaskArgs,
  TaskOptions,
} from './types.js';
export type { Platform, ControlSocket, ControlSocketHandlers } from './platform.js';
export {
  CLOSE_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  GATHER_ATTEMPTS,
  GATHER_MESSAGE_MAX_KEYS,
  GATHER_RETRY_MAX_MS,
  GATHER_RETRY_MS,
  GRAPH_MESSAGE_MAX_BYTES,
  GRAPH_MESSAGE_MAX_TASKS,
  PEER_CONNECT_TIMEOUT_MS,
  PEER_FETCH_BATCH_TIMEOUT_MS,
  PEER_PUT_BATCH_TIMEOUT_MS,
  RESULT_CACHE_MAX_BYTES,
  SCATTER_ATTEMPTS,
  SCATTER_PLAN_RETRY_MAX_MS,
  SCATTER_PLAN_RETRY_MS,
  SCATTER_WORKER_WAIT_MS,
} from './constants.js';
export {
  AuthError,
  CancelledError,
  ConnectionError,
  ErrorCode,
  GraphError,
  KilledWorkerError,
  LostError,
  MAX_TASK_TIMEOUT_MS,
  MeshworkError,
  ProtocolError,
  RemoteError,
  SerializationError,
  TimeoutError,
} from '@meshwork/protocol';
