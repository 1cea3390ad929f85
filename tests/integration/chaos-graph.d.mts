// Types of chaos-graph.mjs, for the browser spec (tests/e2e/chaos.spec.ts) that shares it.
import type { LocalCluster } from '@meshwork/server';

export interface ChaosValue {
  h: number;
  text?: string;
  big?: Float64Array;
}
export type ChaosSpec = [layer: number, index: number, seed: number, sleepMs: number];
export interface ChaosTask {
  id: number;
  spec: ChaosSpec;
  deps: number[];
}
export function chaosNode(spec: ChaosSpec, ...inputs: ChaosValue[]): Promise<ChaosValue>;
export function inputsOf(index: number, width: number): number[];
export function chaosGraph(o: {
  blocks: number;
  layers: number;
  width: number;
  seed: number;
  sleepMs: number;
}): ChaosTask[];
export function serialResults(tasks: readonly ChaosTask[]): Promise<ChaosValue[]>;
export function sameResult(got: unknown, want: ChaosValue): boolean;
export function seededRandom(seed: number): () => number;
export function chaosSeed(what: string): number;
export function sleep(ms: number): Promise<void>;
export function workerKiller(
  cluster: LocalCluster,
  random: () => number,
  o?: { minMs?: number; maxMs?: number; log?: (line: string) => void },
): { stats: { killed: number }; stop(): Promise<void> };
