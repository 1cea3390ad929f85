/** Runs the worker CLI from source, as `meshwork worker …` would (used by cli.test.ts). */
import { runWorkerCli } from '../src/node/index.js';

await runWorkerCli(process.argv.slice(2));
