/** The examples' pure parts, in this process (tests/integration/examples.test.mjs runs them on a cluster). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_VIEW, colourOf, mandelbrotTile, renderHere, samplePi, sumCounts, tilesOf } from '../src/index.js';

describe('mandelbrot', () => {
  it('tiles cover every pixel of the view exactly once, including ragged edges', () => {
    const view = { ...DEFAULT_VIEW, width: 300, height: 130, tileSize: 128 };
    const covered = new Uint8Array(view.width * view.height);
    for (const t of tilesOf(view))
      for (let y = t.y; y < t.y + t.height; y++)
        for (let x = t.x; x < t.x + t.width; x++) covered[y * view.width + x]!++;
    assert.ok(covered.every((c) => c === 1));
    assert.equal(tilesOf(view).length, 3 * 2);
  });

  it('counts: -1 is inside the set, 1 escapes after 3 steps, 3 after 1', () => {
    // A 3 × 1 view of pixels 2 wide, top-left corner at 2 - 3 = -1 and 1 - 1 = 0: pixels at -1, 1 and 3 (+0i).
    const view = { ...DEFAULT_VIEW, width: 3, height: 1, centerX: 2, centerY: 1, pixelSize: 2, maxIterations: 50 };
    const counts = mandelbrotTile(view, { x: 0, y: 0, width: 3, height: 1 });
    assert.deepEqual([...counts], [50, 3, 1]); // 1 → 1, 2, 5 (|z|² 25 > 4); 3 → 3 (9 > 4)
  });

  it('colours: black inside, opaque RGB bytes outside; the render is opaque and deterministic', () => {
    assert.deepEqual(colourOf(500, 500), [0, 0, 0]);
    for (let n = 0; n < 500; n += 7)
      for (const c of colourOf(n, 500)) assert.ok(Number.isInteger(c) && c >= 0 && c <= 255);
    const view = { ...DEFAULT_VIEW, width: 64, height: 48, pixelSize: 3 / 64, tileSize: 32 };
    const a = renderHere(view);
    assert.equal(a.length, 64 * 48 * 4);
    for (let p = 3; p < a.length; p += 4) assert.equal(a[p], 255);
    assert.deepEqual(renderHere(view), a);
  });
});

describe('monte carlo', () => {
  it('a seed always draws the same points, and the share inside approaches π/4', () => {
    assert.equal(samplePi(7, 10_000), samplePi(7, 10_000));
    assert.notEqual(samplePi(7, 10_000), samplePi(8, 10_000));
    const n = 200_000;
    const inside = sumCounts([samplePi(1, n), samplePi(2, n)]);
    assert.ok(Math.abs((4 * inside) / (2 * n) - Math.PI) < 0.02);
  });
});
