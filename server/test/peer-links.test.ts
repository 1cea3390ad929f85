import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PeerLinks } from '../src/transport/peer-links.js';

test('a worker that leaves names the peers it still had links with, by kind, and is forgotten by them', () => {
  const links = new PeerLinks();
  links.add('relay', 'a', 'gone');
  links.add('relay', 'b', 'gone');
  links.remove('relay', 'gone', 'b'); // the relay link to b was closed
  links.add('signal', 'gone', 'c');
  links.add('signal', 'a', 'c');
  assert.deepEqual(links.leave('gone'), { relay: ['a'], signal: ['c'] });
  assert.deepEqual(links.leave('gone'), { relay: [], signal: [] }, 'said once');
  assert.deepEqual(links.leave('c'), { relay: [], signal: ['a'] }, 'c no longer lists the worker that left');
});
