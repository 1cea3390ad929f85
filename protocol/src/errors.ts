/**
 * The closed set of errors a user sees, each with a stable `code`.
 * Errors cross process boundaries as `WireError` and are rebuilt by `errorFromWire`;
 * match on `code` (or `name`), never on `instanceof`, across boundaries.
 */

export const ErrorCode = {
  REMOTE_ERROR: 'REMOTE_ERROR',
  CANCELLED: 'CANCELLED',
  TIMEOUT: 'TIMEOUT',
  LOST: 'LOST',
  KILLED_WORKER: 'KILLED_WORKER',
  CONNECTION: 'CONNECTION',
  AUTH: 'AUTH',
  PROTOCOL: 'PROTOCOL',
  SERIALIZATION: 'SERIALIZATION',
  GRAPH: 'GRAPH',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The shape of an error on the wire. */
export interface WireError {
  code: string;
  name: string;
  message: string;
  stack?: string | undefined;
  key?: string | undefined;
  workerId?: string | undefined;
}

/**
 * Each class names itself with a string literal, never `new.target.name`: a minifier renames
 * classes (a production web app's bundle would say `g`), and users match on `name`.
 */
export class MeshworkError extends Error {
  override readonly name: string = 'MeshworkError';
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** The task threw (or its result could not be sent). */
export class RemoteError extends MeshworkError {
  override readonly name = 'RemoteError';
  /** The thrown error's own name, e.g. `TypeError`. */
  readonly remoteName: string;
  readonly remoteStack: string | undefined;
  readonly key: string | undefined;
  readonly workerId: string | undefined;
  constructor(
    message: string,
    details: { remoteName: string; remoteStack?: string | undefined; key?: string | undefined; workerId?: string | undefined },
  ) {
    super(ErrorCode.REMOTE_ERROR, message);
    this.remoteName = details.remoteName;
    this.remoteStack = details.remoteStack;
    this.key = details.key;
    this.workerId = details.workerId;
  }
}

export class CancelledError extends MeshworkError {
  override readonly name = 'CancelledError';
  constructor(message = 'cancelled', options?: ErrorOptions) {
    super(ErrorCode.CANCELLED, message, options);
  }
}
export class TimeoutError extends MeshworkError {
  override readonly name = 'TimeoutError';
  constructor(message = 'timed out', options?: ErrorOptions) {
    super(ErrorCode.TIMEOUT, message, options);
  }
}
export class LostError extends MeshworkError {
  override readonly name = 'LostError';
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.LOST, message, options);
  }
}
export class KilledWorkerError extends MeshworkError {
  override readonly name = 'KilledWorkerError';
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.KILLED_WORKER, message, options);
  }
}
export class ConnectionError extends MeshworkError {
  override readonly name = 'ConnectionError';
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.CONNECTION, message, options);
  }
}
export class AuthError extends MeshworkError {
  override readonly name = 'AuthError';
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.AUTH, message, options);
  }
}
export class ProtocolError extends MeshworkError {
  override readonly name = 'ProtocolError';
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.PROTOCOL, message, options);
  }
}
export class SerializationError extends MeshworkError {
  override readonly name = 'SerializationError';
  /** Where the bad value sits, e.g. `args[1].cb`. */
  readonly path: string;
  constructor(message: string, path: string, options?: ErrorOptions) {
    super(ErrorCode.SERIALIZATION, message, options);
    this.path = path;
  }
}
export class GraphError extends MeshworkError {
  override readonly name = 'GraphError';
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.GRAPH, message, options);
  }
}

/** Turns any thrown value into its wire shape. */
export function errorToWire(error: unknown, extra?: { key?: string; workerId?: string; code?: ErrorCode }): WireError {
  const e = error instanceof Error ? error : new Error(describeThrown(error));
  const own = (e as { code?: unknown }).code;
  const code = extra?.code ?? (isErrorCode(own) ? own : ErrorCode.REMOTE_ERROR);
  const wire: WireError = { code, name: e.name, message: e.message, stack: e.stack };
  if (extra?.key !== undefined) wire.key = extra.key;
  if (extra?.workerId !== undefined) wire.workerId = extra.workerId;
  return wire;
}

const codes = new Set<string>(Object.values(ErrorCode));
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && codes.has(value);
}

function describeThrown(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return `non-Error thrown: ${JSON.stringify(value)}`;
  } catch {
    return `non-Error thrown: ${String(value)}`;
  }
}

/**
 * Rebuilds a user-facing error. A task's own exception (any code that is not one of ours,
 * or REMOTE_ERROR) becomes a RemoteError that keeps the remote name and stack.
 */
export function errorFromWire(w: WireError): MeshworkError {
  switch (w.code) {
    case ErrorCode.CANCELLED:
      return new CancelledError(w.message);
    case ErrorCode.TIMEOUT:
      return new TimeoutError(w.message);
    case ErrorCode.LOST:
      return new LostError(w.message);
    case ErrorCode.KILLED_WORKER:
      return new KilledWorkerError(w.message);
    case ErrorCode.CONNECTION:
      return new ConnectionError(w.message);
    case ErrorCode.AUTH:
      return new AuthError(w.message);
    case ErrorCode.PROTOCOL:
      return new ProtocolError(w.message);
    case ErrorCode.SERIALIZATION:
      return new SerializationError(w.message, '');
    case ErrorCode.GRAPH:
      return new GraphError(w.message);
    default:
      return new RemoteError(w.message, { remoteName: w.name, remoteStack: w.stack, key: w.key, workerId: w.workerId });
  }
}
