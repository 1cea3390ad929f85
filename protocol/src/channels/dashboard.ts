/**
 * The channel between a dashboard page and the scheduler (one WebSocket, server to page only after
 * `hello`): the scheduler pushes a `dashboard-update` at a fixed modest rate while the page is
 * connected, and makes no updates while none is (it keeps only the bounded ring of recent task runs,
 * so a page opened later shows what ran). Every list is bounded (the constants below), so an
 * update stays small whatever the cluster's size.
 */
import * as v from 'valibot';
import { Count, ErrorReply, Millis, Welcome } from './common.js';

/** How often the scheduler pushes an update to each dashboard, in milliseconds. */
export const DASHBOARD_PUSH_INTERVAL_MS = 500;
/** Finished tasks the scheduler keeps for the task stream (a ring: the oldest go first). */
export const DASHBOARD_STREAM_ENTRIES = 5_000;
/** Task groups one update lists at most (those with tasks now, the largest first; then the most recently emptied). */
export const DASHBOARD_MAX_GROUPS = 64;
/** Workers one update lists at most. */
export const DASHBOARD_MAX_WORKERS = 1_024;
/** Peer-graph edges one update lists at most (the most bytes first). */
export const DASHBOARD_MAX_EDGES = 512;
/** Longest name (of a worker, a group, a peer) or key an update carries, in characters; longer ones are cut. */
export const DASHBOARD_MAX_NAME_CHARS = 128;

/** A short text: names and keys in an update are cut to DASHBOARD_MAX_NAME_CHARS. */
const Name = v.pipe(v.string(), v.maxLength(DASHBOARD_MAX_NAME_CHARS));

export const DashboardHello = v.object({
  type: v.literal('hello'),
  protocolVersion: v.number(),
  role: v.literal('dashboard'),
  token: v.optional(v.string()),
});

export const DashboardToServer = v.variant('type', [DashboardHello]);
export type DashboardToServer = v.InferOutput<typeof DashboardToServer>;

export const DashboardWorker = v.object({
  id: Name,
  name: Name,
  kind: v.picklist(['node', 'browser']),
  /** Node version or browser user agent. */
  agent: v.pipe(v.string(), v.maxLength(4 * DASHBOARD_MAX_NAME_CHARS)),
  threads: Count,
  paused: v.boolean(),
  memoryUsed: Count,
  memoryLimit: v.nullable(Count),
  running: Count,
  done: Count,
  bytesStored: Count,
  /** Peers it has traded values with (as it reported on its heartbeats). */
  peers: Count,
});
export type DashboardWorker = v.InferOutput<typeof DashboardWorker>;

/** The tasks of one function (the name part of their keys), by state. */
export const DashboardGroup = v.object({
  name: Name,
  /** Waiting on inputs, or ready and queued at the scheduler. */
  waiting: Count,
  processing: Count,
  memory: Count,
  erred: Count,
  /**
   * Totals since the scheduler started, released tasks included: runs that finished, and tasks
   * that failed for good. A group whose tasks are all released is still listed with these.
   */
  finished: Count,
  failed: Count,
});
export type DashboardGroup = v.InferOutput<typeof DashboardGroup>;

/** One task run, for the task stream. Times are the scheduler's clock, in ms since the epoch. */
export const StreamEntry = v.object({
  key: Name,
  group: Name,
  worker: Name,
  thread: Count,
  start: Millis,
  stop: Millis,
  erred: v.boolean(),
});
export type StreamEntry = v.InferOutput<typeof StreamEntry>;

/**
 * Bytes of values that went from one peer to another over one path (totals since they joined).
 * An update lists only edges between peers connected now (workers, and clients that traded with
 * them); what peers that left moved stays in the summary's `bytes`.
 */
export const TrafficEdge = v.object({
  from: Name,
  to: Name,
  path: v.picklist(['tcp', 'webrtc', 'relay']),
  bytes: Count,
});
export type TrafficEdge = v.InferOutput<typeof TrafficEdge>;

export const DashboardSummary = v.object({
  /** Totals since the scheduler started. */
  tasksFinished: Count,
  tasksErred: Count,
  workersJoined: Count,
  workersLost: Count,
  clients: Count,
  /**
   * Bytes of values moved between peers (workers and clients), per path, since the scheduler
   * started; each transfer counted once: by the worker that received it, or by the worker that
   * sent it when the receiver is a client. The edges of an update add up to at most this: the rest
   * was moved by peers that have left (or by edges past DASHBOARD_MAX_EDGES).
   */
  bytes: v.object({ tcp: Count, webrtc: Count, relay: Count }),
  /** Bytes of task data the scheduler carried itself. */
  relayedBytes: Count,
});
export type DashboardSummary = v.InferOutput<typeof DashboardSummary>;

export const DashboardUpdate = v.object({
  type: v.literal('dashboard-update'),
  /** When it was made, on the scheduler's clock (ms since the epoch). */
  at: Millis,
  workers: v.pipe(v.array(DashboardWorker), v.maxLength(DASHBOARD_MAX_WORKERS)),
  /** Tasks by state over every group, as /api/state counts them. */
  tasks: v.object({ waiting: Count, processing: Count, memory: Count, erred: Count }),
  groups: v.pipe(v.array(DashboardGroup), v.maxLength(DASHBOARD_MAX_GROUPS)),
  /** Tasks that ended since the previous update to this dashboard (the whole stream kept, on the first). */
  stream: v.pipe(v.array(StreamEntry), v.maxLength(DASHBOARD_STREAM_ENTRIES)),
  traffic: v.pipe(v.array(TrafficEdge), v.maxLength(DASHBOARD_MAX_EDGES)),
  summary: DashboardSummary,
});
export type DashboardUpdate = v.InferOutput<typeof DashboardUpdate>;

export const ServerToDashboard = v.variant('type', [Welcome, DashboardUpdate, ErrorReply]);
export type ServerToDashboard = v.InferOutput<typeof ServerToDashboard>;
