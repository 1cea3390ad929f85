import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { OriginPolicy, normaliseOrigin } from '../src/transport/origin.js';

const req = (headers: Record<string, string>, method = 'GET'): IncomingMessage => ({ headers, method }) as unknown as IncomingMessage;

test('--allow-origin values are origins in the form browsers send, or refused with the reason', () => {
  assert.deepEqual(normaliseOrigin('https://App.Example.org:443/'), { origin: 'https://app.example.org' });
  assert.deepEqual(normaliseOrigin('http://app.example:3000'), { origin: 'http://app.example:3000' });
  assert.deepEqual(normaliseOrigin('*'), { origin: '*' });
  for (const bad of ['app.example', 'https://app.example/path', 'https://u:p@app.example', 'https://a.example?x=1'])
    assert.ok('error' in normaliseOrigin(bad), bad);
});

test('own origins: scheme, port and a name of the bound address; the default port may be left out', () => {
  const p = new OriginPolicy({ tls: false, host: '127.0.0.1', port: () => 80, allowOrigins: [], secured: false });
  const ok = (origin: string): boolean => p.checkUpgrade(req({ host: 'localhost', origin })).ok;
  assert.ok(ok('http://localhost'));
  assert.ok(ok('http://127.0.0.1:80'));
  assert.ok(ok('http://[::1]'));
  assert.ok(!ok('https://localhost'));
  assert.ok(!ok('http://localhost:8080'));
  assert.ok(!ok('http://127.0.0.2'), 'another loopback address serves another site');
  assert.ok(!ok('null'));
});

test('Host on a loopback bind must be a loopback name, IPv6 included; beyond loopback tokens guard instead', () => {
  const p = new OriginPolicy({ tls: false, host: '127.0.0.1', port: () => 8786, allowOrigins: [], secured: false });
  for (const host of ['localhost:8786', '127.0.0.1:8786', '[::1]:8786', '127.1.2.3', 'LOCALHOST'])
    assert.ok(p.checkRequest(req({ host })).ok, host);
  for (const host of ['evil.example:8786', 'localhost.evil.example', '127.0.0.1.nip.io:8786', '[::1', ''])
    assert.ok(!p.checkRequest(req({ host })).ok, host);
  assert.ok(!p.checkRequest(req({})).ok, 'no Host at all');
  const wide = new OriginPolicy({ tls: true, host: '0.0.0.0', port: () => 8786, allowOrigins: [], secured: true });
  assert.ok(wide.checkRequest(req({ host: 'sched.example.org:8786' })).ok);
  assert.deepEqual(wide.checkUpgrade(req({ host: 'sched.example.org', origin: 'https://evil.example' })), { ok: true, crossOrigin: true });
});

test('state-changing requests from other origins are refused; reads are not (no CORS headers let them be read)', () => {
  const p = new OriginPolicy({ tls: false, host: '127.0.0.1', port: () => 8786, allowOrigins: ['https://app.example'], secured: false });
  assert.ok(!p.checkRequest(req({ host: 'localhost:8786', origin: 'https://evil.example' }, 'POST')).ok);
  assert.ok(p.checkRequest(req({ host: 'localhost:8786', origin: 'https://app.example' }, 'POST')).ok);
  assert.ok(p.checkRequest(req({ host: 'localhost:8786', origin: 'https://evil.example' }, 'GET')).ok);
});
