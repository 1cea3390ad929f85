/**
 * Modules uploaded by clients (`client.upload`), kept by name; each version named by its hash.
 * Bounded: at most MAX_MODULES names and MAX_MODULE_STORE_BYTES of source (UTF-8) in all; an
 * upload past either is refused, and replacing a module frees the old version.
 */
import { MAX_MODULES, MAX_MODULE_STORE_BYTES, hashString } from '@meshwork/protocol';

export interface ModuleStoreLimits {
  /** Modules kept at most (default MAX_MODULES). */
  maxModules?: number;
  /** Bytes of source kept at most, all modules together (default MAX_MODULE_STORE_BYTES). */
  maxBytes?: number;
}

export class ModuleStore {
  private readonly modules = new Map<string, { source: string; hash: string; bytes: number }>();
  private total = 0;
  private readonly maxModules: number;
  private readonly maxBytes: number;

  constructor(limits: ModuleStoreLimits = {}) {
    this.maxModules = limits.maxModules ?? MAX_MODULES;
    this.maxBytes = limits.maxBytes ?? MAX_MODULE_STORE_BYTES;
  }

  /**
   * Stores (or replaces) a module: the hash that names this version, or why it was refused
   * (nothing changed then).
   */
  put(name: string, source: string): { ok: true; hash: string } | { ok: false; message: string } {
    const old = this.modules.get(name);
    if (!old && this.modules.size >= this.maxModules) {
      return {
        ok: false,
        message: `module ${name} refused: ${this.modules.size} modules are stored, the most kept (MAX_MODULES); upload under an existing name to replace it`,
      };
    }
    const bytes = Buffer.byteLength(source, 'utf8');
    const total = this.total - (old?.bytes ?? 0) + bytes;
    if (total > this.maxBytes) {
      return {
        ok: false,
        message: `module ${name} of ${bytes} bytes refused: stored modules would take ${total} bytes, over MAX_MODULE_STORE_BYTES (${this.maxBytes} bytes); upload under an existing name to replace it`,
      };
    }
    const hash = hashString(source);
    this.modules.set(name, { source, hash, bytes });
    this.total = total;
    return { ok: true, hash };
  }

  get(name: string): { source: string; hash: string } | undefined {
    return this.modules.get(name);
  }

  get size(): number {
    return this.modules.size;
  }

  /** Bytes of source stored (UTF-8), all modules together. */
  get bytes(): number {
    return this.total;
  }
}
