/**
 * Task client capabilities (tasks from tasks). Each connected client gets a random capability,
 * sent with every `compute-task` run for it; inside the task, `globalThis.meshwork.client()`
 * connects with it instead of a token. A capability admits a non-admin client acting for the
 * client it was issued to, and only while that client is connected: it dies with it.
 *
 * This is what a task may hold instead of a token: a worker's token never reaches task code, and
 * a capability lets a task do what its own client may, nothing more, for no longer.
 */
import { createHash, randomBytes } from 'node:crypto';

/** Bytes of randomness in a capability (base64url-encoded on the wire). */
export const CAPABILITY_BYTES = 24;

/** Lookups go through a digest: the time a lookup takes says nothing about a live capability's bytes. */
function digest(capability: string): string {
  return createHash('sha256').update(capability).digest('base64url');
}

export class Capabilities {
  /** digest(capability) → the client it acts for. */
  private readonly clientByDigest = new Map<string, string>();
  /** client id → its capability. */
  private readonly byClient = new Map<string, string>();

  /** A fresh capability for `clientId` (replacing any it had). */
  issue(clientId: string): string {
    this.forget(clientId);
    const capability = randomBytes(CAPABILITY_BYTES).toString('base64url');
    this.byClient.set(clientId, capability);
    this.clientByDigest.set(digest(capability), clientId);
    return capability;
  }

  /** The capability of a connected client, for the tasks run for it. */
  of(clientId: string): string | undefined {
    return this.byClient.get(clientId);
  }

  /** The client a presented capability acts for; undefined when it is made up or its client left. */
  clientOf(capability: string): string | undefined {
    return this.clientByDigest.get(digest(capability));
  }

  /** The client left: its capability admits no one any more. */
  forget(clientId: string): void {
    const capability = this.byClient.get(clientId);
    if (capability === undefined) return;
    this.byClient.delete(clientId);
    this.clientByDigest.delete(digest(capability));
  }

  get size(): number {
    return this.byClient.size;
  }
}
