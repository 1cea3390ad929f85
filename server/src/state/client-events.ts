/**
 * What clients ask of the state machine: joining and leaving, graphs, wants and releases, cancel,
 * gather, who-has, scatter. Each acts only on what the client's tenant may name (tenancy.ts).
 */
import { ErrorCode, MAX_KEY_LENGTH, ReplyCode, ownString, type ClientChannel, type WireError, type WorkerChannel } from '@meshwork/protocol';
import { Leasing } from './leases.js';
import { holderOf } from './holders.js';
import { clear, grow, shrink } from './compact.js';
import { heldBy, screenGraph, screenScattered } from './tenancy.js';
import { PutLedger, type Room } from './put-ledger.js';
import type { ClientState, PendingGather, TaskState, WorkerState } from './types.js';

type ClientMessage<T extends ClientChannel.ClientToServer['type']> = Extract<ClientChannel.ClientToServer, { type: T }>;

export abstract class ClientEvents extends Leasing {
  /** Announced puts not yet made, per worker and client (put-ledger.ts). */
  readonly putLedger = new PutLedger(() => this.now());

  /** A client joined; `tenant` is the client a task client acts for (tasks from tasks), else its own id. */
  addClient(id: string, name: string, tenant: string = id): void {
    this.clients.set(id, { id, name, tenant, wants: new Set() });
  }

  tenantOf(clientId: string): string | undefined {
    return this.clients.get(clientId)?.tenant;
  }

  removeClient(id: string): void {
    const c = this.clients.get(id);
    if (!c) return;
    this.clients.delete(id);
    for (const t of c.wants) {
      t.wants.delete(id);
      for (const g of t.gathers) if (g.clientId === id) shrink(t, 'gathers', g);
      this.maybeRelease(t);
    }
    this.dispatch();
  }

  /**
   * The connected client a task runs for (its code acts for that client: tasks from tasks): the
   * first that wants it, else the one that created it (a task only other tasks need), else none.
   */
  runsFor(key: string): string | undefined {
    const t = this.tasks.get(key);
    if (!t) return undefined;
    for (const [clientId] of t.wants) return clientId;
    return this.clients.has(t.creator) ? t.creator : undefined;
  }

  // ---- client events ---------------------------------------------------------------------

  updateGraph(clientId: string, given: ClientMessage<'update-graph'>): void {
    // Only what this client may have (see tenancy.ts); each want refused is answered at once.
    const screened = screenGraph(this, clientId, given);
    for (const [key, error] of screened.refused) this.emit.client(clientId, { type: 'key-erred', key, error });
    const msg = { ...given, tasks: screened.tasks, wants: screened.wants };
    // A function is kept while tasks use it: of those the graph sends, only the ones its new tasks use.
    const sent = new Map(msg.fns.map((f) => [f.id, f]));
    const fresh: TaskState[] = [];
    const specs = new Map<string, (typeof msg.tasks)[number]>();
    for (const spec of msg.tasks) if (!this.tasks.has(spec.key) && !specs.has(spec.key)) specs.set(spec.key, spec);
    // Create in dependency order so that a task's deps exist before it; unknown deps fail it.
    const visiting = new Set<string>();
    const create = (key: string): TaskState | null => {
      const existing = this.tasks.get(key);
      if (existing) return existing;
      const spec = specs.get(key);
      if (!spec || visiting.has(key)) return null;
      visiting.add(key);
      const deps: TaskState[] = [];
      let missing: string | null = null;
      // A key listed twice is one input (the client lists each once; a hostile one may not).
      for (const d of spec.deps.length > 1 ? new Set(spec.deps) : spec.deps) {
        const dep = create(d);
        if (dep) deps.push(dep);
        else missing ??= d;
      }
      const fn = this.fns.has(spec.fn) ? undefined : sent.get(spec.fn);
      if (fn) {
        // Copies: the message's strings may be slices of its frame's text (see ownString); a name past MAX_KEY_LENGTH is cut.
        const id = ownString(fn.id);
        const name = ownString(fn.name.slice(0, MAX_KEY_LENGTH));
        this.fns.set(id, { id, name, source: ownString(fn.source), module: fn.module, tasks: 0, sentTo: new Set() });
      }
      const t = this.newTask(spec, deps, this.tenantOf(clientId) ?? clientId); // counts its use of the function
      fresh.push(t);
      if (missing !== null) {
        t.error = { code: ErrorCode.LOST, name: 'LostError', message: `dependency ${missing} of ${key} is not known to the scheduler (released?)`, key };
      } else if (!this.fns.has(spec.fn)) {
        t.error = { code: ErrorCode.PROTOCOL, name: 'ProtocolError', message: `function ${spec.fn} of ${key} was never sent`, key };
      }
      return t;
    };
    for (const key of specs.keys()) create(key);
    this.addWants(clientId, msg.wants);
    for (const t of fresh) if (t.error) this.fail(t, t.error);
    this.needWanted(clientId, msg.wants, new Set(fresh));
    for (const t of fresh) if (t.status === 'released' && !this.isNeeded(t)) this.maybeForget(t);
    this.dispatch();
  }

  private addWants(clientId: string, keys: readonly string[]): void {
    const client = this.clients.get(clientId);
    if (!client) return;
    for (const key of keys) {
      const t = this.tasks.get(key);
      if (!t) continue;
      t.wants.set(clientId, (t.wants.get(clientId) ?? 0) + 1);
      client.wants.add(t);
    }
  }

  /** Computes what the client now wants, and tells it at once about keys already settled. */
  private needWanted(clientId: string, keys: readonly string[], notified: ReadonlySet<TaskState>): void {
    for (const key of keys) {
      const t = this.tasks.get(key);
      if (!t) {
        const error = { code: ErrorCode.LOST, name: 'LostError', message: `no task ${key}`, key };
        this.emit.client(clientId, { type: 'key-erred', key, error });
        continue;
      }
      this.need(t);
      if (t.status === 'memory') this.emit.client(clientId, { type: 'key-finished', key });
      else if (t.status === 'erred' && !notified.has(t)) this.emit.client(clientId, { type: 'key-erred', key, error: t.error as WireError });
    }
  }

  releaseKeys(clientId: string, keys: readonly string[]): void {
    const client = this.clients.get(clientId);
    for (const key of keys) {
      const t = this.tasks.get(key);
      if (!t) continue;
      const n = (t.wants.get(clientId) ?? 0) - 1;
      if (n > 0) {
        t.wants.set(clientId, n);
        continue;
      }
      t.wants.delete(clientId);
      client?.wants.delete(t);
      this.maybeRelease(t);
    }
    this.dispatch();
  }

  /**
   * `cancel` from a client, with dask's semantics, for keys it holds futures for (others are
   * ignored). Without `force` the client drops its interest in them and in what it wants
   * downstream of them; a task no other client needs is then released (abandoned if running).
   * With `force` (the admin's, checked at the edge) they and everything downstream are
   * cancelled for every client.
   */
  cancel(clientId: string, keys: readonly string[], force = false): void {
    const client = this.clients.get(clientId);
    if (!client) return;
    const order: TaskState[] = [];
    const seen = new Set<TaskState>();
    const queue = keys.flatMap((k) => {
      const t = this.tasks.get(k);
      return t && client.wants.has(t) ? [t] : [];
    });
    // An index, not shift(): shift is O(n) on a long queue, and a cancel may reach many tasks.
    for (let i = 0; i < queue.length; i++) {
      const t = queue[i] as TaskState;
      if (seen.has(t)) continue;
      seen.add(t);
      order.push(t);
      queue.push(...t.dependents);
    }
    if (!force) return this.dropInterest(client, order);
    for (const t of order) {
      for (const [clientId] of t.wants) {
        this.emit.client(clientId, { type: 'key-cancelled', key: t.key });
        this.clients.get(clientId)?.wants.delete(t);
      }
      t.wants.clear();
      for (const g of t.gathers) {
        (g.cancelled ??= new Set()).add(t.key);
        if (--g.remaining === 0) this.answerGather(g);
      }
      clear(t, 'gathers');
    }
    for (const t of order.reverse()) this.maybeRelease(t);
    this.dispatch();
  }

  /** `client` cancels `order` (tasks and what is downstream, upstream first) for itself alone. */
  private dropInterest(client: ClientState, order: readonly TaskState[]): void {
    for (const t of order) {
      if (!client.wants.has(t)) continue;
      this.emit.client(client.id, { type: 'key-cancelled', key: t.key });
      t.wants.delete(client.id);
      client.wants.delete(t);
      for (const g of t.gathers) {
        if (g.clientId !== client.id) continue;
        (g.cancelled ??= new Set()).add(t.key);
        shrink(t, 'gathers', g);
        if (--g.remaining === 0) this.answerGather(g);
      }
    }
    for (const t of [...order].reverse()) this.maybeRelease(t);
    this.dispatch();
  }

  /** Keys of `keys` that the client's tenant holds no future for (see tenancy.ts): a request naming one is refused whole. */
  private notHeld(clientId: string, keys: readonly string[]): string[] {
    const tenant = this.tenantOf(clientId);
    return keys.filter((key) => {
      const t = this.tasks.get(key);
      return tenant === undefined || !t || !heldBy(this, tenant, t);
    });
  }

  private refuseKeys(clientId: string, id: number, what: string, keys: readonly string[]): void {
    const message = `${what} of ${keys.length} key(s) this client holds no future for (${keys.slice(0, 3).join(', ')}${keys.length > 3 ? ', …' : ''}): nothing done`;
    this.emit.client(clientId, { type: 'error', code: ReplyCode.NOT_YOURS, message, replyTo: id });
  }

  gather(clientId: string, id: number, keys: readonly string[]): void {
    const foreign = this.notHeld(clientId, keys);
    if (foreign.length > 0) return this.refuseKeys(clientId, id, 'gather', foreign);
    // The tasks' own keys, not the message's (slices of its text: see ownString).
    const g: PendingGather = { clientId, id, keys: [], remaining: 0 };
    for (const key of keys) {
      const t = this.tasks.get(key);
      g.keys.push(t ? t.key : key);
      // A key listed twice counts once: the gather is settled once per task.
      if (t && !t.gathers.has(g) && this.isPending(t)) {
        g.remaining++;
        grow(t, 'gathers').add(g);
      }
    }
    if (g.remaining === 0) this.answerGather(g);
  }

  whoHas(clientId: string, id: number, keys: readonly string[]): void {
    const foreign = this.notHeld(clientId, keys);
    if (foreign.length > 0) return this.refuseKeys(clientId, id, 'who-has', foreign);
    const holders: Record<string, string[]> = {};
    for (const key of keys) holders[key] = [...(this.tasks.get(key)?.whoHas ?? [])].map((w) => w.id);
    this.emit.client(clientId, { type: 'who-has-reply', id, holders });
  }

  /**
   * Picks workers for values a client is about to put on them: the least loaded, in turn. Each
   * chosen worker is told first what will come (`expect-put`: key, size, value hash): a worker
   * stores no other put, so a worker of the cluster cannot plant values on another. A worker whose
   * announcements would pass a limit (put-ledger.ts: the client's share, or the worker's table) is
   * not chosen; a plan that cannot avoid it is refused whole with LIMIT_EXCEEDED, nothing announced.
   */
  scatterPlan(clientId: string, msg: ClientMessage<'scatter-plan'>): void {
    const named = msg.workers;
    const candidates = [...this.workers.values()].filter(
      (w) => w.dataAddress !== null && (!named || named.some((n) => n === w.id || n === w.name)),
    );
    // A put ticket only for a key the client may scatter under (the same screen `scattered` applies).
    const allowed = msg.items.map((item) => screenScattered(this, clientId, item.key) === null);
    const tenant = this.tenantOf(clientId) ?? clientId;
    const room = new Map(candidates.map((w) => [w, this.putLedger.room(w, tenant)]));
    let full: WorkerState | undefined;
    // Only workers with a direct link take scattered data (a tab takes none: it has no data server).
    const load = new Map(candidates.map((w) => [w, w.bytesStored]));
    const chosen = msg.items.map((item, i): WorkerState[] => {
      const announced = allowed[i] === true;
      if (msg.broadcast) {
        if (announced) for (const w of candidates) if (--(room.get(w) as Room).left < 0) full ??= w;
        return candidates;
      }
      let best: WorkerState | undefined;
      for (const w of candidates) {
        if (announced && (room.get(w) as Room).left <= 0) continue;
        if (!best || (load.get(w) as number) < (load.get(best) as number)) best = w;
      }
      if (!best) {
        full ??= candidates[0];
        return [];
      }
      load.set(best, (load.get(best) as number) + item.nbytes);
      if (announced) (room.get(best) as Room).left--;
      return [best];
    });
    if (full) return this.refusePlan(clientId, msg, full, room.get(full) as Room);
    const reply: Extract<ClientChannel.ServerToClient, { type: 'scatter-plan-reply' }> = {
      type: 'scatter-plan-reply',
      id: msg.id,
      targets: chosen.map((ws) => ws.map(holderOf)),
    };
    const tickets = this.tickets;
    if (tickets) reply.tickets = msg.items.map((item, i) => (allowed[i] ? tickets('put', item.key) : null));
    const announce = new Map<WorkerState, Extract<WorkerChannel.ServerToWorker, { type: 'expect-put' }>['items']>();
    msg.items.forEach((item, i) => {
      if (!allowed[i]) return;
      for (const w of chosen[i] ?? []) {
        const items = announce.get(w) ?? [];
        items.push({ key: item.key, nbytes: item.nbytes, hash: item.hash });
        announce.set(w, items);
      }
    });
    for (const [w, items] of announce) {
      this.putLedger.announce(w, tenant, items.map((i) => i.key));
      this.emit.worker(w.id, { type: 'expect-put', items });
    }
    this.emit.client(clientId, reply);
  }

  private refusePlan(clientId: string, msg: ClientMessage<'scatter-plan'>, w: WorkerState, room: Room): void {
    const { perClient, perWorker } = this.putLedger.limits;
    const why =
      room.bound === 'client'
        ? `this client has ${room.client} announced puts not yet made on worker ${w.id} and may have at most ${perClient} (MAX_ANNOUNCED_PUTS_PER_CLIENT)`
        : `worker ${w.id} has ${room.worker} announced puts not yet made, of all clients, and takes at most ${perWorker} (MAX_ANNOUNCED_PUTS)`;
    const message = `scatter plan of ${msg.items.length} values refused, nothing announced: ${why}; put what was planned, plan fewer values at a time, or wait for unused announcements to expire`;
    this.emit.client(clientId, { type: 'error', code: ReplyCode.LIMIT_EXCEEDED, message, replyTo: msg.id });
  }

  /** A worker took these announced puts: they no longer count against its table (put-ledger.ts). */
  putsStored(workerId: string, keys: readonly string[]): void {
    const w = this.workers.get(workerId);
    if (w) this.putLedger.used(w, keys);
  }

  /** Values a client put on workers: keys in memory there, with no lineage. */
  scattered(clientId: string, msg: ClientMessage<'scattered'>): void {
    // Pure-form keys and other clients' keys are refused, their wants answered at once (tenancy.ts).
    const refused = new Map<string, WireError>();
    for (const item of msg.items) {
      const error = screenScattered(this, clientId, item.key);
      if (error) refused.set(item.key, error);
    }
    for (const [key, error] of refused) this.emit.client(clientId, { type: 'key-erred', key, error });
    if (refused.size > 0) msg = { ...msg, items: msg.items.filter((i) => !refused.has(i.key)), wants: msg.wants.filter((k) => !refused.has(k)) };
    const items = new Set(msg.items.map((i) => i.key));
    const wants = msg.wants.filter((key) => items.has(key));
    const tenant = this.tenantOf(clientId) ?? clientId;
    for (const item of msg.items) if (!this.tasks.has(item.key)) this.newTask({ key: item.key, scattered: true }, [], tenant);
    this.addWants(clientId, wants);
    for (const item of msg.items) {
      // Gone already when an earlier item of the same key was wanted by no one and freed.
      const t = this.tasks.get(item.key);
      if (!t) continue;
      const holders = item.workers.flatMap((id) => this.workers.get(id) ?? []);
      const [first, ...rest] = holders;
      if (!first) {
        if (t.status !== 'memory') this.fail(t, { code: ErrorCode.LOST, name: 'LostError', message: `the workers ${item.key} was put on left`, key: item.key });
      } else if (t.status === 'memory') {
        for (const w of holders) this.addHolder(t, w);
      } else if (t.status !== 'processing' && t.status !== 'erred') {
        if (t.status !== 'released') this.releaseInputs(t);
        t.nbytes = item.nbytes;
        // Every holder before `store`: a value no one wants is freed there, from all of them.
        for (const w of rest) this.addHolder(t, w);
        this.store(t, first, item.nbytes, undefined, item.hash);
      }
    }
    this.needWanted(clientId, wants, new Set());
    this.dispatch();
  }
}
