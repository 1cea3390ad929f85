/**
 * Monte Carlo π: `map` a sampling function over seeds, then sum the counts with one more task that
 * takes the futures themselves as its argument (the counts meet on a worker, not here).
 * Points are drawn from a seeded generator (mulberry32), so a run is reproducible and every
 * task is pure: running the same estimate twice reuses the results already on the cluster.
 */
import type { Client, ProgressState } from '@meshwork/client';

export interface MonteCarloOptions {
  /** How many tasks (one seed each). Default 32. */
  tasks?: number;
  /** Points each task draws. Default 1,000,000. */
  samplesPerTask?: number;
  /** The first seed; task i uses `seed + i`. Default 1. */
  seed?: number;
  /** Told how many tasks have settled, as they do. */
  onProgress?: (progress: ProgressState) => void;
}

export interface MonteCarloResult {
  pi: number;
  samples: number;
  /** Points inside the quarter circle. */
  inside: number;
  seconds: number;
}

/** Counts how many of `samples` random points in the unit square fall inside the quarter circle. */
export function samplePi(seed: number, samples: number): number {
  let state = seed >>> 0;
  const next = (): number => {
    // mulberry32: a small, fast, seeded generator; 2^32 states are plenty for a demo
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let inside = 0;
  for (let i = 0; i < samples; i++) {
    const x = next();
    const y = next();
    if (x * x + y * y <= 1) inside++;
  }
  return inside;
}

/** Adds the counts (a task: its argument is a list of futures, gathered on the worker). */
export function sumCounts(counts: number[]): number {
  return counts.reduce((a, b) => a + b, 0);
}

export async function monteCarloPi(client: Client, options: MonteCarloOptions = {}): Promise<MonteCarloResult> {
  const { tasks = 32, samplesPerTask = 1_000_000, seed = 1 } = options;
  const started = Date.now();
  const seeds = Array.from({ length: tasks }, (_, i) => seed + i);
  const counts = client.map(samplePi, seeds, new Array<number>(tasks).fill(samplesPerTask));
  const total = client.submit(sumCounts, counts);
  const progress = options.onProgress ? client.progress([...counts, total]).forEach(options.onProgress) : undefined;
  progress?.catch(() => {}); // awaited below; if the result fails first, that error is the one thrown
  const inside = await total.result();
  await progress;
  for (const f of [...counts, total]) f.release();
  const samples = tasks * samplesPerTask;
  return { pi: (4 * inside) / samples, samples, inside, seconds: (Date.now() - started) / 1000 };
}
