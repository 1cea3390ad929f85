/** The logger the data plane writes through; hosts inject one (library code never uses `console`). */
export interface Logger {
  debug(message: string, details?: Record<string, unknown>): void;
  info(message: string, details?: Record<string, unknown>): void;
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}

const nothing = (): void => {};

/** Writes nothing: the default of library entry points. */
export const silentLogger: Logger = { debug: nothing, info: nothing, warn: nothing, error: nothing };
