/** Modules uploaded by clients (`client.upload`), kept by name; each version named by its hash. */
import { hashString } from '@meshwork/protocol';

export class ModuleStore {
  private readonly modules = new Map<string, { source: string; hash: string }>();

  /** Stores (or replaces) a module; returns the hash that names this version. */
  put(name: string, source: string): string {
    const hash = hashString(source);
    this.modules.set(name, { source, hash });
    return hash;
  }

  get(name: string): { source: string; hash: string } | undefined {
    return this.modules.get(name);
  }

  get size(): number {
    return this.modules.size;
  }
}
