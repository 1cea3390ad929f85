// For tests of what a process keeps: a string cut from a big one (as a string decoded from a
// frame is cut from the frame's text), and how much of the heap stays in use after a step.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

export const BIG_TEXT_BYTES = 16 * 1024 * 1024;

export function cutFromBig(tail) {
  // V8 slices strings of 13 characters or more without copying.
  return ('x'.repeat(BIG_TEXT_BYTES) + tail).slice(BIG_TEXT_BYTES);
}

export function retainedBy(step) {
  gc();
  const before = process.memoryUsage().heapUsed;
  const measure = () => {
    // The engine holds the last regular expression's input (RegExp.input) until the next match.
    /$^/.exec('');
    gc();
    return process.memoryUsage().heapUsed - before;
  };
  const done = step();
  return done instanceof Promise ? done.then(measure) : measure();
}
