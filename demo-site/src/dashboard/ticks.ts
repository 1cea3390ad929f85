/**
 * The y axis of a rate chart: from 0 to a round top, ticks a round step apart (1, 2 or 5 times a
 * power of ten), every label different. Pure (no DOM), so it is unit-tested in Node.
 */

export interface ZeroAxis {
  /** The top of the scale: a whole number of steps, at least the data's maximum and `minTop`. */
  top: number;
  /** 0, step, 2·step, … top. */
  ticks: number[];
}

export interface ZeroAxisOptions {
  /** The smallest top, so an idle chart still reads as a scale (e.g. 0 to 10 tasks/s). */
  minTop: number;
  /** Ticks at most, 0 and the top included. */
  maxTicks: number;
}

/** Multiples of a power of ten a step may be. */
const STEP_MANTISSAS = [1, 2, 5] as const;

/** `k · step` without the float noise of repeated addition (0.1 + 0.2). */
function multiple(k: number, step: number): number {
  return Number((k * step).toPrecision(12));
}

/**
 * The axis for data up to `max` whose ticks `label` names: the smallest round step that needs at
 * most `maxTicks` ticks and gives each tick its own label (a step of 0.5 labelled as whole numbers
 * would read 0, 1, 1).
 */
export function zeroAxis(max: number, label: (n: number) => string, options: ZeroAxisOptions): ZeroAxis {
  const { minTop, maxTicks } = options;
  if (!(minTop > 0) || !Number.isInteger(maxTicks) || maxTicks < 2)
    throw new RangeError(`zeroAxis needs minTop > 0 and maxTicks >= 2, not ${minTop} and ${maxTicks}`);
  const target = Math.max(minTop, Number.isFinite(max) ? max : 0);
  let exponent = Math.floor(Math.log10(target / (maxTicks - 1)));
  for (;;) {
    for (const m of STEP_MANTISSAS) {
      const step = m * 10 ** exponent;
      const intervals = Math.ceil(target / step - 1e-9);
      if (intervals + 1 > maxTicks) continue;
      const ticks = Array.from({ length: intervals + 1 }, (_, k) => multiple(k, step));
      if (new Set(ticks.map(label)).size === ticks.length) return { top: ticks[intervals] as number, ticks };
    }
    exponent++;
  }
}
