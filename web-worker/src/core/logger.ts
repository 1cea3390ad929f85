/** The logger the runtime writes through (the data plane's); hosts inject one (library code never uses `console`). */
import type { Logger } from '@meshwork/datalink';

export { silentLogger, type Logger } from '@meshwork/datalink';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A logger writing lines at `level` and above through `write` (e.g. to stderr). */
export function lineLogger(write: (line: string) => void, level: LogLevel = 'info', prefix = ''): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const at =
    (l: LogLevel) =>
    (message: string, details?: Record<string, unknown>): void => {
      if (LOG_LEVELS.indexOf(l) < min) return;
      const extra = details && Object.keys(details).length > 0 ? ` ${safeJson(details)}` : '';
      write(`${new Date().toISOString()} ${l.toUpperCase().padEnd(5)} ${prefix}${message}${extra}`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (v instanceof Error ? `${v.name}: ${v.message}` : v));
  } catch {
    return String(value);
  }
}
