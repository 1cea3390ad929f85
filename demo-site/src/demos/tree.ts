/** The tree reduction page: runs the example's `treeReduction` from this page, with its progress. */
import { treeReduction } from '@meshwork/examples';
import source from '@meshwork/examples/source/tree-reduction.ts?raw';
import { connect, el, numberInput, runButton, setText, showCode, showProgress } from './common.js';

showCode(source, 'examples/src/tree-reduction.ts');
const client = await connect('tree-page');
runButton(async () => {
  let tasks = 0;
  const r = await treeReduction(client, numberInput('arrays'), numberInput('length'), {
    sumOnCluster: true, // this page fetches two numbers, not the reduced array
    onProgress: (p) => {
      tasks = p.total;
      showProgress(p);
    },
  });
  const ok = Math.abs(r.sum - r.inputsSum) <= 1e-9 * Math.abs(r.inputsSum);
  setText('sum', r.sum.toFixed(3));
  setText('check', ok ? 'yes' : `no (${r.inputsSum.toFixed(3)})`);
  el('check').dataset['ok'] = String(ok);
  setText('tasks', String(tasks));
  setText('seconds', `${r.seconds.toFixed(2)} s`);
});
