// The store contract, run against both implementations.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Store } from '../../src/store/index.ts';
import { makeStore } from '../support/idp.ts';

for (const kind of ['memory', 'redis'] as const) {
  describe(`store contract: ${kind}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await makeStore(kind);
    });
    afterEach(async () => {
      await store.close();
    });

    it('gets, sets, deletes and reports TTLs', async () => {
      assert.equal(await store.get('a'), null);
      assert.equal(await store.ttl('a'), -2);
      assert.equal(await store.set('a', '1'), true);
      assert.equal(await store.get('a'), '1');
      assert.equal(await store.ttl('a'), -1);
      await store.set('b', '2', { ttlMs: 60_000 });
      const ttl = await store.ttl('b');
      assert.ok(ttl > 55_000 && ttl <= 60_000, `ttl ${ttl}`);
      await store.del('a');
      assert.equal(await store.get('a'), null);
    });

    it('expires keys after their TTL', async () => {
      await store.set('short', 'x', { ttlMs: 40 });
      await sleep(80);
      assert.equal(await store.get('short'), null);
    });

    it('set onlyIfAbsent refuses an existing key; keepTtl keeps the TTL', async () => {
      assert.equal(await store.set('k', 'one', { onlyIfAbsent: true, ttlMs: 60_000 }), true);
      assert.equal(await store.set('k', 'two', { onlyIfAbsent: true }), false);
      assert.equal(await store.get('k'), 'one');
      await store.set('k', 'three', { keepTtl: true });
      assert.equal(await store.get('k'), 'three');
      assert.ok((await store.ttl('k')) > 0);
    });

    it('compareAndSet writes only over the expected value', async () => {
      await store.set('c', 'v1');
      assert.equal(await store.compareAndSet('c', 'v0', 'v2'), false);
      assert.equal(await store.compareAndSet('c', 'v1', 'v2'), true);
      assert.equal(await store.get('c'), 'v2');
      assert.equal(await store.compareAndSet('missing', 'x', 'y'), false);
    });

    it('increment is atomic under 50 parallel callers and keeps its first TTL', async () => {
      const values = await Promise.all(Array.from({ length: 50 }, () => store.increment('n', 60_000)));
      assert.deepEqual([...values].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
      const ttl = await store.ttl('n');
      assert.ok(ttl > 0 && ttl <= 60_000);
      // A later call with a longer window, or giving one back (by -1), keeps the first window.
      assert.equal(await store.increment('n', 3_600_000, -1), 49);
      const after = await store.ttl('n');
      assert.ok(after > 0 && after <= 60_000, `the window was moved: ${after} ms`);
      assert.equal(await store.increment('fresh', 1_000, -1), -1, 'a new counter starts at 0');
      const fresh = await store.ttl('fresh');
      assert.ok(fresh > 0 && fresh <= 1_000, 'and gets its window');
    });

    it('hashes, sets with growing TTL, and a prefix index', async () => {
      await store.hashSet('h', { a: '1' }, 60_000);
      await store.hashSet('h', { b: '2' });
      assert.deepEqual(await store.hashGetAll('h'), { a: '1', b: '2' });
      assert.ok((await store.ttl('h')) > 0, 'a later hashSet keeps the TTL');
      assert.equal(await store.hashGetAll('nope'), null);
      // hashUpdate writes only into a hash that exists, and keeps its TTL.
      assert.equal(await store.hashUpdate('h', { c: '3', a: '9' }), true);
      assert.deepEqual(await store.hashGetAll('h'), { a: '9', b: '2', c: '3' });
      assert.ok((await store.ttl('h')) > 0, 'hashUpdate keeps the TTL');
      assert.equal(await store.hashUpdate('gone', { c: '3' }), false);
      assert.equal(await store.hashGetAll('gone'), null, 'nothing was created');
      assert.equal(await store.ttl('gone'), -2);

      await store.setAdd('s', 'x', 1_000);
      await store.setAdd('s', 'y', 60_000);
      await store.setAdd('s', 'z', 10);
      assert.deepEqual((await store.setMembers('s')).sort(), ['x', 'y', 'z']);
      assert.ok((await store.ttl('s')) > 50_000);
      await store.setRemove('s', 'x');
      assert.deepEqual((await store.setMembers('s')).sort(), ['y', 'z']);

      for (const m of ['bob', 'alice', 'alicia', 'carol', 'al']) await store.indexAdd('i', m);
      assert.deepEqual(await store.indexRange('i', 'ali', 10), ['alice', 'alicia']);
      assert.deepEqual(await store.indexRange('i', 'a', 2), ['al', 'alice']);
      assert.deepEqual(await store.indexRange('i', 'a', 10, 'alice'), ['alicia']);
      await store.indexRemove('i', 'alice');
      assert.deepEqual(await store.indexRange('i', 'ali', 10), ['alicia']);
    });

    it('puts a record with its indexes: a string or a hash, each index given its member and a TTL at least the record\'s', async () => {
      await store.setAdd('ix1', 'older', 1_000);
      await store.setAdd('ix2', 'kept', 600_000);
      await store.putIndexed({ key: 'rec', value: 'v1' }, 60_000, [{ key: 'ix1', member: 'rec' }, { key: 'ix2', member: 'other' }]);
      assert.equal(await store.get('rec'), 'v1');
      const ttl = await store.ttl('rec');
      assert.ok(ttl > 50_000 && ttl <= 60_000, `the record's TTL: ${ttl}`);
      assert.deepEqual((await store.setMembers('ix1')).sort(), ['older', 'rec']);
      assert.deepEqual((await store.setMembers('ix2')).sort(), ['kept', 'other']);
      assert.ok((await store.ttl('ix1')) > 50_000, 'a shorter index TTL is raised to the record\'s');
      assert.ok((await store.ttl('ix2')) > 500_000, 'a longer one is kept');

      await store.putIndexed({ key: 'hrec', fields: { payload: 'p', n: '1' } }, 30_000, [{ key: 'ix3', member: 'hrec' }]);
      assert.deepEqual(await store.hashGetAll('hrec'), { payload: 'p', n: '1' });
      assert.ok((await store.ttl('hrec')) > 20_000);
      assert.deepEqual(await store.setMembers('ix3'), ['hrec']);
      // As hashSet: fields of the hash already there are kept (a consumed marker stays).
      await store.hashUpdate('hrec', { consumed: '1' });
      await store.putIndexed({ key: 'hrec', fields: { payload: 'q' } }, 30_000, []);
      assert.deepEqual(await store.hashGetAll('hrec'), { payload: 'q', n: '1', consumed: '1' });

      await store.putIndexed({ key: 'alone', value: 'x' }, 5_000, []);
      assert.equal(await store.get('alone'), 'x');
      assert.ok((await store.ttl('alone')) <= 5_000);
    });

    it('streams are capped and read newest first', async () => {
      for (let i = 0; i < 30; i++) await store.streamAdd('st', { n: String(i) }, 10);
      const newest = await store.streamRange('st', 5);
      assert.deepEqual(newest.map((e) => e.fields.n), ['29', '28', '27', '26', '25']);
      const older = await store.streamRange('st', 5, newest[4]!.id);
      assert.deepEqual(older.map((e) => e.fields.n), ['24', '23', '22', '21', '20']);
      assert.equal((await store.streamRange('st', 100)).length, 10);
    });

    it('ping answers', async () => {
      await store.ping();
    });
  });
}
