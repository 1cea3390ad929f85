// What a new user's script does as a process of its own (fixtures/user-script.mjs) against a
// real scheduler: it ends by itself without client.close(), and a task's error names the line.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '@meshwork/server';
import { run } from './helpers.mjs';

const SCRIPT = fileURLToPath(new URL('./fixtures/user-script.mjs', import.meta.url));
/** How long a script may take before it counts as one that does not end by itself. */
const SCRIPT_END_BOUND_MS = 60_000;

let cluster;
before(async () => {
  cluster = await LocalCluster.start({ workers: 1 });
});
after(async () => {
  await cluster?.close();
});

/** Runs the script in `mode` to its end (killed, and so failing, past SCRIPT_END_BOUND_MS). */
async function runScript(mode) {
  const p = run(process.execPath, [SCRIPT, cluster.address, mode]);
  const bound = setTimeout(() => p.child.kill('SIGKILL'), SCRIPT_END_BOUND_MS);
  try {
    const ended = await p.exited;
    assert.notEqual(ended.signal, 'SIGKILL', `the '${mode}' script did not end by itself; its output:\n${p.output()}`);
    return { ...ended, output: p.output() };
  } finally {
    clearTimeout(bound);
  }
}

/** The line of the fixture marked `// await-line: <mode>`. */
function awaitLine(mode) {
  const lines = readFileSync(SCRIPT, 'utf8').split('\n');
  return lines.findIndex((l) => l.endsWith(`// await-line: ${mode}`)) + 1;
}

test('a script that awaits a result and never closes its client exits by itself with code 0', async () => {
  const { code, output } = await runScript('quick');
  assert.equal(output, '42\n');
  assert.equal(code, 0);
});

test('a script awaiting a long task is kept alive until the result comes', async () => {
  const { code, output } = await runScript('long');
  assert.equal(output, 'slept 2000 ms\n', 'it did not end before the result (an unsettled await exits with code 13)');
  assert.equal(code, 0);
});

for (const mode of ['throws', 'gather-throws']) {
  test(`an uncaught RemoteError (${mode}) names the script's line of the await first, and keeps the task's stack`, async () => {
    const { code, output } = await runScript(mode);
    assert.equal(code, 1);
    const site = `${SCRIPT}:${awaitLine(mode)}:`;
    const frames = output.split('\n').filter((l) => /^\s+at /.test(l));
    const first = frames.findIndex((l) => l.includes(site));
    assert.ok(first >= 0, `no frame names ${site}:\n${output}`);
    assert.ok(
      !frames.slice(0, first).some((l) => /meshwork|client[/\\]dist/.test(l)),
      `meshwork frames before the user's:\n${output}`,
    );
    assert.match(output, /RemoteError: bad \d/);
    assert.match(output, /remoteStack: 'TypeError: bad \d\\n' \+\s+'\s+at explode /, 'the task stack is still there');
  });
}
