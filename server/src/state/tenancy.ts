/**
 * Clients as tenants: which keys a client may name. The rules (the README's trust model):
 * - A key of the pure form `<name>-<digest>` names a computation: it is accepted only when the
 *   digest is the one of its spec (`taskDigest`, recomputed here), so clients that submit the same
 *   pure call share one task (dask's semantics) and nobody can put another computation under it.
 * - Any other key belongs to the tenant that created it; another tenant's spec for it is refused.
 * - A task's inputs must be keys the client holds futures for, or tasks of the same graph.
 * - A client wants (and so may gather, cancel, ask who has) only keys it created or submitted.
 * A tenant is a client and the task clients acting for it (tasks from tasks, see hello.ts).
 *
 * An input or a want the client may not name is answered like a key that does not exist: a
 * rival learns nothing of another's keys by naming them.
 */
import { ErrorCode, claimedDigest, taskDigest, type ClientChannel, type WireError } from '@meshwork/protocol';
import type { TaskState } from './types.js';

type TaskSpec = ClientChannel.TaskSpec;

export interface TenancyView {
  readonly tasks: ReadonlyMap<string, TaskState>;
  /** The tenant a connected client belongs to (itself, or the client its task acts for). */
  tenantOf(clientId: string): string | undefined;
}

/** Whether a connection of `tenant` holds a future for `t`. */
export function heldBy(view: TenancyView, tenant: string, t: TaskState): boolean {
  for (const [clientId] of t.wants) if (view.tenantOf(clientId) === tenant) return true;
  return false;
}

/** Whether `tenant` may name `t` without its spec: it holds a future for it, or created it under a private key. */
function ownedBy(view: TenancyView, tenant: string, t: TaskState): boolean {
  return heldBy(view, tenant, t) || (t.creator === tenant && claimedDigest(t.key) === undefined);
}

/** What of a graph a client may have: the specs and wants to go on with, and an error for each refused want. */
export interface Screened {
  tasks: TaskSpec[];
  wants: string[];
  refused: Map<string, WireError>;
}

const unknownTo = (key: string, what: string): WireError => ({
  code: ErrorCode.LOST,
  name: 'LostError',
  message: `${what} is not known to this client (released, or never its own)`,
  key,
});

/** Decides, for each spec and want of an `update-graph` from `clientId`, whether the client may have it. */
export function screenGraph(view: TenancyView, clientId: string, msg: { tasks: readonly TaskSpec[]; wants: readonly string[] }): Screened {
  const tenant = view.tenantOf(clientId) ?? clientId;
  const specs = new Map<string, TaskSpec>();
  for (const spec of msg.tasks) if (!specs.has(spec.key)) specs.set(spec.key, spec);
  const verdicts = new Map<string, WireError | null>();
  const visiting = new Set<string>();
  const judge = (spec: TaskSpec): WireError | null => {
    const known = verdicts.get(spec.key);
    if (known !== undefined) return known;
    if (visiting.has(spec.key)) return null; // a cycle: the graph itself fails it (GraphError)
    visiting.add(spec.key);
    let error = judgeSpec(view, tenant, spec);
    if (error === 'held') error = null;
    else if (error === null) {
      for (const d of spec.deps) {
        const depSpec = specs.get(d);
        if (depSpec) {
          const v = judge(depSpec);
          if (v === null) continue;
          error = { ...v, message: `${spec.key} takes ${d}, which was refused: ${v.message}`, key: spec.key };
          break;
        }
        const t = view.tasks.get(d);
        if (t && ownedBy(view, tenant, t)) continue;
        error = unknownTo(spec.key, `input ${d} of ${spec.key}`);
        break;
      }
    }
    visiting.delete(spec.key);
    verdicts.set(spec.key, error);
    return error;
  };
  const tasks: TaskSpec[] = [];
  for (const spec of specs.values()) if (judge(spec) === null) tasks.push(spec);
  const wants: string[] = [];
  const refused = new Map<string, WireError>();
  for (const key of msg.wants) {
    const verdict = verdicts.get(key);
    if (verdict === null) wants.push(key);
    else if (verdict) refused.set(key, verdict);
    else {
      const t = view.tasks.get(key);
      if (t && ownedBy(view, tenant, t)) wants.push(key);
      else refused.set(key, unknownTo(key, `key ${key}`));
    }
  }
  return { tasks, wants, refused };
}

/**
 * One spec on its own: 'held' when the client's tenant already holds the key (the spec is not
 * used), an error when it may not have it, null when it may (its inputs still to be checked).
 */
function judgeSpec(view: TenancyView, tenant: string, spec: TaskSpec): WireError | null | 'held' {
  const existing = view.tasks.get(spec.key);
  if (existing && heldBy(view, tenant, existing)) return 'held';
  const claimed = claimedDigest(spec.key);
  if (claimed === undefined) {
    if (!existing || existing.creator === tenant) return null;
    return { code: ErrorCode.AUTH, name: 'AuthError', message: `key ${spec.key} belongs to another client: choose another key`, key: spec.key };
  }
  if (claimed !== taskDigest(spec)) {
    return {
      code: ErrorCode.GRAPH,
      name: 'GraphError',
      message: `key ${spec.key} has the form of a pure key (<name>-<digest>) but is not the digest of its function, arguments and options`,
      key: spec.key,
    };
  }
  return null;
}

/** Why a scattered item may not be had, or null: pure-form keys name computations, and another tenant's key is its own. */
export function screenScattered(view: TenancyView, clientId: string, key: string): WireError | null {
  const tenant = view.tenantOf(clientId) ?? clientId;
  if (claimedDigest(key) !== undefined)
    return { code: ErrorCode.GRAPH, name: 'GraphError', message: `key ${key} has the form of a pure key (<name>-<digest>): scatter it under another name`, key };
  const existing = view.tasks.get(key);
  if (!existing || existing.creator === tenant || heldBy(view, tenant, existing)) return null;
  return { code: ErrorCode.AUTH, name: 'AuthError', message: `key ${key} belongs to another client: choose another name`, key };
}
