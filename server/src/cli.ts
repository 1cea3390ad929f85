#!/usr/bin/env node
/**
 * `meshwork scheduler …` and `meshwork worker …`. The worker command is the Node host of
 * @meshwork/web-worker; this file only routes to it.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_SCHEDULER_PORT, MAX_CONNECTIONS } from '@meshwork/protocol';
import { relaunchWithHugePages } from '@meshwork/web-worker/huge-pages';
import { lineLogger } from './logger.js';
import { normaliseOrigins } from './transport/origin.js';
import { portInUseMessage } from './port-in-use.js';

const usage = `Usage: meshwork <command> [options]

Commands:
  scheduler    start a scheduler (HTTP and WebSocket on one port)
  worker       start a headless Node worker that joins a scheduler

Run 'meshwork <command> --help' for the options of a command; 'meshwork --version' for the version.`;

const schedulerUsage = `Usage: meshwork scheduler [--host H] [--port P] [--token T] [--client-token T] [--worker-token T] [--allow-origin ORIGIN]… [--tls-cert F --tls-key F]

Starts a scheduler. Clients and workers connect to ws://H:P; the dashboard is http://H:P/,
the worker page http://H:P/join, the state as JSON http://H:P/api/state, metrics http://H:P/metrics.

Options:
  --host H     address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --port P     port to listen on (default ${DEFAULT_SCHEDULER_PORT}; 0 picks a free port)
  --token T    the admin token (also MESHWORK_TOKEN): admits clients, workers and dashboards,
               and alone may run functions on workers (client.run), upload modules and read
               /api/dump; on a scheduler not bound to loopback also /api/state, /metrics, the
               dashboard. Alone, it is the one secret of the whole cluster.
  --client-token T   admits clients: submit, gather, cancel (also MESHWORK_CLIENT_TOKEN)
  --worker-token T   admits workers: join and compute (also MESHWORK_WORKER_TOKEN)
  --allow-origin ORIGIN   let web pages of ORIGIN (scheme://host[:port], e.g. https://app.example.org)
               connect without a token; repeatable. Without it, browsers may connect only from
               the scheduler's own pages (and, when it has tokens, from any page that presents
               one). '*' allows every origin: any page a visitor of this machine opens could
               then drive a scheduler that has no token.
  --insecure   listen beyond loopback with no token at all (refused otherwise: anyone who
               reaches the port could run code on every worker)
  --tls-cert F, --tls-key F   serve https:// and wss:// with this PEM certificate and key
  --turn URL   a TURN server handed to WebRTC peers (browser tabs) for networks where direct
               paths fail, e.g. turn:turn.example.org:3478 (see the README: Debian's coturn)
  --turn-username U, --turn-credential C   the TURN server's long-term credentials
  --max-connections N   open TCP connections on the port, HTTP and WebSocket together (default
               ${MAX_CONNECTIONS}; past it new ones are dropped): room for N − 1 workers and a client
  --log-level  debug, info, warn or error (default info)
  -h, --help   show this help`;

async function scheduler(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: String(DEFAULT_SCHEDULER_PORT) },
      token: { type: 'string' },
      'client-token': { type: 'string' },
      'worker-token': { type: 'string' },
      insecure: { type: 'boolean' },
      'allow-origin': { type: 'string', multiple: true },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      'max-connections': { type: 'string', default: String(MAX_CONNECTIONS) },
      turn: { type: 'string' },
      'turn-username': { type: 'string' },
      'turn-credential': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(schedulerUsage);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0..65535, not ${values.port}`);
  const maxConnections = Number(values['max-connections']);
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new UsageError(`--max-connections must be a positive integer, not ${values['max-connections']}`);
  const level = values['log-level'];
  if (level !== 'debug' && level !== 'info' && level !== 'warn' && level !== 'error') throw new UsageError(`--log-level must be debug, info, warn or error`);
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const tls =
    values['tls-cert'] !== undefined && values['tls-key'] !== undefined
      ? { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']) }
      : undefined;
  let allowOrigins: string[];
  try {
    allowOrigins = normaliseOrigins(values['allow-origin']);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  // Loaded here, not at the top, as the worker runtime is below: each command loads only its own
  // code (the scheduler's HTTP stack is ~0.2 s of module loading), and only once the process runs
  // with huge pages (a process that starts itself again loads neither).
  const { SchedulerServer } = await import('./transport/scheduler-server.js');
  const server = await SchedulerServer.start({
    allowOrigins,
    host: values.host,
    port,
    maxConnections,
    token: values.token ?? process.env['MESHWORK_TOKEN'],
    clientToken: values['client-token'] ?? process.env['MESHWORK_CLIENT_TOKEN'],
    workerToken: values['worker-token'] ?? process.env['MESHWORK_WORKER_TOKEN'],
    insecure: values.insecure === true,
    tls,
    extraIceServers: values.turn
      ? [{ urls: values.turn, username: values['turn-username'], credential: values['turn-credential'] }]
      : [],
    logger: lineLogger((line) => process.stderr.write(line), level),
  }).catch((e: unknown) => {
    const inUse = portInUseMessage(e, '--port P');
    throw inUse === undefined ? e : new Error(inUse);
  });
  console.log(`scheduler at ${server.address}`);
  console.log(`dashboard   ${server.httpUrl}/`);
  console.log(`join page   ${server.httpUrl}/join`);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
}

class UsageError extends Error {}

/** This package's version (dist/cli.js is one folder below package.json). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return String(pkg.version);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  // The long-lived commands run with huge pages (huge-pages.ts in @meshwork/web-worker): started
  // again with them when missing, this process then only waits for that one.
  const longLived = (command === 'scheduler' || command === 'worker') && !rest.some((a) => a === '-h' || a === '--help');
  if (longLived && (await relaunchWithHugePages())) return;
  switch (command) {
    case 'scheduler':
      return scheduler(rest);
    case 'worker':
      return (await import('@meshwork/web-worker/node')).runWorkerCli(rest);
    case '-h':
    case '--help':
    case 'help':
      console.log(usage);
      return;
    case '-v':
    case '--version':
      console.log(version());
      return;
    default:
      console.error(command === undefined ? usage : `unknown command '${command}'\n\n${usage}`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  const usageProblem = e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  console.error(`meshwork: ${(e as Error).message}`);
  process.exitCode = usageProblem ? 2 : 1;
});
