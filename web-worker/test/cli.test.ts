import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseWorkerArgs } from '../src/node/cli.js';
import { FakeScheduler } from './fake-scheduler.js';

const entry = fileURLToPath(new URL('./cli-entry.ts', import.meta.url));

function cli(args: string[], onStderr?: (text: string, kill: (s: NodeJS.Signals) => void) => void) {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    onStderr?.(stderr, (s) => child.kill(s));
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('parseWorkerArgs reads every option', () => {
  assert.deepEqual(
    parseWorkerArgs(['worker', '127.0.0.1:9000', '--threads', '3', '--name', 'n1', '--memory-limit', '2GiB', '--resources', 'gpu=1,tpu=2', '--token', 't', '--host', '0.0.0.0']),
    { scheduler: 'ws://127.0.0.1:9000', threads: 3, name: 'n1', memoryLimit: 2 * 2 ** 30, resources: { gpu: 1, tpu: 2 }, token: 't', host: '0.0.0.0' },
  );
  assert.equal(parseWorkerArgs(['--help']), null);
  for (const bad of [[], ['a', 'b'], ['ws://x', '--threads', 'many'], ['ws://x', '--resources', 'gpu'], ['ws://x', '--memory-limit', 'lots'], ['ws://x', '--bogus'], ['ftp://x']]) {
    assert.throws(() => parseWorkerArgs(bad), Error, bad.join(' '));
  }
});

test('--memory-limit accepts plain bytes, exponents and unit suffixes', () => {
  const limit = (text: string) => parseWorkerArgs(['ws://x', '--memory-limit', text])?.memoryLimit;
  const cases: [string, number][] = [
    ['4000000000', 4e9],
    ['1e9', 1e9],
    ['1.5E9', 1.5e9],
    ['512MB', 512e6],
    ['512 mb', 512e6],
    ['2GiB', 2 * 2 ** 30],
    ['100KiB', 102_400],
    ['4g', 4e9],
    ['1TB', 1e12],
    ['10b', 10],
  ];
  for (const [text, bytes] of cases) assert.equal(limit(text), bytes, text);
  for (const bad of ['', 'lots', '5-', '1e', '5 parsecs', '1e400']) assert.throws(() => limit(bad), /--memory-limit: .* is not a number of bytes/, bad);
});

test('--help explains every option; a bad option exits 2 with a clear message', async () => {
  const help = await cli(['worker', '--help']);
  assert.equal(help.code, 0);
  for (const opt of ['--threads', '--name', '--memory-limit', '--resources', '--token', '--host', '--rejoin-timeout']) assert.ok(help.stdout.includes(opt), opt);
  const bad = await cli(['worker', 'ws://127.0.0.1:1', '--thread', '2']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /meshwork worker: Unknown option '--thread'/);
});

test('cannot connect: exit code 1; connected: one line, then SIGTERM exits 0', async () => {
  const scheduler = await FakeScheduler.start();
  const address = scheduler.address;
  try {
    let killed = false;
    const run = await cli(['worker', address, '--threads', '1', '--name', 'cli'], (text, kill) => {
      if (!killed && /connected to/.test(text)) {
        killed = true;
        kill('SIGTERM');
      }
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /meshwork worker w1 connected to ws:\/\/127\.0\.0\.1:\d+: 1 thread, data at tcp:\/\/127\.0\.0\.1:\d+/);
    // The scheduler going away ends the process cleanly too, when told not to rejoin.
    let closing = false;
    const gone = cli(['worker', address, '--threads', '1', '--rejoin-timeout', '0'], (text) => {
      if (!closing && /connected to/.test(text)) {
        closing = true;
        void scheduler.close();
      }
    });
    assert.equal((await gone).code, 0);
  } finally {
    await scheduler.close().catch(() => {});
  }
  // Nothing listens now: it tries for --rejoin-timeout (a scheduler may be starting), then exits 1.
  const refused = await cli(['worker', address, '--threads', '1', '--rejoin-timeout', '1']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /could not join ws:\/\/127\.0\.0\.1:\d+: could not connect/);
});

test('a worker that loses its scheduler tries to rejoin, logging it, and exits 1 once --rejoin-timeout has passed', async () => {
  const scheduler = await FakeScheduler.start();
  let closing = false;
  const run = await cli(['worker', scheduler.address, '--threads', '1', '--rejoin-timeout', '0.5'], (text) => {
    if (!closing && /connected to/.test(text)) {
      closing = true;
      void scheduler.close();
    }
  });
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /lost the scheduler connection/);
  assert.match(run.stderr, /could not rejoin the scheduler yet/);
  assert.match(run.stderr, /meshwork worker: could not rejoin the scheduler at ws:\/\/127\.0\.0\.1:\d+ within 500 ms/);
  assert.throws(() => parseWorkerArgs(['ws://x', '--rejoin-timeout', 'soon']), /--rejoin-timeout: 'soon'/);
  assert.equal(parseWorkerArgs(['ws://x', '--rejoin-timeout', '2.5'])?.rejoinTimeoutMs, 2_500);
});
