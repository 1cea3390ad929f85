/**
 * @meshwork/client: submit work to a meshwork cluster and get futures back.
 * The same code runs in Node ≥ 20 and in browsers; the runtime adapter is chosen by `#platform`.
 */
export { Client, Submitter } from './client.js';
export { Future } from './future.js';
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
export type { Platform, ControlSocket, ControlSocketHandlers, PeerStream, PeerStreamHandlers } from './platform.js';
export {
  CLOSE_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  GATHER_ATTEMPTS,
  PEER_CONNECT_TIMEOUT_MS,
  PEER_FETCH_BATCH_TIMEOUT_MS,
  RESULT_CACHE_MAX_BYTES,
} from './constants.js';
export {
  AuthError,
  CancelledError,
  ConnectionError,
  ErrorCode,
  GraphError,
  KilledWorkerError,
  LostError,
  MeshworkError,
  ProtocolError,
  RemoteError,
  SerializationError,
  TimeoutError,
} from '@meshwork/protocol';
