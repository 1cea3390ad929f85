/**
 * The peer graph: which workers (and clients) connected now traded how many bytes, over which
 * path. A small SVG (peers on a circle, an arrow per sender → receiver and path, thicker for more
 * bytes) and the same edges as a table, whose total row is the summary's "moved between peers":
 * what peers that left moved is one more row.
 */
import { DashboardChannel } from '@meshwork/protocol';
import { formatBytes } from '../format.js';
import { PATH_COLORS, PATH_LABELS } from './colors.js';
import { el, h } from './dom.js';

type Edge = DashboardChannel.TrafficEdge;
type Worker = DashboardChannel.DashboardWorker;
type Bytes = DashboardChannel.DashboardSummary['bytes'];

const SVG = 'http://www.w3.org/2000/svg';
const SIZE = 320;
const RADIUS = 120;
const NODE_RADIUS = 9;
/** Edges drawn at most (the largest); the table lists every edge of the update. */
const MAX_DRAWN_EDGES = 200;

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function markers(): SVGDefsElement {
  const defs = svg('defs', {});
  for (const [path, color] of Object.entries(PATH_COLORS)) {
    const m = svg('marker', {
      id: `arrow-${path}`,
      viewBox: '0 0 10 10',
      refX: 10,
      refY: 5,
      markerWidth: 5,
      markerHeight: 5,
      orient: 'auto-start-reverse',
    });
    m.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: color }));
    defs.append(m);
  }
  return defs;
}

/** Bytes moved over every path. */
export function totalBytes(b: Bytes): number {
  return b.tcp + b.webrtc + b.relay;
}

/**
 * @param moved the summary's bytes: everything moved since the scheduler started, of which the
 *   edges (between peers connected now) are a part
 */
export function renderPeers(workers: readonly Worker[], edges: readonly Edge[], moved: Bytes): void {
  const names = new Map(workers.map((w) => [w.id, w.name]));
  const kinds = new Map<string, string>(workers.map((w) => [w.id, w.kind]));
  const nodes = [...workers.map((w) => w.id)];
  for (const e of edges) for (const id of [e.from, e.to]) if (!nodes.includes(id)) nodes.push(id);
  const at = new Map(
    nodes.map((id, i) => {
      const a = (2 * Math.PI * i) / Math.max(1, nodes.length) - Math.PI / 2;
      return [id, { x: SIZE / 2 + RADIUS * Math.cos(a), y: SIZE / 2 + RADIUS * Math.sin(a) }];
    }),
  );
  const graph = svg('svg', { viewBox: `0 0 ${SIZE} ${SIZE}`, role: 'img', 'aria-label': 'peer graph' });
  graph.append(markers());
  for (const e of edges.slice(0, MAX_DRAWN_EDGES)) {
    const a = at.get(e.from);
    const b = at.get(e.to);
    if (!a || !b) continue;
    // Bend each arrow to its left, so A → B and B → A do not overlap; stop at the node's rim.
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const len = Math.hypot(dx, dy) || 1;
    const bend = { x: (a.x + b.x) / 2 - (dy / len) * 18, y: (a.y + b.y) / 2 + (dx / len) * 18 };
    const ex = b.x - ((b.x - bend.x) / Math.hypot(b.x - bend.x, b.y - bend.y)) * (NODE_RADIUS + 2);
    const ey = b.y - ((b.y - bend.y) / Math.hypot(b.x - bend.x, b.y - bend.y)) * (NODE_RADIUS + 2);
    const line = svg('path', {
      d: `M ${a.x} ${a.y} Q ${bend.x} ${bend.y} ${ex} ${ey}`,
      fill: 'none',
      stroke: PATH_COLORS[e.path],
      'stroke-width': Math.min(6, 1 + Math.log10(1 + e.bytes) / 2),
      'stroke-opacity': 0.8,
      'marker-end': `url(#arrow-${e.path})`,
    });
    const title = svg('title', {});
    title.textContent = `${names.get(e.from) ?? e.from} → ${names.get(e.to) ?? e.to}: ${formatBytes(e.bytes)} (${PATH_LABELS[e.path]})`;
    line.append(title);
    graph.append(line);
  }
  for (const id of nodes) {
    const p = at.get(id) as { x: number; y: number };
    const kind = kinds.get(id) ?? 'other';
    const g = svg('g', { class: `node node-${kind}` });
    g.append(svg('circle', { cx: p.x, cy: p.y, r: NODE_RADIUS }));
    const label = svg('text', { x: p.x, y: p.y + NODE_RADIUS + 13, 'text-anchor': 'middle' });
    label.textContent = names.get(id) ?? id;
    g.append(label);
    graph.append(g);
  }
  el('peer-graph').replaceChildren(graph);

  const rows = edges.map((e) =>
    h(
      'tr',
      { data: { from: e.from, to: e.to, path: e.path, bytes: e.bytes } },
      h('td', { text: names.get(e.from) ?? e.from, title: e.from }),
      h('td', { text: names.get(e.to) ?? e.to, title: e.to }),
      h('td', {}, h('span', { className: `path path-${e.path}`, text: PATH_LABELS[e.path] })),
      h('td', { className: 'num', text: formatBytes(e.bytes) }),
    ),
  );
  el('traffic-rows').replaceChildren(...rows);

  const total = totalBytes(moved);
  const rest = Math.max(0, total - edges.reduce((n, e) => n + e.bytes, 0));
  const cut = edges.length >= DashboardChannel.DASHBOARD_MAX_EDGES;
  const foot = (id: string, label: string, bytes: number): HTMLTableRowElement =>
    h(
      'tr',
      { className: id, data: { bytes } },
      h('td', { text: label }),
      h('td', {}),
      h('td', {}),
      h('td', { className: 'num', text: formatBytes(bytes) }),
    );
  const footRows = [foot('traffic-total', 'total since the scheduler started', total)];
  if (rest > 0)
    footRows.unshift(foot('traffic-rest', cut ? 'peers that left, and pairs not listed' : 'peers that left', rest));
  el('traffic-foot').replaceChildren(...(total > 0 ? footRows : []));
  el('no-traffic').hidden = total > 0;
}
