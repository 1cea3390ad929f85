/**
 * The Mandelbrot page: one task per tile (the example's `submitTiles`), drawn as the tiles arrive
 * (asCompleted), each tinted on an overlay by the worker that holds it (whoHas): a browser tab or
 * a Node worker. The image itself stays untinted in `#render`, so it can be compared pixel for
 * pixel with a render made anywhere else.
 */
import type { Client, Future } from '@meshwork/client';
import { DEFAULT_VIEW, paintTile, submitTiles, type Tile } from '@meshwork/examples';
import source from '@meshwork/examples/source/mandelbrot.ts?raw';
import { connect, el, runButton, setText, showCode, showProgress, workersById } from './common.js';

/** Tint hues, one per worker in the order they deliver their first tile. */
const TINTS = ['#f97316', '#22c55e', '#a855f7', '#eab308', '#06b6d4', '#ef4444', '#3b82f6', '#ec4899'];
/** How opaque a tile's tint is over the image (0–1). */
const TINT_ALPHA = 0.3;

interface WorkerTiles {
  name: string;
  kind: string;
  colour: string;
  tiles: number;
}

const view = DEFAULT_VIEW;
const render = el<HTMLCanvasElement>('render');
const overlay = el<HTMLCanvasElement>('tint');
for (const canvas of [render, overlay]) {
  canvas.width = view.width;
  canvas.height = view.height;
}
const ctx = render.getContext('2d');
const tintCtx = overlay.getContext('2d');
if (!ctx || !tintCtx) throw new Error('no 2D canvas');
showCode(source, 'examples/src/mandelbrot.ts');
setText('tile-count', String(Math.ceil(view.width / view.tileSize) * Math.ceil(view.height / view.tileSize)));

const showTint = el<HTMLInputElement>('show-tint');
showTint.addEventListener('change', () => (overlay.hidden = !showTint.checked));

function drawTile(tile: Tile, counts: Uint16Array): void {
  const image = new ImageData(tile.width, tile.height);
  paintTile(image.data, tile.width, { ...tile, x: 0, y: 0 }, counts, view.maxIterations);
  ctx?.putImageData(image, tile.x, tile.y);
}

function tintTile(tile: Tile, colour: string): void {
  if (!tintCtx) return;
  tintCtx.globalAlpha = TINT_ALPHA;
  tintCtx.fillStyle = colour;
  tintCtx.fillRect(tile.x, tile.y, tile.width, tile.height);
  tintCtx.globalAlpha = 1;
  tintCtx.strokeStyle = colour;
  tintCtx.strokeRect(tile.x + 0.5, tile.y + 0.5, tile.width - 1, tile.height - 1);
}

function renderLegend(workers: Map<string, WorkerTiles>): void {
  const items = [...workers.entries()].map(([id, w]) => {
    const li = document.createElement('li');
    li.dataset['workerId'] = id;
    li.dataset['kind'] = w.kind;
    li.dataset['tiles'] = String(w.tiles);
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = w.colour;
    const label = document.createElement('span');
    label.textContent = `${w.name} (${w.kind === 'browser' ? 'browser tab' : 'Node worker'}): ${w.tiles} tile${w.tiles === 1 ? '' : 's'}`;
    li.append(swatch, label);
    return li;
  });
  el('legend').replaceChildren(...items);
}

async function renderOnce(client: Client): Promise<void> {
  ctx?.clearRect(0, 0, view.width, view.height);
  tintCtx?.clearRect(0, 0, view.width, view.height);
  const started = performance.now();
  const submitted = submitTiles(client, view);
  const tileOf = new Map<Future<Uint16Array>, Tile>(submitted.map((s) => [s.future, s.tile]));
  const futures = submitted.map((s) => s.future);
  const progress = client.progress(futures).forEach(showProgress);
  const workers = new Map<string, WorkerTiles>();
  let known = await workersById();
  const ac = client.asCompleted(futures);
  try {
    for await (const first of ac) {
      const batch = [first, ...ac.nextBatch()];
      const [values, holders] = await Promise.all([client.gather(batch), client.whoHas(batch)]);
      for (const [i, future] of batch.entries()) {
        const tile = tileOf.get(future) as Tile;
        drawTile(tile, values[i] as Uint16Array);
        const id = holders[future.key]?.[0] ?? 'unknown';
        if (!known.has(id)) known = await workersById();
        let w = workers.get(id);
        if (!w) {
          const info = known.get(id) ?? { name: id, kind: 'unknown' };
          w = { ...info, colour: TINTS[workers.size % TINTS.length] as string, tiles: 0 };
          workers.set(id, w);
        }
        w.tiles++;
        tintTile(tile, w.colour);
      }
      renderLegend(workers);
      setText('seconds', `${((performance.now() - started) / 1000).toFixed(2)} s`);
    }
    await progress;
  } finally {
    for (const f of futures) f.release();
  }
}

const client = await connect('mandelbrot-page');
runButton(() => renderOnce(client));
