// The pages (dashboard, /join, the demos) and the browser worker bundle: `vite build` → server/site,
// inside the server package, so its npm tarball carries them. The scheduler serves that folder
// (server/src/transport/http.ts): /join → join.html, assets under their paths. Every URL in the output is relative (`base: './'`), so the pages work behind a
// reverse proxy that mounts the scheduler on a sub-path.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('./demo-site'),
  base: './',
  publicDir: false,
  resolve: {
    alias: [
      // The browser host is bundled from source (it is not part of the package's Node build).
      { find: '@meshwork/web-worker/browser', replacement: here('./web-worker/src/browser/index.ts') },
      // msgpackr's build without `new Function`: its default build compiles a reader for a record
      // shape met 4 or more times in one message, which the pages' CSP (no 'unsafe-eval') refuses
      // and reports as a violation. Node keeps the compiled readers (tests/e2e/csp.spec.ts).
      { find: /^msgpackr$/, replacement: 'msgpackr/index-no-eval' },
    ],
  },
  // Task and heartbeat Web Workers are ES modules: tasks import uploaded modules and the client lazily.
  worker: { format: 'es' },
  build: {
    outDir: here('./server/site'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    rollupOptions: {
      input: {
        index: here('./demo-site/index.html'),
        join: here('./demo-site/join.html'),
        mandelbrot: here('./demo-site/mandelbrot.html'),
        montecarlo: here('./demo-site/montecarlo.html'),
        tree: here('./demo-site/tree.html'),
      },
      output: {
        // Task functions travel as their source, and a task's key and group are named after its
        // function: minify, but keep function names, so the dashboard shows `mandelbrotTile`,
        // not a mangled letter.
        minify: { compress: { keepNames: { function: true, class: false } }, mangle: { keepNames: { function: true, class: false } } },
      },
    },
  },
  logLevel: 'warn',
});
