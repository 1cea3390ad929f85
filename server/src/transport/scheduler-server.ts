/**
 * The scheduler process: HTTP (dashboard, /api/state, /metrics) and WebSocket (clients and
 * workers) on one port, wired to the pure state machine. All I/O of the scheduler lives here.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  AuthError,
  ClientChannel,
  DEFAULT_SCHEDULER_PORT,
  HEARTBEAT_TIMEOUT_MS,
  HELLO_TIMEOUT_MS,
  HTTP_HEADERS_TIMEOUT_MS,
  HTTP_REQUEST_TIMEOUT_MS,
  type IceServers,
  MAX_CONNECTIONS,
  MAX_CONTROL_FRAME_BYTES,
  MAX_HELLO_BYTES,
  MAX_PENDING_TASKS_PER_TOKEN,
  MAX_UNAUTHENTICATED_CONNECTIONS,
  PROTOCOL_VERSION,
  ReplyCode,
  WorkerChannel,
  parseFrame,
  parseMessage,
  typesOf,
} from '@meshwork/protocol';
import { SchedulerState } from '../state/scheduler-state.js';
import { addressGroup } from '../state/replicas.js';
import { silentLogger, type Logger } from '../logger.js';
import { PeerLinks } from './peer-links.js';
import { Connection, DEFAULT_RATE_LIMIT, closeSocket, toBytes, type Admission, type RateLimit } from './connection.js';
import { admitGraph, type GraphEdge } from './graph-edge.js';
import { PendingTasks, principalOf } from './pending-tasks.js';
import { frameCost, requestKeys, tooManyKeys } from './key-requests.js';
import { parseHello } from './hello.js';
import { createHttpApp } from './http.js';
import { TrafficBook } from './traffic.js';
import { Access, checkExposure, isLoopbackHost } from './access.js';
import { OriginPolicy, normaliseOrigins, refuseUpgrade } from './origin.js';
import { ModuleStore } from './modules.js';
import { DashboardFeed } from './dashboard.js';
import { startStunServer, type StunServer } from './stun.js';
import { HTTP_TIMEOUT_CHECK_INTERVAL_MS, LIVENESS_CHECK_INTERVAL_MS, type LimitCounts, type SchedulerServerOptions } from './options.js';

export { HTTP_TIMEOUT_CHECK_INTERVAL_MS, LIVENESS_CHECK_INTERVAL_MS, type LimitCounts, type SchedulerServerOptions } from './options.js';

const clientTypes = typesOf(ClientChannel.ClientToServer);
const workerTypes = typesOf(WorkerChannel.WorkerToServer);

type ToClient = ClientChannel.ServerToClient;
type ToWorker = WorkerChannel.ServerToWorker;

export class SchedulerServer {
  readonly state: SchedulerState;
  /** Modules uploaded by clients, served to workers at /modules/<name>.mjs. */
  readonly modules = new ModuleStore();
  private readonly clients = new Map<string, Connection<ToClient>>();
  private readonly workers = new Map<string, { conn: Connection<ToWorker>; lastSeen: number }>();
  private readonly peerLinks = new PeerLinks();
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly logger: Logger;
  private liveness: NodeJS.Timeout | undefined;
  private stun: StunServer | undefined;
  private nextId = 0;
  private readonly idPrefix = randomBytes(3).toString('hex');
  /** Bytes traded between peers, as workers report them, and the bytes relayed here. */
  readonly traffic = new TrafficBook((peer) => peer.startsWith(`worker-${this.idPrefix}-`));
  /** Live updates for dashboard pages (only the task stream is recorded while none is connected). */
  readonly dashboards: DashboardFeed;
  /** Who may do what: tokens per role, the data secret and its tickets. */
  readonly access: Access;
  /** Which web pages may reach us (Origin and Host checks). */
  readonly origins: OriginPolicy;
  /** Clients that came with the admin token. */
  private readonly admins = new Set<string>();
  /** What the limits refused. */
  readonly limits: LimitCounts = {
    framesRateLimited: 0,
    closedForRate: 0,
    refusedUnauthenticated: 0,
    helloTimeouts: 0,
    helloTooLarge: 0,
    graphsRefused: 0,
    originsRefused: 0,
    requestsRefused: 0,
  };
  /** WebSocket connections open that have not said hello. */
  private unauthenticated = 0;
  private readonly pending: PendingTasks;
  /** Unfinished tasks the clients of one token may have (see PendingTasks). */
  /** What the graph edge needs (graph-edge.ts). */
  private readonly graphEdge: GraphEdge;
  private readonly rateLimit: RateLimit;

  private constructor(private readonly options: SchedulerServerOptions) {
    this.logger = options.logger ?? silentLogger;
    this.access = new Access(options, isLoopbackHost(options.host ?? '127.0.0.1'));
    this.state = new SchedulerState(
      {
        worker: (id, m) => this.workers.get(id)?.conn.send(m.type === 'compute-task' ? this.withCapability(m) : m),
        client: (id, m) => this.clients.get(id)?.send(m),
      },
      // Clients reach workers' data links with tickets made with the data secret, never the secret.
      { ...options, tickets: this.access.ticket },
    );
    this.dashboards = new DashboardFeed(this.state, this.traffic);
    this.origins = new OriginPolicy({
      tls: options.tls !== undefined,
      host: options.host ?? '127.0.0.1',
      port: () => this.port,
      allowOrigins: normaliseOrigins(options.allowOrigins),
      secured: this.access.secured,
    });
    this.rateLimit = options.rateLimit ?? DEFAULT_RATE_LIMIT;
    const pendingLimit = options.maxPendingTasksPerToken ?? options.maxPendingTasksPerClient ?? MAX_PENDING_TASKS_PER_TOKEN;
    this.pending = new PendingTasks(pendingLimit, (key) => {
      const status = this.state.tasks.get(key)?.status;
      return status === 'waiting' || status === 'queued' || status === 'processing';
    });
    this.graphEdge = { state: this.state, pending: this.pending, limits: this.limits, pendingLimit, secured: this.access.secured };
    const headersTimeout = options.httpHeadersTimeoutMs ?? HTTP_HEADERS_TIMEOUT_MS;
    const httpOptions = {
      headersTimeout,
      requestTimeout: Math.max(headersTimeout, HTTP_REQUEST_TIMEOUT_MS),
      connectionsCheckingInterval: Math.min(HTTP_TIMEOUT_CHECK_INTERVAL_MS, headersTimeout),
    };
    const app = createHttpApp(this);
    this.http = options.tls
      ? createTlsServer({ ...httpOptions, cert: options.tls.cert, key: options.tls.key }, app)
      : createServer(httpOptions, app);
    this.http.maxConnections = options.maxConnections ?? MAX_CONNECTIONS;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CONTROL_FRAME_BYTES });
    this.http.on('upgrade', (req: IncomingMessage, tcp: Duplex, head: Buffer) => this.upgrade(req, tcp, head));
  }

  static async start(options: SchedulerServerOptions = {}): Promise<SchedulerServer> {
    const refused = checkExposure(options.host ?? '127.0.0.1', options);
    if (refused) throw new AuthError(refused);
    const s = new SchedulerServer(options);
    if (s.origins.allowsAny)
      s.logger.warn('--allow-origin *: every web page a visitor of this machine opens may connect' + (s.access.secured ? ' (and still needs a token)' : ', and with no token run code on every worker'));
    await new Promise<void>((resolve, reject) => {
      s.http.once('error', reject);
      s.http.listen(options.port ?? DEFAULT_SCHEDULER_PORT, options.host ?? '127.0.0.1', () => {
        s.http.off('error', reject);
        resolve();
      });
    });
    s.liveness = setInterval(() => s.checkLiveness(), LIVENESS_CHECK_INTERVAL_MS);
    s.liveness.unref();
    try {
      s.stun = await startStunServer({ host: options.host ?? '127.0.0.1', port: options.stunPort ?? 0 });
    } catch (e) {
      s.logger.warn(`no STUN responder (${(e as Error).message}): browser peers may not find each other`);
    }
    return s;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  get host(): string {
    const h = this.options.host ?? '127.0.0.1';
    return h.includes(':') ? `[${h}]` : h;
  }

  get address(): string {
    return `${this.options.tls ? 'wss' : 'ws'}://${this.host}:${this.port}`;
  }

  get httpUrl(): string {
    return `${this.options.tls ? 'https' : 'http'}://${this.host}:${this.port}`;
  }

  /** ICE servers for a peer that reached us at `localAddress` (our address as it sees it). */
  private iceServers(localAddress: string | undefined): IceServers {
    const extra = this.options.extraIceServers ?? [];
    if (!this.stun) return extra;
    const host = localAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1';
    return [{ urls: `stun:${host.includes(':') ? `[${host}]` : host}:${this.stun.port}` }, ...extra];
  }

  async close(): Promise<void> {
    clearInterval(this.liveness);
    this.dashboards.close();
    await this.stun?.close();
    for (const c of this.clients.values()) c.close(1001, 'scheduler closing');
    for (const w of this.workers.values()) w.conn.close(1001, 'scheduler closing');
    for (const s of this.wss.clients) s.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private newId(kind: string): string {
    return `${kind}-${this.idPrefix}-${(this.nextId++).toString(36)}`;
  }

  /**
   * A WebSocket upgrade: refused with 403 when the Origin/Host policy says so, before any
   * WebSocket exists; a page of a foreign origin let in on a scheduler with tokens is marked
   * `crossOrigin` and must then bring a valid token in its hello.
   */
  private upgrade(req: IncomingMessage, tcp: Duplex, head: Buffer): void {
    const verdict = this.origins.checkUpgrade(req);
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    if (!verdict.ok) {
      this.limits.originsRefused++;
      this.logger.warn(`${remote}: WebSocket refused: ${verdict.reason}`);
      return refuseUpgrade(tcp, verdict.reason);
    }
    this.wss.handleUpgrade(req, tcp, head, (socket) => this.accept(socket, req.socket, remote, req.socket.remoteAddress, req.socket.localAddress, verdict.crossOrigin));
  }

  private accept(socket: WebSocket, tcp: Duplex, remote: string, ip: string | undefined, localAddress: string | undefined, crossOrigin: boolean): void {
    socket.on('error', (e) => this.logger.warn(`${remote}: ${e.message}`));
    const maxUnauthenticated = this.options.maxUnauthenticatedConnections ?? MAX_UNAUTHENTICATED_CONNECTIONS;
    if (this.unauthenticated >= maxUnauthenticated) {
      this.limits.refusedUnauthenticated++;
      this.logger.warn(`${remote}: refused: ${maxUnauthenticated} connections are already waiting to say hello`);
      closeSocket(socket, 1013, 'too many connections awaiting hello');
      return;
    }
    // Until its hello is read, a connection is a stranger: it may hold a slot, for a bounded
    // time, and send a bounded number of bytes.
    this.unauthenticated++;
    let authenticated = false;
    let received = 0;
    const countBytes = (chunk: Buffer): void => {
      if (authenticated) return;
      received += chunk.byteLength;
      if (received <= MAX_HELLO_BYTES) return;
      this.limits.helloTooLarge++;
      this.logger.warn(`${remote}: over ${MAX_HELLO_BYTES} bytes before its hello; cutting it off`);
      stranger(false);
      socket.terminate();
    };
    const stranger = (closeIt: boolean): void => {
      if (authenticated) return;
      authenticated = true;
      this.unauthenticated--;
      clearTimeout(timer);
      tcp.off('data', countBytes);
      if (closeIt) closeSocket(socket, 1008, 'no hello');
    };
    tcp.prependListener('data', countBytes); // before ws reads the bytes
    const helloTimeoutMs = this.options.helloTimeoutMs ?? HELLO_TIMEOUT_MS;
    const timer = setTimeout(() => {
      this.limits.helloTimeouts++;
      this.logger.warn(`${remote}: no hello within ${helloTimeoutMs} ms; closing`);
      stranger(true);
    }, helloTimeoutMs);
    socket.once('close', () => stranger(false));
    socket.once('message', (data: RawData, isBinary: boolean) => {
      if (authenticated) return; // timed out or cut off meanwhile
      stranger(false);
      const bytes = toBytes(data);
      const conn = new Connection<ToClient & ToWorker>(socket, remote, this.rateLimit);
      if (!isBinary || !bytes) {
        conn.reply(ReplyCode.PROTOCOL_ERROR, 'frames are binary');
        conn.close(1003, 'text frame');
        return;
      }
      const result = parseHello(bytes, this.access, crossOrigin);
      if (!result.ok) {
        this.logger.warn(`${remote}: refused: ${result.message}`);
        conn.reply(result.code, result.message);
        conn.close(result.code === ReplyCode.AUTH_FAILED ? 1008 : 1002, result.code);
        return;
      }
      const { hello } = result;
      if (hello.role === 'client') {
        const id = this.newId('client');
        const c = conn as Connection<ToClient>;
        this.clients.set(id, c);
        if (result.admin) this.admins.add(id);
        const parent = result.parentClientId;
        // A task's client counts against the budget of the client its task runs for.
        this.pending.join(id, parent === undefined ? principalOf(this.access.secured, hello.message.token) : (this.pending.principalOfClient(parent) ?? `client:${parent}`));
        this.state.addClient(id, hello.message.name ?? id, parent === undefined ? id : (this.state.tenantOf(parent) ?? parent));
        this.access.capabilities.issue(id);
        c.send({ type: 'welcome', protocolVersion: PROTOCOL_VERSION, id, ...(result.admin ? { admin: true } : {}) });
        this.logger.info(`client ${id} connected from ${remote}${result.parentClientId === undefined ? '' : ` for a task of ${result.parentClientId}`}`);
        socket.on('message', (d: RawData) => this.onClientFrame(id, c, d));
        socket.on('close', () => {
          this.access.capabilities.forget(id);
          this.clients.delete(id);
          this.admins.delete(id);
          this.pending.forget(id);
          this.state.removeClient(id);
          this.logger.info(`client ${id} left`);
        });
        for (const raw of result.rest) this.onClientMessage(id, c, raw);
      } else if (hello.role === 'dashboard') {
        this.dashboards.attach(this.newId('dashboard'), conn, result.rest, (n) => this.admit(conn, n));
      } else {
        const m = hello.message;
        const id = this.newId('worker');
        const c = conn as Connection<ToWorker>;
        this.workers.set(id, { conn: c, lastSeen: Date.now() });
        c.send({ type: 'welcome', protocolVersion: PROTOCOL_VERSION, id, iceServers: this.iceServers(localAddress), dataToken: this.access.dataToken });
        this.state.addWorker({
          id,
          name: m.name ?? id,
          kind: m.kind,
          agent: m.agent,
          threads: m.threads,
          resources: m.resources,
          dataAddress: m.dataAddress,
          memoryLimit: m.memoryLimit,
          address: addressGroup(ip),
        });
        this.logger.info(`worker ${id} (${m.name ?? 'unnamed'}, ${m.threads} threads) joined from ${remote}`);
        socket.on('message', (d: RawData) => this.onWorkerFrame(id, c, d));
        socket.on('close', (code) => this.dropWorker(id, code === 1000 || code === 1001 ? 'left' : `connection lost (${code})`));
      }
    });
  }

  /** A compute-task carries the capability of the client its task runs for (see capabilities.ts). */
  private withCapability(m: WorkerChannel.ComputeTask): WorkerChannel.ComputeTask {
    const clientId = this.state.runsFor(m.key);
    const capability = clientId === undefined ? undefined : this.access.capabilities.of(clientId);
    if (capability !== undefined) m.capability = capability;
    return m;
  }

  private dropWorker(id: string, why: string): void {
    const w = this.workers.get(id);
    if (!w) return;
    this.workers.delete(id);
    w.conn.close(1001, why);
    this.tellPeersGone(id);
    this.state.removeWorker(id);
    this.traffic.forget(id);
    if (why === 'left') this.logger.info(`worker ${id} left`);
    else this.logger.warn(`worker ${id} removed: ${why}`);
  }

  /**
   * Ends the links the peers of a departed worker had with it: a relay link is closed; a WebRTC
   * connection is told `bye` (its own end may notice only when ICE gives up).
   */
  private tellPeersGone(id: string): void {
    const peers = this.peerLinks.leave(id);
    for (const p of peers.relay) this.workers.get(p)?.conn.send({ type: 'relay', from: id, close: true });
    for (const p of peers.signal) this.workers.get(p)?.conn.send({ type: 'signal', from: id, payload: { kind: 'bye' } });
  }

  private checkLiveness(): void {
    const limit = this.options.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
    const now = Date.now();
    for (const [id, w] of this.workers) if (now - w.lastSeen > limit) this.dropWorker(id, `silent for ${now - w.lastSeen} ms`);
    this.state.checkLeases();
  }

  private onClientFrame(id: string, conn: Connection<ToClient>, data: RawData): void {
    const bytes = toBytes(data);
    if (!bytes) return conn.reply(ReplyCode.PROTOCOL_ERROR, 'frames are binary');
    const { messages, errors } = parseFrame(bytes, ClientChannel.ClientToServer, clientTypes);
    if (this.admit(conn, frameCost(messages) + errors.length) !== 'ok') return;
    for (const e of errors) this.refuse(conn, e);
    for (const m of messages) this.handleClient(id, conn, m);
  }

  private onClientMessage(id: string, conn: Connection<ToClient>, raw: unknown): void {
    const r = parseMessage(raw, ClientChannel.ClientToServer, clientTypes);
    if (r.ok) this.handleClient(id, conn, r.message);
    else this.refuse(conn, r.error);
  }

  private handleClient(id: string, conn: Connection<ToClient>, m: ClientChannel.ClientToServer): void {
    switch (m.type) {
      case 'hello':
        return conn.reply(ReplyCode.BAD_REQUEST, 'hello was already received');
      case 'update-graph':
        return admitGraph(this.graphEdge, id, conn, m);
      case 'release-keys':
        return this.state.releaseKeys(id, m.keys);
      case 'gather': {
        const keys = requestKeys(m.keys);
        if (!keys) return conn.reply(ReplyCode.LIMIT_EXCEEDED, tooManyKeys(m.type, m.keys.length), m.id);
        return this.state.gather(id, m.id, keys);
      }
      case 'cancel':
        if (m.force === true && !this.admins.has(id)) return conn.reply(ReplyCode.AUTH_FAILED, 'cancel with force (for every client) needs the admin token');
        return this.state.cancel(id, m.keys, m.force === true);
      case 'scatter-plan':
        return this.state.scatterPlan(id, m);
      case 'scattered':
        return this.state.scattered(id, m);
      case 'missing-data':
        return this.state.missingData(id, m.key, m.holder);
      case 'who-has': {
        const keys = requestKeys(m.keys);
        if (!keys) return conn.reply(ReplyCode.LIMIT_EXCEEDED, tooManyKeys(m.type, m.keys.length), m.id);
        return this.state.whoHas(id, m.id, keys);
      }
      case 'run':
        if (!this.admins.has(id)) return conn.reply(ReplyCode.AUTH_FAILED, 'client.run needs the admin token', m.id);
        return this.state.run(id, m);
      case 'upload': {
        if (!this.admins.has(id)) return conn.reply(ReplyCode.AUTH_FAILED, 'uploading a module needs the admin token', m.id);
        const stored = this.modules.put(m.name, m.source);
        if (!stored.ok) return conn.reply(ReplyCode.LIMIT_EXCEEDED, stored.message, m.id);
        return conn.send({ type: 'upload-reply', id: m.id, name: m.name, hash: stored.hash });
      }
    }
  }

  private onWorkerFrame(id: string, conn: Connection<ToWorker>, data: RawData): void {
    const w = this.workers.get(id);
    if (w) w.lastSeen = Date.now();
    const bytes = toBytes(data);
    if (!bytes) return conn.reply(ReplyCode.PROTOCOL_ERROR, 'frames are binary');
    const { messages, errors } = parseFrame(bytes, WorkerChannel.WorkerToServer, workerTypes);
    if (this.admit(conn, messages.length + errors.length) !== 'ok') return;
    for (const e of errors) this.refuse(conn, e);
    for (const m of messages) {
      if (m.type === 'task-finished' || m.type === 'task-erred') this.dashboards.taskEnded(id, m);
      this.handleWorker(id, conn, m);
    }
  }

  private handleWorker(id: string, conn: Connection<ToWorker>, m: WorkerChannel.WorkerToServer): void {
    switch (m.type) {
      case 'hello':
        return conn.reply(ReplyCode.BAD_REQUEST, 'hello was already received');
      case 'task-finished':
        return this.state.taskFinished(id, m);
      case 'task-erred':
        return this.state.taskErred(id, m);
      case 'heartbeat':
        if (m.traffic) this.traffic.report(id, m.traffic);
        return this.state.heartbeat(id, m.memoryUsed);
      case 'dep-missing':
        return this.state.depMissing(id, m);
      case 'task-seceded':
        return this.state.taskSeceded(id, m.key);
      case 'task-rejoined':
        return this.state.taskRejoined(id, m.key);
      case 'run-result':
        return this.state.runResult(id, m);
      case 'steal-response':
        return this.state.stealResponse(id, m.key, m.ok);
      case 'acquired':
        return this.state.acquired(id, m);
      case 'puts-stored':
        return this.state.putsStored(id, m.keys);
      case 'relay': {
        const target = m.to === id ? undefined : this.workers.get(m.to);
        // No such worker (any more): the relay link ends at once rather than by timeout.
        if (!target) return conn.send({ type: 'relay', from: m.to, close: true });
        if (m.data) this.traffic.relayed(m.data.byteLength);
        if (m.close) this.peerLinks.remove('relay', id, m.to);
        else this.peerLinks.add('relay', id, m.to);
        const out: WorkerChannel.RelayFrom = { type: 'relay', from: id };
        if (m.data) out.data = m.data;
        if (m.ack !== undefined) out.ack = m.ack;
        if (m.close) out.close = true;
        return target.conn.send(out);
      }
      case 'signal': {
        const target = m.to === id ? undefined : this.workers.get(m.to);
        if (!target) return conn.reply(ReplyCode.BAD_REQUEST, `no worker ${m.to.slice(0, 64)} to signal`);
        this.peerLinks.add('signal', id, m.to);
        return target.conn.send({ type: 'signal', from: id, payload: m.payload });
      }
    }
  }

  /** Spends a frame's messages from the connection's budget (see Connection.admit). */
  private admit<T>(conn: Connection<T>, messages: number): Admission {
    if (conn.closed) return 'close'; // closing already: frames still arriving are dropped, not counted again
    const admission = conn.admit(messages);
    if (admission === 'refuse') this.limits.framesRateLimited++;
    else if (admission === 'close') this.limits.closedForRate++;
    if (admission !== 'ok') this.logger.warn(`${conn.remote}: ${admission === 'close' ? 'closed' : 'frame dropped'}: over the message rate`);
    return admission;
  }

  private refuse<T>(conn: Connection<T>, e: { code: ReplyCode; message: string; replyTo?: number }): void {
    this.logger.warn(`${conn.remote}: ${e.code}: ${e.message}`);
    conn.reply(e.code, e.message, e.replyTo);
    if (e.code === ReplyCode.FRAME_TOO_LARGE) conn.close(1009, e.code);
  }
}
