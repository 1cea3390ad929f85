/**
 * The time the task stream shows: the runs kept, from the first one's start to the last one's
 * end, and never less than STREAM_MIN_SPAN_S (a short burst then sits at the right, where the
 * newest runs are). With no runs, the last STREAM_MIN_SPAN_S up to now. An idle cluster keeps
 * its last runs in view instead of scrolling them out into empty time. Pure (no DOM).
 */

/** The shortest span shown, in seconds. */
export const STREAM_MIN_SPAN_S = 10;
/** Room left on each side of the runs, as a share of the span (so the edge bars stay visible). */
const PAD_SHARE = 0.02;

export interface StreamSpan {
  /** Seconds since the epoch, as uPlot's time scale takes them. */
  from: number;
  to: number;
  /** The first run's start and the last run's end, in ms since the epoch; null with no runs. */
  runs: { first: number; last: number } | null;
}

/**
 * @param runs the runs kept, in ms since the epoch (any order)
 * @param now the latest update's time, in ms since the epoch
 */
export function streamSpan(runs: readonly { start: number; stop: number }[], now: number): StreamSpan {
  if (runs.length === 0) return { from: now / 1000 - STREAM_MIN_SPAN_S, to: now / 1000, runs: null };
  let first = Infinity;
  let last = -Infinity;
  for (const r of runs) {
    if (r.start < first) first = r.start;
    if (r.stop > last) last = r.stop;
  }
  const span = Math.max(STREAM_MIN_SPAN_S, (last - first) / 1000);
  const pad = span * PAD_SHARE;
  return { from: last / 1000 - span - pad, to: last / 1000 + pad, runs: { first, last } };
}
