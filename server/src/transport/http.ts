/** The HTTP face of a scheduler: JSON state, Prometheus metrics, and the pages. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import { ReplyCode } from '@meshwork/protocol';
import type { SchedulerServer } from './scheduler-server.js';
import { DUMP_DEFAULT_TASK_LIMIT, clusterDump, clusterState, prometheusText } from './views.js';

/**
 * What the pages may do: scripts, styles and connections to this origin only (the scheduler's
 * WebSocket included), images from here or inline data. No `eval` on a page: task code runs only
 * inside the task Web Workers, whose scripts are served without this header (a worker takes the
 * policy of its own script; it rebuilds task functions from source). WebAssembly may be compiled
 * (`'wasm-unsafe-eval'`, which allows nothing else): the page hashes fetched values with it.
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "connect-src 'self' ws: wss:",
  "img-src 'self' data:",
  "style-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The token a request presents: `Authorization: Bearer <token>`, or `?token=` (for what a browser imports). */
function bearer(req: Request): string | undefined {
  const header = req.get('authorization');
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length);
  const q = req.query['token'];
  return typeof q === 'string' ? q : undefined;
}

function refuse(res: Response, what: string): void {
  res.status(401).set('www-authenticate', 'Bearer').json({ code: 'AUTH_FAILED', message: `${what} needs the admin token (Authorization: Bearer <token>)` });
}

export function createHttpApp(server: SchedulerServer): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use((req, res, next) => {
    // No other site may embed what we answer (state, metrics, modules) as a resource of its own.
    res.set('cross-origin-resource-policy', 'same-origin');
    const verdict = server.origins.checkRequest(req);
    if (verdict.ok) return next();
    server.limits.requestsRefused++;
    res.status(403).json({ code: ReplyCode.ORIGIN_REFUSED, message: verdict.reason });
  });
  app.get('/api/state', (req, res) => {
    if (!server.access.mayReadState(bearer(req))) return refuse(res, '/api/state on a scheduler reachable beyond loopback');
    res.json(clusterState(server.state, server.traffic));
  });
  app.get('/metrics', (req, res) => {
    if (!server.access.mayReadState(bearer(req))) return refuse(res, '/metrics on a scheduler reachable beyond loopback');
    res.type('text/plain; version=0.0.4').send(prometheusText(server.state, server.traffic));
  });
  app.get('/api/dump', (req, res) => {
    if (!server.access.mayAdmin(bearer(req))) return refuse(res, '/api/dump');
    const limit = Number(req.query['limit'] ?? DUMP_DEFAULT_TASK_LIMIT);
    res.json(clusterDump(server.state, Number.isFinite(limit) && limit >= 0 ? limit : DUMP_DEFAULT_TASK_LIMIT));
  });
  app.get('/modules/:file', (req, res) => {
    const given = bearer(req);
    if (!server.access.admit('worker', given).ok && !server.access.admit('client', given).ok) {
      res.status(401).set('www-authenticate', 'Bearer').json({ code: 'AUTH_FAILED', message: 'uploaded modules need a worker, client or admin token' });
      return;
    }
    const name = req.params.file.replace(/\.mjs$/, '');
    const mod = server.modules.get(name);
    if (!mod) {
      res.status(404).type('text/plain').send(`no module ${name}`);
      return;
    }
    res.type('text/javascript').set('cache-control', 'no-cache').set('etag', `"${mod.hash}"`).send(mod.source);
  });
  servePages(app);
  return app;
}

/** How long browsers may cache the site's hashed assets, in milliseconds (their names change with their content). */
export const SITE_ASSET_MAX_AGE_MS = 365 * 24 * 3600 * 1000;

/**
 * The built pages (server/site, made by the root `npm run build` and shipped in this package's
 * tarball), beside dist/ and src/. Looked up on each request, so pages built after the scheduler
 * started are served.
 */
const SITE_DIR = fileURLToPath(new URL('../../site', import.meta.url));
function siteDir(): string | undefined {
  return existsSync(join(SITE_DIR, 'join.html')) ? SITE_DIR : undefined;
}

/** A page's path: `/`, or `/<name>` with an optional `.html` or `/`, the name made of lower-case letters, digits and dashes. */
const PAGE_PATH = /^\/(?:([a-z][a-z0-9-]*)(\.html|\/)?)?$/;

/**
 * The site's pages and assets: `/` is the dashboard (index.html), `/<name>` any other built
 * `<name>.html` (`/join` is the worker page); 503 with a clear message while the site is not built.
 */
function servePages(app: Express): void {
  let assets: { dir: string; handler: RequestHandler } | undefined;
  app.get(PAGE_PATH, (req, res, next) => {
    const [, name, suffix] = PAGE_PATH.exec(req.path) ?? [];
    const page = name ?? 'index';
    if (suffix === '/') {
      // The page's URLs are relative to `<base>/<page>`: `<base>/<page>/` would break them.
      const q = req.originalUrl.indexOf('?');
      res.redirect(301, `../${page}${q >= 0 ? req.originalUrl.slice(q) : ''}`);
      return;
    }
    const dir = siteDir();
    if (!dir) {
      res
        .status(503)
        .type('text/plain')
        .send(
          'The pages are not built: run `npm run build` at the repository root (Vite builds them into server/site), then reload.\n',
        );
      return;
    }
    if (!existsSync(join(dir, `${page}.html`))) return next();
    res.sendFile(`${page}.html`, { root: dir, headers: { 'cache-control': 'no-cache', 'content-security-policy': PAGE_CSP } });
  });
  app.use('/assets', (req, res, next) => {
    const dir = siteDir();
    if (!dir) return next();
    if (assets?.dir !== dir)
      assets = {
        dir,
        handler: express.static(join(dir, 'assets'), { index: false, immutable: true, maxAge: SITE_ASSET_MAX_AGE_MS }),
      };
    return assets.handler(req, res, next);
  });
}
