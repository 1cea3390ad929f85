/** The worker side of the scheduler handshake: the `hello` it sends and how the reply is read. */
import {
  AuthError,
  ConnectionError,
  PROTOCOL_VERSION,
  ProtocolError,
  ReplyCode,
  WorkerChannel,
  parseFrame,
  typesOf,
  type MeshworkError,
} from '@meshwork/protocol';

export interface HelloOptions {
  kind: 'node' | 'browser';
  threads: number;
  memoryLimit: number | null;
  resources: Record<string, number>;
  dataAddress: string | null;
  agent: string;
  name?: string | undefined;
  token?: string | undefined;
}

export function helloMessage(o: HelloOptions): Record<string, unknown> {
  const hello: Record<string, unknown> = {
    type: 'hello',
    protocolVersion: PROTOCOL_VERSION,
    role: 'worker',
    kind: o.kind,
    threads: o.threads,
    memoryLimit: o.memoryLimit,
    resources: o.resources,
    dataAddress: o.dataAddress,
    agent: o.agent,
  };
  if (o.name !== undefined) hello.name = o.name;
  if (o.token !== undefined) hello.token = o.token;
  return hello;
}

type WelcomeIceServers = NonNullable<Extract<WorkerChannel.ServerToWorker, { type: 'welcome' }>['iceServers']>;

export const serverToWorkerTypes = typesOf(WorkerChannel.ServerToWorker);

export type HandshakeReply =
  /** `iceServers`: what the welcome named for WebRTC (none: host candidates only). */
  | { ok: true; id: string; iceServers: WelcomeIceServers; dataToken: string | undefined; rest: WorkerChannel.ServerToWorker[] }
  | { ok: false; error: MeshworkError };

/** Reads the scheduler's first frame: `welcome` (maybe followed by more messages) or a refusal. */
export function readHandshakeReply(bytes: Uint8Array): HandshakeReply {
  const { messages, errors } = parseFrame(bytes, WorkerChannel.ServerToWorker, serverToWorkerTypes);
  const first = messages[0];
  if (first?.type === 'welcome') {
    if (first.protocolVersion !== PROTOCOL_VERSION) {
      return { ok: false, error: new ProtocolError(`scheduler speaks protocol version ${first.protocolVersion}, this worker ${PROTOCOL_VERSION}: upgrade one of them`) };
    }
    return { ok: true, id: first.id, iceServers: first.iceServers ?? [], dataToken: first.dataToken, rest: messages.slice(1) };
  }
  if (first?.type === 'error') {
    switch (first.code) {
      case ReplyCode.AUTH_FAILED:
        return { ok: false, error: new AuthError(`scheduler refused this worker's token: ${first.message}`) };
      case ReplyCode.VERSION_MISMATCH:
        return { ok: false, error: new ProtocolError(`scheduler refused protocol version ${PROTOCOL_VERSION}: ${first.message}`) };
      default:
        return { ok: false, error: new ProtocolError(`scheduler refused this worker (${first.code}): ${first.message}`) };
    }
  }
  const why = errors[0]?.message ?? (first ? `got '${first.type}'` : 'empty frame');
  return { ok: false, error: new ConnectionError(`expected 'welcome' from the scheduler: ${why}`) };
}

/**
 * The scheduler's frames on one connection, in order: the first answers `hello` (welcome or a
 * refusal); those after a welcome go to the frame handler, buffered until one is set. The Node and
 * browser hosts share it and differ only in their sockets.
 */
export class FrameGate {
  /** Welcomed, or given up on (refused, timed out, aborted, closed): nothing more to answer. */
  settled = false;
  private welcomed = false;
  private handler: ((bytes: Uint8Array) => void) | undefined;
  private readonly buffered: Uint8Array[] = [];

  /**
   * Feeds one frame. Returns the handshake reply when this frame was it; a welcome settles the gate,
   * a refusal is left for the host to settle (it closes its socket and rejects).
   */
  push(bytes: Uint8Array): HandshakeReply | undefined {
    if (this.welcomed) {
      if (this.handler) this.handler(bytes);
      else this.buffered.push(bytes);
      return undefined;
    }
    if (this.settled) return undefined;
    const reply = readHandshakeReply(bytes);
    if (reply.ok) this.settled = this.welcomed = true;
    return reply;
  }

  /** Where frames after the welcome go; those that came before are handed over at once. */
  onFrame(handler: (bytes: Uint8Array) => void): void {
    this.handler = handler;
    for (const b of this.buffered.splice(0)) handler(b);
  }
}
