/**
 * The one line the commands print when their port is taken, instead of Node's EADDRINUSE stack:
 * which port, and how to choose another (`how`: the option or variable of that command).
 */
import { DEFAULT_SCHEDULER_PORT } from '@meshwork/protocol';

/** The message for a listen error that says the port is in use; undefined for any other error. */
export function portInUseMessage(e: unknown, how: string): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const { code, port, address } = e as { code?: unknown; port?: unknown; address?: unknown };
  if (code !== 'EADDRINUSE') return undefined;
  const where = typeof address === 'string' ? ` on ${address}` : '';
  const dask =
    port === DEFAULT_SCHEDULER_PORT ? ` (${DEFAULT_SCHEDULER_PORT} is also the default of dask's scheduler)` : '';
  return `port ${String(port)}${where} is already in use${dask}; choose another with ${how} (0 picks a free port)`;
}
