// Browser tests only (tests/e2e): N pages = N worker tabs. Uses Debian's
// /usr/bin/chromium (never `npx playwright install`). Firefox runs too:
// tests/e2e/firefox.spec.ts launches Debian's /usr/bin/firefox-esr itself with
// puppeteer-core over WebDriver BiDi (Playwright cannot drive it), so its tests
// sit in this project and this report. Run through `npm run test:e2e` or
// `npm test`; scripts/test.mjs reads the JSON report.
import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './scripts/chromium.mjs';

/** Where scripts/test.mjs finds the pass/fail counts (keep the two in sync). */
const E2E_JSON_REPORT = 'playwright-report/results.json';

export default defineConfig({
  testDir: 'tests/e2e',
  testMatch: '**/*.spec.ts',
  outputDir: 'test-results',
  timeout: 60_000, // per test, ms: scheduler start + a few Chromium launches (~5 s cold each)
  expect: { timeout: 10_000 },
  globalTimeout: 15 * 60_000,
  workers: 1, // tests start real schedulers and tabs; keep the machine quiet
  fullyParallel: false,
  forbidOnly: !!process.env['CI'],
  retries: 0,
  reporter: [['list'], ['json', { outputFile: E2E_JSON_REPORT }]],
  use: { headless: true, trace: 'retain-on-failure' },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        launchOptions: {
          executablePath: CHROMIUM_PATH,
          args: CHROMIUM_ARGS,
        },
      },
    },
  ],
});
