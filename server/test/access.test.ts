import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Access, checkExposure, isLoopbackHost } from '../src/transport/access.js';

test('roles: each token admits its role, the admin token every role, and nothing admits without one', () => {
  const a = new Access({ token: 'A', clientToken: 'C', workerToken: 'W' }, true);
  assert.deepEqual(a.admit('client', 'C'), { ok: true, admin: false });
  assert.deepEqual(a.admit('client', 'A'), { ok: true, admin: true });
  assert.deepEqual(a.admit('client', 'W'), { ok: false, admin: false });
  assert.deepEqual(a.admit('worker', 'W'), { ok: true, admin: false });
  assert.deepEqual(a.admit('worker', 'C'), { ok: false, admin: false });
  assert.deepEqual(a.admit('worker', undefined), { ok: false, admin: false });
  assert.ok(a.dataToken && a.dataToken.length >= 32, 'a secured scheduler hands out a data token');
  const onlyAdmin = new Access({ token: 'A' }, true);
  assert.equal(onlyAdmin.admit('worker', 'A').ok, true, 'alone, the admin token is the shared secret');
  assert.equal(onlyAdmin.admit('client', 'C').ok, false);
  const open = new Access({}, true);
  assert.deepEqual(open.admit('client', undefined), { ok: true, admin: true });
  assert.equal(open.dataToken, undefined);
});

test('state is open on loopback only; beyond it, and for the dump, the admin token is needed', () => {
  const local = new Access({ token: 'A', clientToken: 'C' }, true);
  const exposed = new Access({ token: 'A', clientToken: 'C' }, false);
  assert.equal(local.mayReadState(undefined), true);
  assert.equal(local.mayReadState('wrong'), false, 'a wrong token is refused even on loopback');
  assert.equal(local.mayReadState('A'), true);
  assert.equal(exposed.mayReadState(undefined), false);
  assert.equal(exposed.mayReadState('C'), false);
  assert.equal(exposed.mayReadState('A'), true);
  assert.equal(local.mayAdmin('C'), false);
  assert.equal(local.mayAdmin('A'), true);
});

test('an open scheduler may listen on loopback only, unless told insecure', () => {
  assert.equal(checkExposure('127.0.0.1', {}), undefined);
  assert.equal(checkExposure('::1', {}), undefined);
  assert.match(checkExposure('0.0.0.0', {}) ?? '', /--insecure/);
  assert.equal(checkExposure('0.0.0.0', { insecure: true }), undefined);
  assert.equal(checkExposure('10.0.0.5', { workerToken: 'W' }), undefined);
  assert.equal(isLoopbackHost('localhost'), true);
  assert.equal(isLoopbackHost('192.168.1.2'), false);
});
