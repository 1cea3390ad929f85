/**
 * A tiny scheduler stand-in for tests: speaks the worker-server channel over `ws` on port 0, and
 * serves uploaded modules over HTTP on the same port (`/modules/<name>.mjs`, ETag = hash).
 */
import { createServer, type Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { PROTOCOL_VERSION, decode, encodeFrame, hashString } from '@meshwork/protocol';

export type Msg = Record<string, unknown> & { type: string };

export class FakeWorkerConn {
  readonly inbox: Msg[] = [];
  /** Where `signal {to, payload}` goes instead of the inbox (the scheduler's relay), when set. */
  relay: ((m: Msg) => void) | undefined;
  private waiters: (() => void)[] = [];
  closed = false;
  constructor(
    readonly ws: WebSocket,
    readonly hello: Msg,
    readonly id: string,
  ) {
    ws.on('message', (data: Buffer) => {
      for (const m of decode(data) as Msg[]) {
        if (m.type === 'signal' && this.relay) this.relay(m);
        else this.inbox.push(m);
      }
      this.waiters.splice(0).forEach((w) => w());
    });
    ws.on('close', () => {
      this.closed = true;
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  send(...messages: Msg[]): void {
    this.ws.send(encodeFrame(messages));
  }

  /** The first message (removed from the inbox) that matches, waiting up to `timeoutMs`. */
  async next(match: (m: Msg) => boolean, timeoutMs = 10_000): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex(match);
      if (i >= 0) return this.inbox.splice(i, 1)[0] as Msg;
      if (this.closed) throw new Error('connection closed while waiting');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message within ${timeoutMs} ms; inbox: ${JSON.stringify(this.inbox.map((m) => m.type))}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, left).unref();
      });
    }
  }

  forKey(key: string): Promise<Msg> {
    return this.next((m) => m.key === key && m.type !== 'heartbeat');
  }
}

export class FakeScheduler {
  readonly conns: FakeWorkerConn[] = [];
  private waiters: (() => void)[] = [];
  private n = 0;
  /** WebRTC signals relayed between workers. */
  signalsRelayed = 0;
  /** Replaces the welcome: return an error reply to refuse the hello. */
  refuse: ((hello: Msg) => Msg | null) | null = null;
  /** Modules served at /modules/<name>.mjs, and how often each was fetched. */
  readonly modules = new Map<string, string>();
  readonly moduleHits = new Map<string, number>();

  private constructor(
    readonly wss: WebSocketServer,
    readonly http: Server,
  ) {
    http.on('request', (req, res) => {
      const m = /^\/modules\/([^/?]+)\.mjs(\?.*)?$/.exec(req.url ?? '');
      const source = m ? this.modules.get(decodeURIComponent(m[1] as string)) : undefined;
      if (!m || source === undefined) {
        res.writeHead(404).end('no such module');
        return;
      }
      this.moduleHits.set(m[1] as string, (this.moduleHits.get(m[1] as string) ?? 0) + 1);
      res.writeHead(200, { 'content-type': 'text/javascript', etag: `"${hashString(source)}"` }).end(source);
    });
    wss.on('connection', (ws) => {
      ws.once('message', (data: Buffer) => {
        const [hello] = decode(data) as Msg[];
        const refusal = this.refuse?.(hello as Msg) ?? null;
        if (refusal) {
          ws.send(encodeFrame([refusal]));
          ws.close(1008, 'refused');
          return;
        }
        const id = `w${++this.n}`;
        const conn = new FakeWorkerConn(ws, hello as Msg, id);
        conn.relay = (m) => {
          this.signalsRelayed++;
          this.conns.find((c) => c.id === m.to)?.send({ type: 'signal', from: id, payload: m.payload });
        };
        ws.send(encodeFrame([{ type: 'welcome', protocolVersion: PROTOCOL_VERSION, id }]));
        this.conns.push(conn);
        this.waiters.splice(0).forEach((w) => w());
      });
    });
  }

  /** On `port` (0: any free port). */
  static async start(port = 0): Promise<FakeScheduler> {
    const http = createServer();
    await new Promise<void>((r) => http.listen(port, '127.0.0.1', r));
    return new FakeScheduler(new WebSocketServer({ server: http }), http);
  }

  get address(): string {
    return `ws://127.0.0.1:${(this.http.address() as { port: number }).port}`;
  }

  /** Serves a module; returns its hash (what `upload` would answer). */
  upload(name: string, source: string): string {
    this.modules.set(name, source);
    return hashString(source);
  }

  /** The first connection whose hello matches (e.g. a client made inside a task). */
  async connWhere(match: (hello: Msg) => boolean): Promise<FakeWorkerConn> {
    for (;;) {
      const c = this.conns.find((x) => match(x.hello));
      if (c) return c;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async conn(id: string): Promise<FakeWorkerConn> {
    for (;;) {
      const c = this.conns.find((x) => x.id === id);
      if (c) return c;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
    this.http.closeAllConnections();
    await new Promise<void>((r) => this.http.close(() => r()));
  }
}
