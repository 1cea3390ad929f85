/** The examples, runtime-free: Node (npm start, npm run example) and the demo pages run the same code. */
export { treeReduction, type TreeReductionOptions, type TreeReductionResult } from './tree-reduction.js';
export { monteCarloPi, samplePi, sumCounts, type MonteCarloOptions, type MonteCarloResult } from './monte-carlo.js';
export {
  DEFAULT_VIEW,
  colourOf,
  mandelbrotTile,
  paintTile,
  renderHere,
  submitTiles,
  tilesOf,
  type MandelbrotView,
  type Tile,
} from './mandelbrot.js';
