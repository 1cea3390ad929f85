/**
 * Checks that the scheduler's state is consistent; tests run it after every event.
 * Returns the broken rules (empty when all hold) rather than throwing, so a test can show them all.
 */
import type { SchedulerState } from './scheduler-state.js';
import { sharedEmptyIsEmpty } from './compact.js';
import type { TaskStatus } from './types.js';

export function checkInvariants(s: SchedulerState): string[] {
  const broken: string[] = [];
  const fail = (msg: string): void => {
    if (broken.length < 50) broken.push(msg);
  };
  const counted: Record<TaskStatus, number> = { waiting: 0, queued: 0, processing: 0, memory: 0, erred: 0, released: 0 };
  if (!sharedEmptyIsEmpty()) fail('the shared empty set of sparse task fields holds something');
  for (const [key, t] of s.tasks) {
    counted[t.status]++;
    if (t.key !== key) fail(`${key}: stored under another key`);
    const needed = t.wants.size > 0 || t.waiters.size > 0;
    for (const d of t.deps) {
      if (!d.dependents.has(t)) fail(`${key}: dep ${d.key} does not list it as dependent`);
      if (s.tasks.get(d.key) !== d) fail(`${key}: dep ${d.key} was forgotten`);
    }
    for (const d of t.dependents) if (!d.deps.includes(t)) fail(`${key}: dependent ${d.key} does not list it`);
    for (const d of t.waiters) {
      if (!t.dependents.has(d)) fail(`${key}: waiter ${d.key} is not a dependent`);
      if (d.status !== 'waiting' && d.status !== 'queued' && d.status !== 'processing')
        fail(`${key}: waiter ${d.key} is ${d.status}`);
    }
    for (const [client, n] of t.wants) {
      if (n <= 0) fail(`${key}: want count ${n} for ${client}`);
      if (!s.clients.get(client)?.wants.has(t)) fail(`${key}: client ${client} does not list it`);
    }
    const notInMemory = t.deps.filter((d) => d.status !== 'memory').length;
    switch (t.status) {
      case 'memory':
        if (t.whoHas.size === 0) fail(`${key}: in memory on no worker`);
        if (t.processingOn) fail(`${key}: in memory but processing`);
        break;
      case 'processing':
        if (!t.processingOn?.processing.has(t) && !t.processingOn?.seceded.has(t)) fail(`${key}: processing on a worker that does not list it`);
        if (t.processingOn && !s.workers.has(t.processingOn.id)) fail(`${key}: processing on a removed worker`);
        if (notInMemory > 0) fail(`${key}: processing with ${notInMemory} deps not in memory`);
        if (!needed) fail(`${key}: processing but not needed`);
        break;
      case 'queued':
        if (notInMemory > 0) fail(`${key}: queued with ${notInMemory} deps not in memory`);
        if (!needed) fail(`${key}: queued but not needed`);
        break;
      case 'waiting':
        if (t.waitingOn !== notInMemory) fail(`${key}: waitingOn ${t.waitingOn} but ${notInMemory} deps not in memory`);
        if (notInMemory === 0) fail(`${key}: waiting on nothing`);
        if (!needed) fail(`${key}: waiting but not needed`);
        for (const d of t.deps) if (!d.waiters.has(t)) fail(`${key}: waiting, but dep ${d.key} does not count it as waiter`);
        for (const d of t.deps) if (d.status === 'released' && !(d.wants.size > 0 || d.waiters.size > 0)) fail(`${key}: dep ${d.key} will never run`);
        break;
      case 'released':
        if (t.whoHas.size > 0) fail(`${key}: released but held`);
        if (needed) fail(`${key}: released but needed`);
        break;
      case 'erred':
        if (!t.error) fail(`${key}: erred without an error`);
        break;
    }
    if (t.status !== 'processing' && t.processingOn) fail(`${key}: ${t.status} but has processingOn`);
    if (t.status !== 'memory' && t.inline !== null) fail(`${key}: ${t.status} but keeps an inline value`);
  }
  for (const st of Object.keys(counted) as TaskStatus[]) {
    if (counted[st] !== s.counts[st]) fail(`count of ${st} is ${s.counts[st]}, actual ${counted[st]}`);
  }
  const groups = new Map<string, Record<TaskStatus, number>>();
  for (const t of s.tasks.values()) {
    const g = groups.get(t.group.name) ?? { waiting: 0, queued: 0, processing: 0, memory: 0, erred: 0, released: 0 };
    g[t.status]++;
    groups.set(t.group.name, g);
  }
  if (groups.size !== s.groups.size) fail(`${s.groups.size} task groups counted, ${groups.size} actual`);
  for (const g of s.groups.values()) {
    const actual = groups.get(g.name);
    for (const st of Object.keys(counted) as TaskStatus[]) {
      if (g.counts[st] !== (actual?.[st] ?? 0)) fail(`group ${g.name}: count of ${st} is ${g.counts[st]}, actual ${actual?.[st] ?? 0}`);
    }
  }
  for (const t of s.tasks.values()) {
    if (t.stragglers === null) continue;
    if (t.status === 'memory' || t.status === 'erred') fail(`${t.key}: ${t.status} with stragglers`);
    if (t.processingOn && t.stragglers.includes(t.processingOn)) fail(`${t.key}: processing on one of its stragglers`);
    if (t.verify > 1) continue;
    for (const w of t.stragglers) {
      if (!w.overdue.has(t)) fail(`${t.key}: straggler ${w.id} does not list it as overdue`);
      if (s.workers.get(w.id) !== w) fail(`${t.key}: straggler ${w.id} left`);
    }
  }
  for (const [id, w] of s.workers) {
    for (const t of w.overdue) if (!t.stragglers?.includes(w) || s.tasks.get(t.key) !== t) fail(`worker ${id}: overdue ${t.key}, which does not name it`);
    let bytes = 0;
    for (const t of w.hasWhat) {
      bytes += t.nbytes;
      if (!t.whoHas.has(w)) fail(`worker ${id}: has ${t.key} which does not name it`);
      if (s.tasks.get(t.key) !== t) fail(`worker ${id}: holds forgotten ${t.key}`);
    }
    if (bytes !== w.bytesStored) fail(`worker ${id}: bytesStored ${w.bytesStored}, actual ${bytes}`);
    for (const t of [...w.processing, ...w.seceded]) if (t.processingOn !== w) fail(`worker ${id}: lists ${t.key} as processing elsewhere`);
    for (const t of w.processing) if (w.seceded.has(t)) fail(`worker ${id}: ${t.key} both running and seceded`);
    const replicas = [...w.processing, ...w.seceded].filter((t) => t.verify > 1).length;
    if (replicas !== w.replicas) fail(`worker ${id}: counts ${w.replicas} verified replicas, processes ${replicas}`);
    for (const [r, used] of Object.entries(w.resourcesUsed)) {
      const held = [...w.processing, ...w.seceded].reduce((n, t) => n + (t.restrictions?.resources?.[r] ?? 0), 0);
      if (used !== held) fail(`worker ${id}: ${used} of resource ${r} used, tasks hold ${held}`);
      if (used > (w.resources[r] ?? 0)) fail(`worker ${id}: ${used} of resource ${r} used, only ${w.resources[r] ?? 0} declared`);
    }
  }
  const fnUses = new Map<string, number>();
  for (const t of s.tasks.values()) if (t.fn !== '') fnUses.set(t.fn, (fnUses.get(t.fn) ?? 0) + 1);
  for (const id of fnUses.keys()) if (!s.fns.has(id)) fail(`function ${id}: used by tasks but not kept`);
  for (const [id, f] of s.fns) {
    const uses = fnUses.get(id) ?? 0;
    if (uses === 0) fail(`function ${id}: kept with no task using it`);
    if (f.tasks !== uses) fail(`function ${id}: ${f.tasks} tasks counted, ${uses} use it`);
    for (const w of f.sentTo) if (!w.fnsSent.has(id) || s.workers.get(w.id) !== w) fail(`function ${id}: sent to ${w.id}, which does not list it or left`);
  }
  for (const [id, w] of s.workers) for (const fn of w.fnsSent) if (!s.fns.get(fn)?.sentTo.has(w)) fail(`worker ${id}: lists function ${fn}, not kept or not sent to it`);
  for (const [id, c] of s.clients) {
    for (const t of c.wants) if (!t.wants.has(id)) fail(`client ${id}: wants ${t.key} which does not count it`);
  }
  return broken;
}
