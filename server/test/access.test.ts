import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROTOCOL_VERSION, ReplyCode, TICKET_HEX_CHARS, encodeFrame, ticketValid } from '@meshwork/protocol';
import { Access, checkExposure, isLoopbackHost } from '../src/transport/access.js';
import { parseHello } from '../src/transport/hello.js';

test('roles: each token admits its role, the admin token every role, and nothing admits without one', () => {
  const a = new Access({ token: 'A', clientToken: 'C', workerToken: 'W' }, true);
  assert.deepEqual(a.admit('client', 'C'), { ok: true, admin: false });
  assert.deepEqual(a.admit('client', 'A'), { ok: true, admin: true });
  assert.deepEqual(a.admit('client', 'W'), { ok: false, admin: false });
  assert.deepEqual(a.admit('worker', 'W'), { ok: true, admin: false });
  assert.deepEqual(a.admit('worker', 'C'), { ok: false, admin: false });
  assert.deepEqual(a.admit('worker', undefined), { ok: false, admin: false });
  assert.ok(a.dataToken.length >= 32, 'a secured scheduler has a data secret');
  const onlyAdmin = new Access({ token: 'A' }, true);
  assert.equal(onlyAdmin.admit('worker', 'A').ok, true, 'alone, the admin token is the shared secret');
  assert.equal(onlyAdmin.admit('client', 'C').ok, false);
  const open = new Access({}, true);
  assert.deepEqual(open.admit('client', undefined), { ok: true, admin: true });
  assert.ok(open.dataToken.length >= 32, 'so does one without tokens: clients reach data links by ticket only');
  assert.notEqual(open.dataToken, a.dataToken, 'random per scheduler');
});

test("tickets: the scheduler's are the data secret's HMAC of purpose and key, which a data link checks; any other secret, purpose or key fails", () => {
  const a = new Access({}, true);
  const t = a.ticket('get', 'model-weights');
  assert.match(t, new RegExp(`^[0-9a-f]{${TICKET_HEX_CHARS}}$`));
  assert.equal(ticketValid(a.dataToken, 'get', 'model-weights', t), true);
  assert.equal(ticketValid(a.dataToken, 'put', 'model-weights', t), false, 'a get ticket is no put ticket');
  assert.equal(ticketValid(a.dataToken, 'get', 'model-weights2', t), false);
  assert.equal(ticketValid(new Access({}, true).dataToken, 'get', 'model-weights', t), false, "another scheduler's secret");
  assert.equal(ticketValid(a.dataToken, 'get', 'model-weights', undefined), false);
  assert.equal(ticketValid(a.dataToken, 'get', 'model-weights', t.slice(0, -1)), false);
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

test('a capability admits a non-admin client acting for the client it was issued to, until that client is forgotten', () => {
  const a = new Access({ token: 'A', clientToken: 'C', workerToken: 'W' }, true);
  const hello = (fields: Record<string, unknown>) =>
    parseHello(encodeFrame([{ type: 'hello', protocolVersion: PROTOCOL_VERSION, role: 'client', ...fields }]), a);
  const capability = a.capabilities.issue('client-1');
  assert.ok(Buffer.from(capability, 'base64url').byteLength >= 24, 'random enough');
  assert.notEqual(a.capabilities.issue('client-2'), capability, 'one per client');
  const ok = hello({ capability });
  assert.ok(ok.ok);
  assert.equal(ok.admin, false, 'no admin, whoever its client is');
  assert.equal(ok.parentClientId, 'client-1');
  for (const wrong of ['made-up', 'W', 'A', '']) {
    const refused = hello({ capability: wrong });
    assert.ok(!refused.ok && refused.code === ReplyCode.AUTH_FAILED, `capability ${JSON.stringify(wrong)}`);
  }
  assert.ok(!hello({ capability: 'made-up', token: 'A' }).ok, 'a token does not rescue a bad capability');
  a.capabilities.forget('client-1');
  assert.ok(!hello({ capability }).ok, 'it dies with its client');
  assert.equal(a.capabilities.of('client-1'), undefined);
  const open = new Access({}, true);
  const c = open.capabilities.issue('client-9');
  const onOpen = parseHello(encodeFrame([{ type: 'hello', protocolVersion: PROTOCOL_VERSION, role: 'client', capability: c }]), open);
  assert.ok(onOpen.ok && onOpen.admin && onOpen.parentClientId === 'client-9', 'an open scheduler makes every client an admin');
});
