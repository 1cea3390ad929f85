/** The Monte Carlo π page: runs the example's `monteCarloPi` from this page, with its progress. */
import { monteCarloPi } from '@meshwork/examples';
import source from '@meshwork/examples/source/monte-carlo.ts?raw';
import { connect, el, numberInput, runButton, setText, showCode, showProgress } from './common.js';

showCode(source, 'examples/src/monte-carlo.ts');
const client = await connect('montecarlo-page');
runButton(async () => {
  const tasks = numberInput('tasks');
  const samplesPerTask = numberInput('samples');
  const r = await monteCarloPi(client, { tasks, samplesPerTask, onProgress: showProgress });
  setText('pi', r.pi.toFixed(6));
  setText('error', Math.abs(r.pi - Math.PI).toExponential(2));
  setText('points', r.samples.toLocaleString('en'));
  setText('seconds', `${r.seconds.toFixed(2)} s`);
  el('pi').dataset['value'] = String(r.pi);
});
