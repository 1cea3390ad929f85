// `npm run bench:compare`: the workloads of `npm run bench` on meshwork and on dask.distributed
// side by side, in one run on this machine, alternating the two; a JSON line per workload, then a
// Markdown table of medians and the ratio meshwork/dask, the machine (nproc, load) and versions.
//
// Both sides keep one LocalCluster of 2 worker processes × 1 thread (dask: processes=True, no
// dashboard) and run each workload as a driver answering "<workload> <run>" on stdin
// (meshwork_side.mjs, dask_side.py). Per workload: one warm-up sample each, then COMPARE_RUNS
// rounds, the side that goes first alternating every round. dask is Debian's python3-distributed,
// installed here with apt when `import distributed` fails (as root; nothing of it in npm test).
// COMPARE_RUNS (default 5); `-- name…` runs only those workloads; `--no-limits` skips the ceilings
// (measured last, in the same run: the transfer's is raw loopback TCP between two Node processes).
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { HIGHER_IS_BETTER, SIZES, UNITS } from '../lib/workloads.mjs';
import { measureLimits } from '../lib/limits.mjs';

const RUNS = Number(process.env.COMPARE_RUNS ?? 5);
/** One sample may take this long before the run is abandoned, in milliseconds. */
const SAMPLE_TIMEOUT_MS = 600_000;
const ORDER = ['submit-loop', 'map', 'round-trip', 'chain', 'tree-reduction', 'transfer', 'local-input', 'cold-start'];
/** The targets of the comparison, on ratio = meshwork / dask (of each workload's own unit). */
const TARGETS = {
  'submit-loop': { text: '≥ 10', met: (r) => r >= 10 },
  map: { text: '≥ 10', met: (r) => r >= 10 },
  'round-trip': { text: '≤ 0.05', met: (r) => r <= 0.05 },
  chain: { text: '≤ 0.1', met: (r) => r <= 0.1 },
  'tree-reduction': { text: '≤ 1', met: (r) => r <= 1 },
  transfer: { text: '≥ 0.5', met: (r) => r >= 0.5 },
  'local-input': { text: '≤ 3', met: (r) => r <= 3 },
  'cold-start': { text: '≤ 1', met: (r) => r <= 1 },
};

/** What a worker→worker transfer should reach of the raw loopback TCP rate between two Node processes. */
const TRANSFER_GOAL_OF_LOOPBACK = 0.8;

const args = process.argv.slice(2);
const withLimits = !args.includes('--no-limits');
const only = args.filter((a) => !a.startsWith('--'));
const workloads = ORDER.filter((w) => only.length === 0 || only.includes(w));
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sig = (x) => Number(x.toPrecision(4));

/** Debian's python3 when present (the one python3-distributed installs into), else PATH's; PYTHON overrides. */
function pickPython() {
  if (process.env.PYTHON) return process.env.PYTHON;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

const importsDask = (python) =>
  spawnSync(python, ['-c', 'import distributed, numpy'], { stdio: 'ignore' }).status === 0;

/** Installs Debian's python3-distributed (and numpy) with apt when they are missing. */
function ensureDask() {
  let python = pickPython();
  if (importsDask(python)) return python;
  console.error('bench:compare: dask.distributed is missing; installing python3-distributed with apt-get');
  const apt = (a) =>
    spawnSync('apt-get', a, {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status === 0;
  const packages = ['install', '-y', '--no-install-recommends', 'python3-distributed', 'python3-numpy'];
  if (!apt(packages)) {
    apt(['update']);
    apt(packages);
  }
  python = pickPython();
  if (!importsDask(python))
    throw new Error(
      'bench:compare needs dask.distributed: run `apt-get install -y python3-distributed python3-numpy` (as root) and retry',
    );
  return python;
}

/** A driver process: ask(workload, run) resolves with its figure. */
async function startDriver(name, command, argv) {
  const child = spawn(command, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (what) => {
    let timer;
    const timeout = new Promise(
      (_, reject) =>
        (timer = setTimeout(
          () => reject(new Error(`${name}: no answer to ${what} in ${SAMPLE_TIMEOUT_MS} ms`)),
          SAMPLE_TIMEOUT_MS,
        )),
    );
    try {
      for (;;) {
        const { value, done } = await Promise.race([lines.next(), timeout]);
        if (done) throw new Error(`${name} exited while running ${what}:\n${stderr}`);
        if (value.startsWith('{')) return JSON.parse(value);
      }
    } finally {
      clearTimeout(timer);
    }
  };
  const hello = await next('start');
  return {
    versions: hello.versions,
    async ask(workload, run) {
      child.stdin.write(`${workload} ${run}\n`);
      const answer = await next(workload);
      if (answer.error) throw new Error(`${name} ${workload}: ${answer.error}`);
      return answer.value;
    },
    async close() {
      child.stdin.end('quit\n');
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
    },
  };
}

const python = ensureDask();
const meshwork = await startDriver('meshwork', process.execPath, [here('./meshwork_side.mjs')]);
const dask = await startDriver('dask', python, [here('./dask_side.py'), JSON.stringify(SIZES)]);
const results = [];
try {
  for (const w of workloads) {
    await meshwork.ask(w, 0);
    await dask.ask(w, 0);
    const runs = { meshwork: [], dask: [] };
    for (let r = 1; r <= RUNS; r++) {
      const sides =
        r % 2
          ? [
              ['meshwork', meshwork],
              ['dask', dask],
            ]
          : [
              ['dask', dask],
              ['meshwork', meshwork],
            ];
      for (const [name, side] of sides) runs[name].push(await side.ask(w, r));
    }
    const m = median(runs.meshwork);
    const d = median(runs.dask);
    const ratio = m / d;
    const result = {
      bench: 'compare',
      workload: w,
      unit: UNITS[w],
      meshwork: sig(m),
      dask: sig(d),
      ratio: sig(ratio),
      target: TARGETS[w].text,
      met: TARGETS[w].met(ratio),
      runs: { meshwork: runs.meshwork.map(sig), dask: runs.dask.map(sig) },
    };
    results.push(result);
    console.log(JSON.stringify(result));
  }
} finally {
  await meshwork.close();
  await dask.close();
}

const limits = withLimits ? await measureLimits() : undefined;
const machine = {
  nproc: cpus().length,
  loadavg: loadavg().map((x) => sig(x)),
  runs: RUNS,
  ...meshwork.versions,
  ...dask.versions,
};
console.log(JSON.stringify({ bench: 'compare-machine', ...machine, ...(limits ? { limits } : {}) }));

/** How close meshwork gets to this machine's ceiling, as text (— where no single ceiling applies). */
function ceiling(r) {
  if (!limits) return '—';
  if (r.workload === 'chain' || r.workload === 'round-trip')
    return `1 loopback RTT = ${limits.rttMicros} µs (${Math.round((100 * limits.rttMicros) / r.meshwork)}%)`;
  if (r.workload === 'submit-loop' || r.workload === 'map')
    return `1 RTT per task = ${Math.round(1e6 / limits.rttMicros)}/s (${Math.round((100 * r.meshwork * limits.rttMicros) / 1e6)}%)`;
  if (r.workload === 'transfer')
    return `loopback TCP ${limits.tcpMBps} MB/s (${Math.round((100 * r.meshwork) / limits.tcpMBps)}%; goal ≥ ${Math.round(100 * TRANSFER_GOAL_OF_LOOPBACK)}%)`;
  return '—';
}
const better = (r) => (HIGHER_IS_BETTER[r.workload] ? 'higher' : 'lower');
console.log('');
console.log(
  `nproc ${machine.nproc}, load ${machine.loadavg.join(' ')}; node ${machine.node}, meshwork ${machine.meshwork}; python ${machine.python}, distributed ${machine.distributed}, dask ${machine.dask}, numpy ${machine.numpy}; medians of ${RUNS}, alternating`,
);
console.log('');
console.log('| workload | unit | meshwork | dask | meshwork/dask | target | met | ceiling on this machine |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of results)
  console.log(
    `| ${r.workload} | ${r.unit} (${better(r)} is better) | ${r.meshwork} | ${r.dask} | ${r.ratio} | ${r.target} | ${r.met ? 'yes' : 'no'} | ${ceiling(r)} |`,
  );
