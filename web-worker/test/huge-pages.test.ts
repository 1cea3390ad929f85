import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MEMORY_TUNABLES, hugePagesEnv } from '../src/node/huge-pages.js';

const ALL = MEMORY_TUNABLES.join(':');

test('hugePagesEnv sets the memory tunables, or appends them to GLIBC_TUNABLES, in a new object', () => {
  assert.ok(ALL.startsWith('glibc.malloc.hugetlb=1:'));
  const env = { PATH: '/bin' };
  assert.deepEqual(
    hugePagesEnv(env, () => true),
    { PATH: '/bin', GLIBC_TUNABLES: ALL },
  );
  assert.deepEqual(env, { PATH: '/bin' }, 'the given environment is left as it was');
  assert.equal(
    hugePagesEnv({ GLIBC_TUNABLES: 'glibc.malloc.tcache_count=7' }, () => true)?.GLIBC_TUNABLES,
    `glibc.malloc.tcache_count=7:${ALL}`,
  );
  assert.equal(hugePagesEnv({ GLIBC_TUNABLES: ' ' }, () => true)?.GLIBC_TUNABLES, ALL);
});

test('a tunable already named keeps its value; nothing changes when all are named, when opted out, or off Linux with glibc', () => {
  const rest = MEMORY_TUNABLES.slice(1).join(':');
  assert.equal(
    hugePagesEnv({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }, () => true)?.GLIBC_TUNABLES,
    `glibc.malloc.hugetlb=0:${rest}`,
  );
  assert.equal(
    hugePagesEnv({ GLIBC_TUNABLES: `glibc.malloc.tcache_count=7:${ALL}` }, () => true),
    undefined,
  );
  for (const off of ['0', 'off', 'FALSE', 'no'])
    assert.equal(
      hugePagesEnv({ MESHWORK_HUGE_PAGES: off }, () => true),
      undefined,
    );
  assert.ok(hugePagesEnv({ MESHWORK_HUGE_PAGES: '1' }, () => true));
  assert.equal(
    hugePagesEnv({}, () => false),
    undefined,
  );
});

test('the platform is asked only when a tunable is missing: a process started with all of them never pays for the report', () => {
  let asked = 0;
  const probe = (): boolean => (asked++, true);
  assert.equal(hugePagesEnv({ GLIBC_TUNABLES: ALL }, probe), undefined);
  assert.equal(hugePagesEnv({ MESHWORK_HUGE_PAGES: 'off' }, probe), undefined);
  assert.equal(asked, 0);
  assert.deepEqual(hugePagesEnv({}, probe), { GLIBC_TUNABLES: ALL });
  assert.equal(asked, 1);
  assert.equal(
    hugePagesEnv({}, () => false),
    undefined,
  );
});
