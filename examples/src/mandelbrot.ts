/**
 * Mandelbrot tiles: a view split into tiles, one task per tile; each task returns the escape
 * iteration count of each of its pixels (a Uint16Array: 128 × 128 tiles are 32 KiB, small enough
 * to come back on the control channel), and the page or process that asked turns counts into
 * colours with `paintTile`. Only + − × on doubles and integer counts: the image is the same, pixel
 * for pixel, wherever the tiles were computed (a tab, a Node worker, this process).
 */
import type { Client, Future } from '@meshwork/client';

export interface MandelbrotView {
  /** Image size, in pixels. */
  width: number;
  height: number;
  /** The point of the complex plane at the image's centre. */
  centerX: number;
  centerY: number;
  /** The width of one pixel in the complex plane. */
  pixelSize: number;
  /** A pixel whose orbit stays bounded this long is inside the set. */
  maxIterations: number;
  /** Tiles are at most this many pixels wide and high. */
  tileSize: number;
}

/** The whole set, 1024 × 768, in 48 tiles of 128 × 128. */
export const DEFAULT_VIEW: MandelbrotView = {
  width: 1024,
  height: 768,
  centerX: -0.6,
  centerY: 0,
  pixelSize: 3 / 1024,
  maxIterations: 500,
  tileSize: 128,
};

/** A rectangle of the image, in pixels. */
export interface Tile {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The tiles that cover the view, row by row. */
export function tilesOf(view: MandelbrotView): Tile[] {
  const tiles: Tile[] = [];
  for (let y = 0; y < view.height; y += view.tileSize)
    for (let x = 0; x < view.width; x += view.tileSize)
      tiles.push({
        x,
        y,
        width: Math.min(view.tileSize, view.width - x),
        height: Math.min(view.tileSize, view.height - y),
      });
  return tiles;
}

/** The task: escape counts of the tile's pixels, row by row (`maxIterations` = inside the set). */
export function mandelbrotTile(view: MandelbrotView, tile: Tile): Uint16Array {
  const counts = new Uint16Array(tile.width * tile.height);
  const left = view.centerX - (view.width / 2) * view.pixelSize;
  const top = view.centerY - (view.height / 2) * view.pixelSize;
  for (let j = 0; j < tile.height; j++) {
    const ci = top + (tile.y + j) * view.pixelSize;
    for (let i = 0; i < tile.width; i++) {
      const cr = left + (tile.x + i) * view.pixelSize;
      let zr = 0;
      let zi = 0;
      let n = 0;
      while (n < view.maxIterations && zr * zr + zi * zi <= 4) {
        const t = zr * zr - zi * zi + cr;
        zi = 2 * zr * zi + ci;
        zr = t;
        n++;
      }
      counts[j * tile.width + i] = n;
    }
  }
  return counts;
}

/** The colour of an escape count: black inside the set, a Bernstein-polynomial ramp outside (RGB, 0–255). */
export function colourOf(count: number, maxIterations: number): [number, number, number] {
  if (count >= maxIterations) return [0, 0, 0];
  const t = Math.sqrt(count / maxIterations); // sqrt is exactly rounded (IEEE 754): same colour everywhere
  const u = 1 - t;
  return [
    Math.floor(255 * Math.min(1, 9 * u * t * t * t)),
    Math.floor(255 * Math.min(1, 15 * u * u * t * t)),
    Math.floor(255 * Math.min(1, 8.5 * u * u * u * t)),
  ];
}

/** Writes a tile's colours into `rgba`, an image `width` pixels wide (4 bytes per pixel, opaque). */
export function paintTile(
  rgba: Uint8ClampedArray,
  width: number,
  tile: Tile,
  counts: Uint16Array,
  maxIterations: number,
): void {
  for (let j = 0; j < tile.height; j++) {
    for (let i = 0; i < tile.width; i++) {
      const [r, g, b] = colourOf(counts[j * tile.width + i] ?? 0, maxIterations);
      const p = ((tile.y + j) * width + tile.x + i) * 4;
      rgba[p] = r;
      rgba[p + 1] = g;
      rgba[p + 2] = b;
      rgba[p + 3] = 255;
    }
  }
}

/** The whole image computed here, in this process: the reference a distributed render must match. */
export function renderHere(view: MandelbrotView): Uint8ClampedArray {
  const rgba = new Uint8ClampedArray(view.width * view.height * 4);
  for (const tile of tilesOf(view)) paintTile(rgba, view.width, tile, mandelbrotTile(view, tile), view.maxIterations);
  return rgba;
}

/** One task per tile, submitted at once; draw each tile as its future settles (asCompleted). */
export function submitTiles(client: Client, view: MandelbrotView): { tile: Tile; future: Future<Uint16Array> }[] {
  const tiles = tilesOf(view);
  const futures = client.map(mandelbrotTile, new Array<MandelbrotView>(tiles.length).fill(view), tiles);
  return tiles.map((tile, i) => ({ tile, future: futures[i] as Future<Uint16Array> }));
}
