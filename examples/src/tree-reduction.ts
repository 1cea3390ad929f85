/**
 * Tree reduction: 16 arrays of 1,000,000 random float64 made on the cluster, neighbours added
 * pairwise until one is left. Futures are passed as arguments, so every array stays on the worker
 * that made it until the worker adding it fetches it; only the last sum travels to the client.
 */
import type { Client, Future, ProgressState } from '@meshwork/client';

export interface TreeReductionResult {
  length: number;
  sum: number;
  /** The sum of every input array, computed separately on the cluster: it must equal `sum`. */
  inputsSum: number;
  seconds: number;
}

export interface TreeReductionOptions {
  /** Told how many of the graph's tasks have settled, as they do. */
  onProgress?: (progress: ProgressState) => void;
  /**
   * Sum the reduced array on the cluster and fetch only the numbers, instead of fetching the
   * array (8 MB by default). A browser client fetches only small values, so the demo page sets it.
   */
  sumOnCluster?: boolean;
}

export async function treeReduction(
  client: Client,
  arrays = 16,
  length = 1_000_000,
  options: TreeReductionOptions = {},
): Promise<TreeReductionResult> {
  const started = Date.now();
  // Task functions travel as source: each uses only its arguments and globals.
  const random = (n: number): Float64Array => {
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = Math.random();
    return a;
  };
  const add = (a: Float64Array, b: Float64Array): Float64Array => {
    const out = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) + (b[i] as number);
    return out;
  };
  const total = (a: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] as number;
    return s;
  };

  const inputs = client.with({ pure: false }).map(random, new Array<number>(arrays).fill(length));
  const inputSums = client.map(total, inputs); // futures as arguments: summed where they are
  const made: Future<unknown>[] = [...inputs, ...inputSums];
  let layer: Future<Float64Array>[] = inputs;
  while (layer.length > 1) {
    const next: Future<Float64Array>[] = [];
    for (let i = 0; i + 1 < layer.length; i += 2) {
      next.push(client.submit(add, layer[i] as Future<Float64Array>, layer[i + 1] as Future<Float64Array>));
    }
    if (layer.length % 2 === 1) next.push(layer[layer.length - 1] as Future<Float64Array>);
    made.push(...next.filter((f) => !made.includes(f)));
    layer = next;
  }

  const last = layer[0] as Future<Float64Array>;
  const size = (a: Float64Array): number => a.length;
  const summary = options.sumOnCluster ? [client.submit(size, last), client.submit(total, last)] : [];
  made.push(...summary);

  const progress = options.onProgress ? client.progress(made).forEach(options.onProgress) : undefined;
  progress?.catch(() => {}); // awaited below; if the result fails first, that error is the one thrown
  let reduced: { length: number; sum: number };
  if (options.sumOnCluster) {
    const [n, s] = await client.gather(summary);
    reduced = { length: n as number, sum: s as number };
  } else {
    const result = await last.result();
    reduced = { length: result.length, sum: total(result) };
  }
  const seconds = (Date.now() - started) / 1000;
  const sums = await client.gather(inputSums);
  await progress;
  for (const f of made) f.release();
  return { ...reduced, inputsSum: sums.reduce((a, b) => a + b, 0), seconds };
}
