// A Node worker process as a volunteer far away would run it: `meshwork worker` joined to the
// scheduler at `scheduler` (a delaying proxy's address, for a slow one), and, when `delay` is
// given, its TCP data link behind a delaying proxy of its own. The worker announces the proxy as
// its data address with `--advertise` (as a worker behind a NAT or a proxy does), so every peer
// and client that fetches from it goes through the delay.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { delayingTcpProxy } from './slow-network.mjs';

const CLI_PATH = fileURLToPath(new URL('../../server/dist/cli.js', import.meta.url));
/** How long a worker process may take to start and join, in milliseconds. */
export const VOLUNTEER_START_TIMEOUT_MS = 20_000;
/** How long a worker process may take to stop after SIGTERM before it is killed, in milliseconds. */
const STOP_GRACE_MS = 3_000;

/**
 * Starts `meshwork worker <scheduler> --threads <threads> --name <name>`; with `delay`
 * (`{ delayMs, lossRate, seed }`), behind a data proxy (`dataProxy`). Resolves once it joined.
 */
export async function startVolunteer({ scheduler, name, threads = 1, delay }) {
  let resolveTarget;
  let rejectTarget;
  const target = new Promise((resolve, reject) => ((resolveTarget = resolve), (rejectTarget = reject)));
  target.catch(() => {});
  const dataProxy = delay === undefined ? undefined : await delayingTcpProxy({ ...delay, target: () => target });
  const args = [CLI_PATH, 'worker', scheduler, '--threads', String(threads), '--name', name, '--rejoin-timeout', '0'];
  if (dataProxy !== undefined) args.push('--advertise', `tcp://127.0.0.1:${dataProxy.port}`);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${name} did not join within ${VOLUNTEER_START_TIMEOUT_MS} ms:\n${output}`)),
        VOLUNTEER_START_TIMEOUT_MS,
      );
      child.stderr.on('data', (d) => {
        output += d.toString();
        // The CLI says where its data link really listens: the data proxy's target.
        const m = /data at tcp:\/\/([\d.]+):(\d+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolveTarget({ host: m[1], port: Number(m[2]) });
          resolve();
        }
      });
      void exited.then((code) => reject(new Error(`${name} exited (${code}) before joining:\n${output}`)));
    });
  } catch (e) {
    rejectTarget(e);
    child.kill('SIGKILL');
    await dataProxy?.close();
    throw e;
  }
  return {
    name,
    dataProxy,
    output: () => output,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        child.kill('SIGTERM');
        await exited;
        clearTimeout(kill);
      }
      await dataProxy?.close();
    },
  };
}
