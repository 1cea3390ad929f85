// `npm run bench:limits`: this machine's ceilings (bench/lib/limits.mjs), one JSON line.
import { measureLimits } from './lib/limits.mjs';

console.log(
  JSON.stringify({
    bench: 'limits',
    ...(await measureLimits()),
    units: { rttMicros: 'µs', tcpMBps: 'MB/s', webrtcMBps: 'MB/s' },
  }),
);
