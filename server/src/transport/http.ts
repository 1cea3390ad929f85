/** The HTTP face of a scheduler: JSON state, Prometheus metrics, and the pages. */
import express, { type Express } from 'express';
import type { SchedulerServer } from './scheduler-server.js';
import { DUMP_DEFAULT_TASK_LIMIT, clusterDump, clusterState, prometheusText } from './views.js';

export function createHttpApp(server: SchedulerServer): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/api/state', (_req, res) => {
    res.json(clusterState(server.state));
  });
  app.get('/metrics', (_req, res) => {
    res.type('text/plain; version=0.0.4').send(prometheusText(server.state, server.relayedBytes));
  });
  app.get('/api/dump', (req, res) => {
    const limit = Number(req.query['limit'] ?? DUMP_DEFAULT_TASK_LIMIT);
    res.json(clusterDump(server.state, Number.isFinite(limit) && limit >= 0 ? limit : DUMP_DEFAULT_TASK_LIMIT));
  });
  app.get('/modules/:file', (req, res) => {
    const name = req.params.file.replace(/\.mjs$/, '');
    const mod = server.modules.get(name);
    if (!mod) {
      res.status(404).type('text/plain').send(`no module ${name}`);
      return;
    }
    res.type('text/javascript').set('cache-control', 'no-cache').set('etag', `"${mod.hash}"`).send(mod.source);
  });
  app.get('/', (_req, res) => {
    res.type('html').send(dashboardPlaceholder());
  });
  return app;
}

function dashboardPlaceholder(): string {
  return `<!doctype html><meta charset="utf-8"><title>meshwork</title>
<h1>meshwork scheduler</h1><pre id="s">loading…</pre>
<script>
async function tick(){const r=await fetch('api/state');document.getElementById('s').textContent=JSON.stringify(await r.json(),null,2)}
tick();setInterval(tick,1000);
</script>`;
}
