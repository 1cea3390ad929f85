// `npm run bench:scale [-- map graph workers]`: the scheduler at scale, one JSON line per figure.
//
// - map: one `client.map` of 10k, 100k and 1M tasks (SCALE_MAP_SIZES) on 2 real worker processes;
//   time to the last result gathered, and the scheduler's peak RSS (VmHWM of its own process).
// - graph: 100,000 tasks with dependencies (50,000 `inc`, then 50,000 `add` of neighbours).
// - workers: 10, 100, 1,000 and 10,000 simulated workers (SCALE_SWARM_SIZES) (bench/scale/swarm.mjs: real WebSockets, the real
//   protocol, tasks finished at once) in one other process; tasks/s of a map of 20,000 (median of
//   3), the scheduler's CPU per task, and its CPU per heartbeat while idle.
// Every part starts a fresh scheduler process (`meshwork scheduler`), so that each peak RSS and
// CPU figure is the scheduler's alone. Linux only (reads /proc). Needs `npm run build` first.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client } from '@meshwork/client';

const cli = fileURLToPath(new URL('../../server/dist/cli.js', import.meta.url));
const swarmScript = fileURLToPath(new URL('./swarm.mjs', import.meta.url));
const MAP_SIZES = (process.env.SCALE_MAP_SIZES ?? '10000,100000,1000000').split(',').map(Number);
const GRAPH_HALF = 50_000;
const SWARM_SIZES = (process.env.SCALE_SWARM_SIZES ?? '10,100,1000,10000').split(',').map(Number);
const SWARM_TASKS = 20_000;
const SWARM_RUNS = 3;
const HEARTBEAT_WINDOW_MS = 5_000;

const only = process.argv.slice(2);
const wanted = (n) => only.length === 0 || only.includes(n);
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Peak and current resident set of a process, in bytes. */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { peak: kb('VmHWM'), now: kb('VmRSS') };
}

/**
 * The process that does the work of `pid`: `meshwork scheduler` starts itself again with glibc's
 * tunables (huge-pages.ts), and the first process only waits for that child.
 */
function working(pid) {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return children.length === 1 ? Number(children[0]) : pid;
  } catch {
    return pid;
  }
}

/** CPU time (user + system) a process has used, in milliseconds. */
function cpuMsOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in ticks of 1/100 s
}

function start(args, ready) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const found = new Promise((resolve, reject) => {
    let out = '';
    const onData = (d) => {
      if (out === null) return;
      out += d;
      const m = ready(out);
      if (m) {
        out = null; // stop looking; keep draining the pipes
        resolve(m);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}) before it was ready`)));
  });
  return { child, found };
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** A scheduler process and `workers` real worker processes (1 thread each). */
async function cluster(workers) {
  const s = start(
    [cli, 'scheduler', '--port', '0', '--log-level', 'warn', '--max-connections', String(2 * Math.max(...SWARM_SIZES, 1000))],
    (out) => /ws:\/\/[\d.]+:\d+/.exec(out)?.[0],
  );
  const address = await s.found;
  const ws = [];
  for (let i = 0; i < workers; i++) {
    const w = start([cli, 'worker', address, '--threads', '1', '--name', `local-${i}`], (out) =>
      out.includes('connected to'),
    );
    ws.push(w);
  }
  await Promise.all(ws.map((w) => w.found));
  return {
    address,
    pid: working(s.child.pid),
    close: async () => Promise.all([...ws.map((w) => stop(w.child)), stop(s.child)]),
  };
}

async function mapAt(n) {
  const c = await cluster(2);
  const client = await Client.connect(c.address, { name: 'bench-scale' });
  try {
    const before = memoryOf(c.pid);
    const inc = (x) => x + 1;
    const t = performance.now();
    // One call, as a user would make it: the client splits it into bounded messages and frames.
    const futures = client.map(
      inc,
      Array.from({ length: n }, (_, i) => i),
    );
    const values = await client.gather(futures);
    const seconds = (performance.now() - t) / 1000;
    if (values[n - 1] !== n) throw new Error(`map gave ${values[n - 1]}`);
    const mem = memoryOf(c.pid);
    console.log(
      JSON.stringify({
        bench: 'scale-map',
        tasks: n,
        seconds: round(seconds, 2),
        tasksPerSecond: Math.round(n / seconds),
        schedulerPeakRssMB: round(mem.peak / 1e6),
        schedulerRssBeforeMB: round(before.now / 1e6),
        bytesPerTask: Math.round((mem.peak - before.now) / n),
      }),
    );
    futures.forEach((f) => f.release());
  } finally {
    await client.close();
    await c.close();
  }
}

async function graph() {
  const c = await cluster(2);
  const client = await Client.connect(c.address, { name: 'bench-scale' });
  try {
    const before = memoryOf(c.pid);
    const inc = (x) => x + 1;
    const add = (a, b) => a + b;
    const t = performance.now();
    const xs = client.map(
      inc,
      Array.from({ length: GRAPH_HALF }, (_, i) => i),
    );
    const ys = xs.map((x, i) => client.submit(add, x, xs[(i + 1) % GRAPH_HALF]));
    const values = await client.gather(ys);
    const seconds = (performance.now() - t) / 1000;
    if (values[0] !== 3) throw new Error(`graph gave ${values[0]}`);
    const mem = memoryOf(c.pid);
    console.log(
      JSON.stringify({
        bench: 'scale-graph',
        tasks: 2 * GRAPH_HALF,
        edges: 2 * GRAPH_HALF,
        seconds: round(seconds, 2),
        tasksPerSecond: Math.round((2 * GRAPH_HALF) / seconds),
        schedulerPeakRssMB: round(mem.peak / 1e6),
        bytesPerTask: Math.round((mem.peak - before.now) / (2 * GRAPH_HALF)),
      }),
    );
    [...xs, ...ys].forEach((f) => f.release());
  } finally {
    await client.close();
    await c.close();
  }
}

async function swarm(k) {
  const c = await cluster(0);
  const sw = start([swarmScript, c.address, String(k)], (out) => out.includes('ready'));
  await sw.found;
  const client = await Client.connect(c.address, { name: 'bench-scale' });
  try {
    await sleep(1000);
    const cpu0 = cpuMsOf(c.pid);
    await sleep(HEARTBEAT_WINDOW_MS);
    const heartbeatCpuMs = cpuMsOf(c.pid) - cpu0;
    const rates = [];
    const cpuPerTask = [];
    const cpuPerTaskLessHeartbeats = [];
    const inc = (x) => x + 1;
    for (let r = 0; r <= SWARM_RUNS; r++) {
      const cpu = cpuMsOf(c.pid);
      const t = performance.now();
      const fs = client.map(
        inc,
        Array.from({ length: SWARM_TASKS }, (_, i) => i + r * 1e6),
      );
      await client.gather(fs);
      const dt = (performance.now() - t) / 1000;
      fs.forEach((f) => f.release());
      if (r === 0) continue; // warm-up
      rates.push(SWARM_TASKS / dt);
      const cpuMs = cpuMsOf(c.pid) - cpu;
      cpuPerTask.push((cpuMs * 1000) / SWARM_TASKS);
      // The heartbeats go on meanwhile at the rate measured while idle: what is left is the tasks'.
      const heartbeatMs = (heartbeatCpuMs / HEARTBEAT_WINDOW_MS) * dt * 1000;
      cpuPerTaskLessHeartbeats.push(((cpuMs - heartbeatMs) * 1000) / SWARM_TASKS);
    }
    const heartbeats = (k * HEARTBEAT_WINDOW_MS) / 1000;
    console.log(
      JSON.stringify({
        bench: 'scale-workers',
        workers: k,
        tasks: SWARM_TASKS,
        tasksPerSecond: Math.round(median(rates)),
        runs: rates.map((x) => Math.round(x)),
        schedulerCpuMicrosPerTask: round(median(cpuPerTask)),
        schedulerCpuMicrosPerTaskLessHeartbeats: round(median(cpuPerTaskLessHeartbeats)),
        schedulerCpuMicrosPerHeartbeat: round((heartbeatCpuMs * 1000) / heartbeats),
        schedulerIdleCpuPercent: round((100 * heartbeatCpuMs) / HEARTBEAT_WINDOW_MS),
        schedulerPeakRssMB: round(memoryOf(c.pid).peak / 1e6),
      }),
    );
  } finally {
    await client.close();
    await stop(sw.child);
    await c.close();
  }
}

if (wanted('map')) for (const n of MAP_SIZES) await mapAt(n);
if (wanted('graph')) await graph();
if (wanted('workers')) for (const k of SWARM_SIZES) await swarm(k);
