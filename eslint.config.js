// ESLint flat config for the whole monorepo (`npm run lint` = `eslint .`).
//
// - TypeScript sources and tests: typescript-eslint's type-checked rules.
//   Sources use the project service (nearest tsconfig.json of each package);
//   tests are not in any package's build, so they use tsconfig.tests.json.
// - The module graph (STYLE.md "Import rules") is enforced with core
//   `no-restricted-imports`, one complete setting per folder: a later block
//   replaces an earlier one's options for the same rule, it does not merge.
// - Plain .js/.mjs (scripts, bench, integration tests): JS recommended rules.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const TS_SOURCES = ['*/src/**/*.ts'];
const TS_TESTS = ['*/test/**/*.ts', 'tests/**/*.ts', 'playwright.config.ts'];

// Every global of the Node process linting this file (ES built-ins, process,
// Buffer, URL, fetch, ...): the same thing the `globals` package lists.
const nodeGlobals = Object.fromEntries(Object.getOwnPropertyNames(globalThis).map((name) => [name, 'readonly']));

const WORKSPACES = ['protocol', 'datalink', 'web-worker', 'client', 'examples', 'server', 'demo-site'];

// --- import restrictions, composed per folder -------------------------------
const noNode = {
  paths: builtinModules
    .filter((m) => !m.startsWith('_'))
    .map((name) => ({ name, message: 'Runtime-free code: no Node built-ins.' })),
  patterns: [{ regex: '^node:', message: 'Runtime-free code: no `node:` modules.' }],
};
const noRelativeIntoPackages = {
  patterns: [
    {
      regex: `^(\\.\\./)+(${WORKSPACES.join('|')})(/|$)`,
      message: "Don't reach into another package by relative path; import its public package name.",
    },
    {
      regex: '^@meshwork/[^/]+/(src|dist)(/|$)',
      message: 'Import the package entry point, not its src/ or dist/.',
    },
  ],
};
const noWorkspaces = (except, why) => ({
  patterns: [
    {
      regex: except.length ? `^@meshwork/(?!(${except.join('|')})(/|$))` : '^@meshwork/',
      message: why,
    },
  ],
});
/** Merge several `no-restricted-imports` option objects into one rule setting. */
const restrict = (...parts) => [
  'error',
  { paths: parts.flatMap((p) => p.paths ?? []), patterns: parts.flatMap((p) => p.patterns ?? []) },
];

const noWorkerHostImports = {
  patterns: [
    { regex: '^@meshwork/server(/|$)', message: 'web-worker never imports the server.' },
    // A task thread loads the client's public entry (globalThis.meshwork.client()); never its internals.
    { regex: '^@meshwork/client/.', message: 'web-worker may import only the public entry of @meshwork/client.' },
  ],
};

export default defineConfig(
  { ignores: ['**/dist/**', '**/node_modules/**', 'test-results/**', 'playwright-report/**', 'bench/results/**', 'server/site/**', 'docs/api/**'] },

  // --- plain JavaScript -----------------------------------------------------
  {
    files: ['**/*.{js,mjs,cjs}'],
    extends: [js.configs.recommended],
    languageOptions: { ecmaVersion: 'latest', sourceType: 'module', globals: nodeGlobals },
    rules: { 'no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }] },
  },

  // --- TypeScript: type-checked -------------------------------------------------
  {
    files: [...TS_SOURCES, ...TS_TESTS],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // A switch without `default` must list every member of the union; an explicit
      // `default` is a deliberate catch-all (e.g. "any other error code").
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // Rejecting with `signal.reason` (any) or a caught `unknown` is the idiom; literals are still flagged.
      '@typescript-eslint/prefer-promise-reject-errors': [
        'error',
        { allowThrowingAny: true, allowThrowingUnknown: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
    },
  },
  {
    files: TS_TESTS,
    languageOptions: {
      parserOptions: { projectService: false, project: './tsconfig.tests.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/unbound-method': 'off', // assertions on mocks pass methods around
      // Tests may start other packages through their public entry, never their internals.
      'no-restricted-imports': restrict(noRelativeIntoPackages),
    },
  },

  // --- library code: no console (CLI entry points may print) -----------------
  {
    files: TS_SOURCES,
    ignores: ['**/cli.ts', '**/main.ts', 'server/src/embedded.ts'],
    rules: { 'no-console': 'error' },
  },

  // --- module graph ------------------------------------------------------------
  {
    files: ['protocol/src/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict(
        noNode,
        noRelativeIntoPackages,
        noWorkspaces([], 'protocol is the leaf contract: it imports no workspace package.'),
      ),
    },
  },
  {
    files: ['client/src/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict(
        noRelativeIntoPackages,
        noWorkspaces(['protocol', 'datalink'], 'client may import only @meshwork/protocol and @meshwork/datalink among workspaces.'),
      ),
    },
  },
  {
    // The data plane: protocol below it; workers and clients above. Runtime-free but for *.node.ts.
    files: ['datalink/src/**/*.ts'],
    ignores: ['datalink/src/**/*.node.ts', 'datalink/src/node.ts'],
    rules: {
      'no-restricted-imports': restrict(
        noNode,
        noRelativeIntoPackages,
        noWorkspaces(['protocol'], 'datalink imports only @meshwork/protocol among workspaces.'),
      ),
    },
  },
  {
    files: ['datalink/src/**/*.node.ts', 'datalink/src/node.ts'],
    rules: {
      'no-restricted-imports': restrict(
        noRelativeIntoPackages,
        noWorkspaces(['protocol'], 'datalink imports only @meshwork/protocol among workspaces.'),
      ),
    },
  },
  {
    // Examples run in Node and on the demo pages alike: runtime-free, and they use only the client.
    files: ['examples/src/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict(
        noNode,
        noRelativeIntoPackages,
        noWorkspaces(['client'], 'examples use only the public client, as users do.'),
      ),
    },
  },
  {
    files: ['web-worker/src/**/*.ts'],
    rules: { 'no-restricted-imports': restrict(noRelativeIntoPackages, noWorkerHostImports) },
  },
  {
    files: ['web-worker/src/core/**/*.ts'],
    rules: { 'no-restricted-imports': restrict(noNode, noRelativeIntoPackages, noWorkerHostImports) },
  },
  {
    files: ['server/src/**/*.ts', 'demo-site/src/**/*.ts'],
    rules: { 'no-restricted-imports': restrict(noRelativeIntoPackages) },
  },
);
