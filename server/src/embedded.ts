/**
 * The body of `npm start` (main.ts), loaded once the process runs with huge pages: a scheduler on
 * 127.0.0.1:8786 with 2 local Node workers; runs the tree reduction once, prints its check, then
 * serves until Ctrl-C.
 */
import { Client } from '@meshwork/client';
import { treeReduction } from '@meshwork/examples';
import { DEFAULT_SCHEDULER_PORT } from '@meshwork/protocol';
import { LocalCluster } from './local-cluster.js';
import { lineLogger } from './logger.js';
import { portInUseMessage } from './port-in-use.js';
import { progressBar } from './progress-bar.js';

const port = Number(process.env['MESHWORK_PORT'] ?? DEFAULT_SCHEDULER_PORT);
const cluster = await LocalCluster.start({
  workers: 2,
  threadsPerWorker: 1,
  port,
  logger: lineLogger((line) => process.stderr.write(line), 'warn'),
}).catch((e: unknown) => {
  const inUse = portInUseMessage(e, 'MESHWORK_PORT=P npm start');
  if (inUse === undefined) throw e;
  console.error(`meshwork: ${inUse}`);
  process.exit(1);
});
console.log(`meshwork scheduler ${cluster.address} with 2 Node workers`);
console.log(`dashboard  ${cluster.httpUrl}/`);
console.log(`join page  ${cluster.httpUrl}/join   (open it in a browser to add this tab as a worker)`);
console.log(`add a worker from another terminal:  npx meshwork worker ${cluster.address}`);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping…');
  await cluster.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

const client = await Client.connect(cluster.address, { name: 'npm-start' });
try {
  const bar = progressBar('tree reduction'); // on stderr, only when it is a terminal
  const r = await treeReduction(client, undefined, undefined, { onProgress: bar.update }).finally(bar.stop);
  const ok = r.length === 1_000_000 && Math.abs(r.sum - r.inputsSum) < 1e-6 * r.inputsSum;
  console.log(
    `tree reduction: 16 × 1,000,000 float64 → length ${r.length}, sum ${r.sum.toFixed(3)} ` +
      `(sum of inputs ${r.inputsSum.toFixed(3)}: ${ok ? 'ok' : 'MISMATCH'}) in ${r.seconds.toFixed(2)} s`,
  );
  if (!ok) process.exitCode = 1;
} finally {
  await client.close();
}
console.log('serving; Ctrl-C to stop');
