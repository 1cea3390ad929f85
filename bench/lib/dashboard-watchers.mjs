// Dashboards for bench/dashboard.mjs, in a process of their own (a dashboard runs in some
// browser, not in the scheduler's process): N WebSockets that say hello as role 'dashboard' and
// decode and validate every update, as the page does. Driven over IPC by its parent:
//   {type:'open', url, n} → {type:'ready'} once each socket has had its first update
//   {type:'close'}        → {type:'closed', updates, streamEntries, bytes}
import { WebSocket } from 'ws';
import * as v from 'valibot';
import { DashboardChannel, PROTOCOL_VERSION, decode, encodeFrame } from '@meshwork/protocol';

let sockets = [];
let counts = { updates: 0, streamEntries: 0, bytes: 0 };

function open(url, n) {
  counts = { updates: 0, streamEntries: 0, bytes: 0 };
  let waiting = n;
  sockets = Array.from({ length: n }, () => {
    const ws = new WebSocket(url);
    let ready = false;
    ws.on('open', () =>
      ws.send(encodeFrame([{ type: 'hello', protocolVersion: PROTOCOL_VERSION, role: 'dashboard' }])),
    );
    ws.on('message', (data) => {
      counts.bytes += data.byteLength;
      for (const item of decode(data)) {
        const m = v.parse(DashboardChannel.ServerToDashboard, item);
        if (m.type === 'error') throw new Error(`the scheduler refused a dashboard: ${m.message}`);
        if (m.type !== 'dashboard-update') continue;
        counts.updates++;
        counts.streamEntries += m.stream.length;
        if (!ready) {
          ready = true;
          if (--waiting === 0) process.send({ type: 'ready' });
        }
      }
    });
    ws.on('error', (e) => {
      throw e;
    });
    return ws;
  });
}

async function close() {
  await Promise.all(sockets.map((ws) => new Promise((resolve) => (ws.once('close', resolve), ws.close()))));
  sockets = [];
  process.send({ type: 'closed', ...counts });
}

process.on('message', (m) => {
  if (m.type === 'open') open(m.url, m.n);
  else if (m.type === 'close') void close();
  else if (m.type === 'exit') process.exit(0);
});
