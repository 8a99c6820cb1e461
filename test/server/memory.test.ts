/** memorySource: images in memory decode exactly as the same files do. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { memorySource } from '../../src/data/memory.js';
import { fileSource } from '../../src/data/folder.js';
import { batches } from '../../src/data/loader.js';
import { tempDir } from '../fixtures.js';
import { anomalousPng, normalPng } from './helpers.js';

test('memorySource gives the same tensors as a file source of the same bytes', async () => {
  const bufs = [await normalPng(3), await anomalousPng()];
  const dir = tempDir();
  const paths = bufs.map((b, i) => { const p = join(dir, `${i}.png`); writeFileSync(p, b); return p; });
  for (const pre of [{ height: 16, width: 16, channels: 1 as const, resize: 'stretch' as const }, { height: 12, width: 20, channels: 3 as const, resize: 'crop' as const }]) {
    const mem = memorySource(bufs, ['a', 'b']);
    const files = await fileSource('', paths.map((id) => ({ id })));
    for (let i = 0; i < 2; i++) assert.deepEqual(await mem.load(i, pre), await files.load(i, pre));
  }
});

test('a corrupt buffer is a CorruptImageError the loader skips; onError hears it instead of stderr', async () => {
  const failures: [number, string][] = [];
  const src = memorySource([await normalPng(1), Buffer.from('junk'), Buffer.alloc(0)], ['ok', 'junk', 'empty'], { onError: (i, r) => failures.push([i, r]) });
  assert.deepEqual(src.items.map((i) => i.id), ['ok', 'junk', 'empty']);
  const warnings: string[] = [];
  const got: string[] = [];
  for await (const b of batches(src, { preprocessing: { height: 8, width: 8, channels: 1, resize: 'stretch' }, batchSize: 4, onWarning: (m) => warnings.push(m) })) got.push(...b.items.map((i) => i.id));
  assert.deepEqual(got, ['ok']);
  assert.deepEqual(failures.map(([i]) => i).sort(), [1, 2]);
  assert.match(failures.find(([i]) => i === 2)![1], /empty/);
  assert.deepEqual(warnings, []);
  assert.throws(() => memorySource([Buffer.alloc(1)], ['a', 'b']), /1 buffers but 2 ids/);
});
