/** Numbers as people read them: `1.4 MB`, `12,345`. */

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'] as const;
/** Bytes per unit step (decimal, as network rates are quoted). */
const STEP = 1000;

export function formatBytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= STEP && unit < UNITS.length - 1) {
    value /= STEP;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function formatCount(n: number): string {
  return integer.format(n);
}
