// A swarm of simulated workers in one process, for bench/scale: N WebSocket connections to a
// scheduler, each speaking the real worker protocol (hello as web-worker/src/core/handshake.ts
// sends it, heartbeats every HEARTBEAT_INTERVAL_MS, binary frames of protocol/src/frame.ts) and
// finishing every compute-task at once with the same small result inline. No threads, no data
// link: what is measured is the scheduler, not the work.
//
//   node bench/scale/swarm.mjs <ws-address> <workers>      prints "ready" once all have joined
import WebSocket from 'ws';
import {
  HEARTBEAT_INTERVAL_MS,
  PROTOCOL_VERSION,
  WorkerChannel,
  encodeFrame,
  encodeValue,
  parseFrame,
  typesOf,
} from '@meshwork/protocol';

const [address, count] = process.argv.slice(2);
const workers = Number(count);
const serverTypes = typesOf(WorkerChannel.ServerToWorker);
const result = encodeValue(1, (n) => new Uint8Array(n)).bytes;
let joined = 0;

function startWorker(i) {
  const ws = new WebSocket(address, { perMessageDeflate: false });
  ws.binaryType = 'nodebuffer';
  let outbox = [];
  let flushing = false;
  const send = (msg) => {
    outbox.push(msg);
    if (flushing) return;
    flushing = true;
    setImmediate(() => {
      flushing = false;
      const batch = outbox;
      outbox = [];
      if (ws.readyState === WebSocket.OPEN) ws.send(encodeFrame(batch));
    });
  };
  ws.on('open', () => {
    ws.send(
      encodeFrame([
        {
          type: 'hello',
          protocolVersion: PROTOCOL_VERSION,
          role: 'worker',
          name: `sim-${i}`,
          kind: 'node',
          threads: 1,
          memoryLimit: null,
          resources: {},
          dataAddress: null,
          agent: `swarm ${process.version}`,
        },
      ]),
    );
  });
  let welcomed = false;
  ws.on('message', (data) => {
    const { messages } = parseFrame(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      WorkerChannel.ServerToWorker,
      serverTypes,
    );
    for (const m of messages) {
      switch (m.type) {
        case 'welcome':
          if (!welcomed) {
            welcomed = true;
            if (++joined === workers) console.log('ready');
            setInterval(() => send({ type: 'heartbeat', memoryUsed: 0 }), HEARTBEAT_INTERVAL_MS);
          }
          break;
        case 'compute-task': {
          const t = Date.now();
          send({
            type: 'task-finished',
            key: m.key,
            nbytes: result.byteLength,
            value: result,
            startedAt: t,
            stoppedAt: t,
            thread: 0,
          });
          break;
        }
        case 'steal-request':
          send({ type: 'steal-response', key: m.key, ok: false });
          break;
        default:
          break; // free-keys and the rest: nothing is stored here
      }
    }
  });
  ws.on('error', (e) => {
    console.error(`sim-${i}: ${e.message}`);
    process.exit(1);
  });
}

// Connect in small groups so that the scheduler's accept queue is not flooded.
for (let i = 0; i < workers; i++) {
  startWorker(i);
  if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20));
}
