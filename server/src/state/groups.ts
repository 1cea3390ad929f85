/**
 * Tasks counted per group (the function a task runs: the name part of its key) and status,
 * moved along with every status change, so the dashboard's progress bars cost a few increments
 * per transition instead of a scan of every task. A group goes when its last task is forgotten;
 * its totals (tasks finished and failed) stay, for the most recently emptied MAX_GROUP_HISTORY
 * groups, so the dashboard still shows what ran after the results were released.
 */
import type { GroupTotals, TaskGroup, TaskStatus } from './types.js';

/** Groups whose totals are kept after their last task is forgotten, at most (the least recently emptied go first). */
export const MAX_GROUP_HISTORY = 256;

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
  /** Totals of groups with no task now, by name, the least recently emptied first. */
  private readonly emptied = new Map<string, GroupTotals>();

  /** A new task of group `name` (born released): its group, made on first use (with its earlier totals). */
  add(name: string): TaskGroup {
    let g = this.byName.get(name);
    if (!g) {
      const totals = this.emptied.get(name) ?? { finished: 0, failed: 0 };
      this.emptied.delete(name);
      g = { name, counts: { waiting: 0, queued: 0, processing: 0, memory: 0, erred: 0, released: 0 }, size: 0, totals };
      this.byName.set(name, g);
    }
    g.size++;
    g.counts.released++;
    return g;
  }

  /** A task of `group`, last in `status`, was forgotten. */
  remove(group: TaskGroup, status: TaskStatus): void {
    group.counts[status]--;
    if (--group.size === 0 && this.byName.get(group.name) === group) {
      this.byName.delete(group.name);
      this.emptied.set(group.name, group.totals);
      if (this.emptied.size > MAX_GROUP_HISTORY) {
        const oldest = this.emptied.keys().next().value;
        if (oldest !== undefined) this.emptied.delete(oldest);
      }
    }
  }

  /** Groups with no task now and what they did, the most recently emptied first. */
  history(): [name: string, totals: GroupTotals][] {
    return [...this.emptied].reverse();
  }

  get size(): number {
    return this.byName.size;
  }

  values(): IterableIterator<TaskGroup> {
    return this.byName.values();
  }
}
