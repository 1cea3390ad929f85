/**
 * Request/reply pairs on the control channel other than `gather` (`scatter-plan`, `who-has`,
 * `run`, `upload`): each request carries a fresh id; its reply, or an `error` naming it in
 * `replyTo`, settles it (the error's `cause` is that `error` reply, whose `code` says why). Waits are bounded by `timeoutMs`/`signal`; a late reply is dropped.
 */
import { AuthError, ProtocolError, ReplyCode, type ConnectionError, type ErrorReply } from '@meshwork/protocol';
import type { Connection, Incoming, Outgoing } from './connection.js';
import { withDeadline, type WaitOptions } from './deadline.js';

type ReplyType = 'scatter-plan-reply' | 'who-has-reply' | 'run-reply' | 'upload-reply';
export type Reply<T extends ReplyType> = Extract<Incoming, { type: T }>;

interface Pending {
  type: ReplyType;
  what: string;
  resolve(reply: Incoming): void;
  reject(error: Error): void;
}

export class Requests {
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly conn: Connection) {}

  /** Queues `build(id)` and resolves with the reply of type `type`. Throws ConnectionError if not connected. */
  ask<T extends ReplyType>(
    build: (id: number) => Outgoing,
    type: T,
    what: string,
    options: WaitOptions = {},
  ): Promise<Reply<T>> {
    const id = this.conn.nextRequestId();
    this.conn.send(build(id));
    const reply = new Promise<Reply<T>>((resolve, reject) => {
      this.pending.set(id, { type, what, resolve: resolve as (reply: Incoming) => void, reject });
    });
    return this.conn.hold(withDeadline(reply, options, what, () => this.pending.delete(id)));
  }

  /** A reply: settles its request. False if no request waits for it (late, or unknown id). */
  onReply(reply: Reply<ReplyType>): boolean {
    const p = this.pending.get(reply.id);
    if (!p) return false;
    this.pending.delete(reply.id);
    if (p.type === reply.type) p.resolve(reply);
    else p.reject(new ProtocolError(`expected '${p.type}' for request ${reply.id} (${p.what}), got '${reply.type}'`));
    return true;
  }

  /** An `error` naming one of these requests fails it. */
  onErrorReply(reply: ErrorReply): boolean {
    const p = reply.replyTo === undefined ? undefined : this.pending.get(reply.replyTo);
    if (!p || reply.replyTo === undefined) return false;
    this.pending.delete(reply.replyTo);
    p.reject(
      reply.code === ReplyCode.AUTH_FAILED || reply.code === ReplyCode.NOT_YOURS
        ? new AuthError(`the scheduler refused ${p.what}: ${reply.message}`)
        : new ProtocolError(`the scheduler refused ${p.what}: ${reply.code}: ${reply.message}`, { cause: reply }),
    );
    return true;
  }

  failAll(error: ConnectionError): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(error);
  }
}
