/** Colours of the dashboard: one per task group (stable across reloads), one per transfer path. */

/** Tableau 10: distinct on light and dark backgrounds. */
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

const assigned = new Map<string, string>();

/** The colour of a task group: a hash of its name, so a group keeps its colour on every load. */
export function groupColor(group: string): string {
  let c = assigned.get(group);
  if (c === undefined) {
    let h = 2166136261; // FNV-1a
    for (let i = 0; i < group.length; i++) h = Math.imul(h ^ group.charCodeAt(i), 16777619);
    c = PALETTE[(h >>> 0) % PALETTE.length] ?? '#4e79a7';
    assigned.set(group, c);
  }
  return c;
}

/** Erred task runs, whatever their group. */
export const ERRED_COLOR = '#d62728';

export const PATH_COLORS = { tcp: '#4e79a7', webrtc: '#59a14f', relay: '#e15759' } as const;
export const PATH_LABELS = { tcp: 'direct (TCP)', webrtc: 'WebRTC', relay: 'relayed' } as const;
