/** The HTTP face of a scheduler: JSON state, Prometheus metrics, and the pages. */
import express, { type Express } from 'express';
import type { SchedulerServer } from './scheduler-server.js';
import { clusterState, prometheusText } from './views.js';

export function createHttpApp(server: SchedulerServer): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/api/state', (_req, res) => {
    res.json(clusterState(server.state));
  });
  app.get('/metrics', (_req, res) => {
    res.type('text/plain; version=0.0.4').send(prometheusText(server.state, server.relayedBytes));
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
