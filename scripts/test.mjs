#!/usr/bin/env node
// The single test entry point (`npm test`).
//
//   node scripts/test.mjs [lint|typecheck|packages|unit|integration|e2e ...]   (default: all, in this order)
//
// Runs each stage with its output streamed, counts tests per stage (lint and
// typecheck count as one test each; packages one per public package and tool,
// publint and @arethetypeswrong/cli, and one for the API reference (TypeDoc); node:test from its TAP summary written to
// a file; Playwright from its JSON report), keeps going after a failure, and
// ends with exactly one line `N passed, N failed`. Exits 1 if anything failed.
// A stage that exits non-zero without reporting a failed test (a crash, a
// syntax error in the runner's config, ...) counts as one failure.
// A stage with no test files is skipped with a note.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const UNIT_TEST_TIMEOUT_MS = 60_000; // per test
const INTEGRATION_TEST_TIMEOUT_MS = 180_000; // per test: starts real processes
const E2E_JSON_REPORT = join(ROOT, 'playwright-report/results.json'); // as in playwright.config.ts

const STAGES = {
  lint: async () => exitCodeAsOneTest(await run('npm', ['run', 'lint'])),
  typecheck: async () => exitCodeAsOneTest(await run('npm', ['run', 'typecheck'])),
  packages: () => packageChecks(),
  unit: () =>
    nodeTest(
      workspaces().flatMap((ws) => findFiles(join(ws, 'test'), '.test.ts')),
      ['--import', 'tsx', `--test-timeout=${UNIT_TEST_TIMEOUT_MS}`],
    ),
  integration: () =>
    nodeTest(findFiles('tests/integration', '.test.mjs'), [
      '--test-concurrency=1',
      `--test-timeout=${INTEGRATION_TEST_TIMEOUT_MS}`,
    ]),
  e2e: () => playwright(findFiles('tests/e2e', '.spec.ts')),
};

/** Workspace folders (those with a package.json), relative to ROOT. */
function workspaces() {
  return readdirSync(ROOT, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'node_modules' && existsSync(join(ROOT, e.name, 'package.json')))
    .map((e) => e.name);
}

/** Each public package (not `private`) as npm would publish it: publint, then attw on its packed tarball (ESM only). */
async function packageChecks() {
  const counts = { passed: 0, failed: 0 };
  const tally = (code) => (code === 0 ? counts.passed++ : counts.failed++);
  for (const ws of workspaces().filter(
    (ws) => !JSON.parse(readFileSync(join(ROOT, ws, 'package.json'), 'utf8')).private,
  )) {
    tally(await run(join(ROOT, 'node_modules/.bin/publint'), [ws]));
    tally(
      await run(join(ROOT, 'node_modules/.bin/attw'), [
        '--pack',
        ws,
        '--profile',
        'esm-only',
        '--format',
        'table-flipped',
      ]),
    );
  }
  // The API reference from the TSDoc (typedoc.json): a link that names nothing fails it.
  tally(await run(join(ROOT, 'node_modules/.bin/typedoc'), []));
  return counts;
}

/** Files below `dir` (relative to ROOT) whose names end with `suffix`, sorted; [] if `dir` is missing. */
function findFiles(dir, suffix) {
  if (!existsSync(join(ROOT, dir))) return [];
  return readdirSync(join(ROOT, dir), { withFileTypes: true })
    .flatMap((e) => {
      const path = join(dir, e.name);
      if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : findFiles(path, suffix);
      return e.name.endsWith(suffix) ? [path] : [];
    })
    .sort();
}

/** Runs a command in ROOT with inherited stdio; resolves to its exit code (1 if it could not start). */
function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: 'inherit' });
    child.on('error', (err) => {
      console.error(`could not start ${cmd}: ${err.message}`);
      resolve(1);
    });
    child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

function exitCodeAsOneTest(code) {
  return code === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 };
}

/** A crash is a non-zero exit without a failed test to show for it: count it as one failure. */
function withCrash(code, counts) {
  if (counts === undefined) return { passed: 0, failed: 1, note: `no test summary (exit code ${code})` };
  if (code !== 0 && counts.failed === 0) return { ...counts, failed: 1, note: `exit code ${code} with no failed test` };
  return counts;
}

/** Node's test runner: spec reporter to the terminal, TAP to a file whose summary we count. */
async function nodeTest(files, extraArgs) {
  if (files.length === 0) return { skipped: 'no test files' };
  const dir = mkdtempSync(join(tmpdir(), 'meshwork-test-'));
  const tap = join(dir, 'report.tap');
  try {
    const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout'];
    reporters.push('--test-reporter=tap', `--test-reporter-destination=${tap}`);
    const code = await run(process.execPath, [...extraArgs, '--test', ...reporters, ...files]);
    const report = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
    const last = (name) => [...report.matchAll(new RegExp(`^# ${name} (\\d+)$`, 'gm'))].map((m) => Number(m[1])).pop();
    const [pass, fail, cancelled] = [last('pass'), last('fail'), last('cancelled')];
    const counts = pass === undefined ? undefined : { passed: pass, failed: (fail ?? 0) + (cancelled ?? 0) };
    return withCrash(code, counts);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Playwright: list reporter to the terminal, counts from its JSON report. */
async function playwright(files) {
  if (files.length === 0) return { skipped: 'no *.spec.ts in tests/e2e' };
  rmSync(E2E_JSON_REPORT, { force: true });
  const code = await run(join(ROOT, 'node_modules/.bin/playwright'), ['test']);
  let counts;
  if (existsSync(E2E_JSON_REPORT)) {
    const { stats } = JSON.parse(readFileSync(E2E_JSON_REPORT, 'utf8'));
    counts = { passed: stats.expected + stats.flaky, failed: stats.unexpected };
  }
  return withCrash(code, counts);
}

const names = process.argv.slice(2);
const unknown = names.filter((n) => !(n in STAGES));
if (unknown.length > 0) {
  console.error(`unknown stage(s): ${unknown.join(', ')}; known: ${Object.keys(STAGES).join(', ')}`);
  process.exit(2);
}

const results = [];
for (const name of names.length > 0 ? names : Object.keys(STAGES)) {
  console.log(`\n=== ${name} ===`);
  const result = await STAGES[name]();
  if (result.skipped) console.log(`(skipped ${name}: ${result.skipped})`);
  results.push({ name, ...result });
}

console.log('\n=== summary ===');
for (const r of results) {
  const detail = r.skipped ? `skipped (${r.skipped})` : `${r.passed} passed, ${r.failed} failed`;
  console.log(`${r.name.padEnd(12)} ${detail}${r.note ? ` (${r.note})` : ''}`);
}
const total = (key) => results.reduce((sum, r) => sum + (r[key] ?? 0), 0);
console.log(`${total('passed')} passed, ${total('failed')} failed`);
process.exitCode = total('failed') > 0 ? 1 : 0;
