/**
 * Tasks counted per group (the function a task runs: the name part of its key) and status,
 * moved along with every status change, so the dashboard's progress bars cost a few increments
 * per transition instead of a scan of every task. A group goes when its last task is forgotten.
 */
import type { TaskGroup, TaskStatus } from './types.js';

/** Longest group name, in characters (as clients cut the name part of keys). */
export const MAX_GROUP_NAME_CHARS = 64;

/**
 * The group of a task running function `fnName`: the name part of the keys clients make for it
 * (`<name>-<hash>`): the name made key-safe, or `lambda` for an anonymous function.
 */
export function groupName(fnName: string): string {
  const name = fnName.replace(/[^\w$.]+/g, '_').slice(0, MAX_GROUP_NAME_CHARS);
  return name.length > 0 ? name : 'lambda';
}

export class TaskGroups {
  private readonly byName = new Map<string, TaskGroup>();

  /** A new task of group `name` (born released): its group, made on first use. */
  add(name: string): TaskGroup {
    let g = this.byName.get(name);
    if (!g) {
      g = { name, counts: { waiting: 0, queued: 0, processing: 0, memory: 0, erred: 0, released: 0 }, size: 0 };
      this.byName.set(name, g);
    }
    g.size++;
    g.counts.released++;
    return g;
  }

  /** A task of `group`, last in `status`, was forgotten. */
  remove(group: TaskGroup, status: TaskStatus): void {
    group.counts[status]--;
    if (--group.size === 0 && this.byName.get(group.name) === group) this.byName.delete(group.name);
  }

  get size(): number {
    return this.byName.size;
  }

  values(): IterableIterator<TaskGroup> {
    return this.byName.values();
  }
}
