/** Where the state machine's messages go: the transport in production, a recorder in tests. */
import type { ClientChannel, WorkerChannel } from '@meshwork/protocol';

export interface Emit {
  worker(workerId: string, message: WorkerChannel.ServerToWorker): void;
  client(clientId: string, message: ClientChannel.ServerToClient): void;
}
