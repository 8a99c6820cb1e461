import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { idxSource } from '../../src/data/idx.js';
import { splitIndices, splitSource } from '../../src/data/split.js';

describe('splitIndices', () => {
  it('is deterministic per seed, disjoint, complete and sized by the fraction', () => {
    const a = splitIndices(1000, { fraction: 0.1, seed: 3 });
    assert.deepEqual(a, splitIndices(1000, { fraction: 0.1, seed: 3 }));
    assert.equal(a.val.length, 100);
    assert.equal(a.train.length, 900);
    const all = new Set([...a.train, ...a.val]);
    assert.equal(all.size, 1000, 'disjoint and complete');
    assert.deepEqual(a.val, [...a.val].sort((x, y) => x - y), 'sorted');
    assert.notDeepEqual(a.val, splitIndices(1000, { fraction: 0.1, seed: 4 }).val);
    assert.deepEqual(splitIndices(5, { fraction: 0 }), { train: [0, 1, 2, 3, 4], val: [] });
    assert.throws(() => splitIndices(5, { fraction: 1 }), /fraction/);
    assert.throws(() => splitIndices([1, 1], { fraction: 0.5 }), /duplicates/);
  });

  it('splits given indices and can stratify by class', () => {
    const s = splitIndices([10, 20, 30, 40], { fraction: 0.5, seed: 1 });
    assert.deepEqual([...s.train, ...s.val].sort((x, y) => x - y), [10, 20, 30, 40]);
    const labels = Uint8Array.from({ length: 100 }, (_, i) => (i < 90 ? 0 : 1));
    const src = idxSource(new Uint8Array(100), labels, { height: 1, width: 1 });
    const st = splitSource(src, { fraction: 0.2, seed: 0, stratify: true });
    assert.equal(st.val.filter((i) => i >= 90).length, 2, '20% of the 10 minority items');
    assert.equal(st.val.length, 20);
    assert.deepEqual(st, splitSource(src, { fraction: 0.2, seed: 0, stratify: true }));
  });
});
