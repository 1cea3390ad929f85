/**
 * A progress bar on a terminal (cli-progress) fed by `client.progress(...)` steps. It draws only
 * when the stream is a TTY: piped or redirected output, and the stdout lines tests parse, never
 * see it. The bar is cleared when it stops, so the lines printed afterwards stay tidy.
 */
import type { ProgressState } from '@meshwork/client';
import cliProgress from 'cli-progress';

/** How often the bar may redraw, in frames per second (cli-progress caps its own redraws). */
const PROGRESS_BAR_FPS = 10;

export interface ProgressBar {
  /** Draws a step of `client.progress` (a plain function: pass it around as a callback). */
  readonly update: (progress: ProgressState) => void;
  /** Clears the bar (idempotent). */
  readonly stop: () => void;
}

const noBar: ProgressBar = { update: () => {}, stop: () => {} };

/** A bar labelled `label` on `stream` (default stderr), or a no-op when `stream` is not a terminal. */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  if (!stream.isTTY) return noBar;
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} {bar} {value}/{total} tasks{erred}`,
      fps: PROGRESS_BAR_FPS,
      clearOnComplete: true,
      hideCursor: true,
      barsize: 30,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let stopped = false;
  return {
    update: ({ done, total, erred }) => {
      if (stopped) return;
      const payload = { erred: erred > 0 ? `, ${erred} failed` : '' };
      if (!started) {
        started = true;
        bar.start(total, done, payload);
      } else {
        bar.setTotal(total);
        bar.update(done, payload);
      }
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      if (started) bar.stop();
    },
  };
}
