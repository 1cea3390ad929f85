/** The injected logger of library code (no `console` outside CLI entry points). */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Writes lines at or above `level` to a sink (e.g. process.stderr). */
export function lineLogger(write: (line: string) => void, level: 'debug' | 'info' | 'warn' | 'error' = 'info'): Logger {
  const order = ['debug', 'info', 'warn', 'error'] as const;
  const min = order.indexOf(level);
  const at =
    (l: (typeof order)[number]) =>
    (message: string): void => {
      if (order.indexOf(l) >= min) write(`${new Date().toISOString()} ${l.padEnd(5)} ${message}\n`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
