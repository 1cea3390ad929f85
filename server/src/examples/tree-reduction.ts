/**
 * The tree reduction of the README: 16 arrays of 1,000,000 random float64 made on the cluster,
 * neighbours added pairwise until one is left. Results stay on workers; only the last travels.
 */
import type { Client, Future } from '@meshwork/client';

export interface TreeReductionResult {
  length: number;
  sum: number;
  /** The sum of every input array, computed separately on the cluster: it must equal `sum`. */
  inputsSum: number;
  seconds: number;
}

export async function treeReduction(client: Client, arrays = 16, length = 1_000_000): Promise<TreeReductionResult> {
  const started = performance.now();
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
  const inputSums = client.map(total, inputs);
  const made: Future<unknown>[] = [...inputs, ...inputSums];
  let layer: Future<Float64Array>[] = inputs;
  while (layer.length > 1) {
    const next: Future<Float64Array>[] = [];
    for (let i = 0; i + 1 < layer.length; i += 2) next.push(client.submit(add, layer[i] as Future<Float64Array>, layer[i + 1] as Future<Float64Array>));
    if (layer.length % 2 === 1) next.push(layer[layer.length - 1] as Future<Float64Array>);
    made.push(...next);
    layer = next;
  }
  const result = await (layer[0] as Future<Float64Array>).result();
  const seconds = (performance.now() - started) / 1000;
  const sums = await client.gather(inputSums);
  for (const f of made) f.release();
  return { length: result.length, sum: total(result), inputsSum: sums.reduce((a, b) => a + b, 0), seconds };
}
