/** The service's models live in worker threads: forwards never block the event loop, and a dead worker is replaced. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Detector } from '../../src/detector.js';
import { ModelHost, isFailure } from '../../src/server/model-host.js';
import { ModelRegistry } from '../../src/server/models.js';
import { tempDir } from '../fixtures.js';
import { normalPng, tinyModel, writeNormals } from './helpers.js';

test('a forward pass runs in the model worker: the event loop keeps ticking through batches that take hundreds of ms', async () => {
  // a model heavy enough that one batch is long (128 px, wide filters), trained for one epoch only
  const root = tempDir('vigil-heavy-');
  const det = await Detector.fit(await writeNormals(join(root, 'normal'), 8), {
    size: 128, channels: 1, epochs: 1, batchSize: 8, architecture: { filters: [32, 64, 128], latent: 32 }, device: 'cpu', seed: 1, segmenter: false,
  });
  det.save(join(root, 'm'));
  det.dispose();
  const host = await ModelHost.start({ dir: join(root, 'm'), device: 'cpu', threads: 1 });
  try {
    const png = await normalPng(3, 128);
    let last = performance.now();
    let worst = 0;
    const timer = setInterval(() => { const now = performance.now(); worst = Math.max(worst, now - last); last = now; }, 5);
    const t0 = performance.now();
    const batches = 3;
    for (let b = 0; b < batches; b++) {
      const out = await host.score(Array.from({ length: 16 }, () => ({ bytes: png, map: true })));
      assert.equal(out.length, 16);
      for (const o of out) assert.ok(!isFailure(o) && Number.isFinite(o.score) && o.map!.length === 128 * 128);
    }
    const elapsed = performance.now() - t0;
    clearInterval(timer);
    process.stderr.write(`# ${batches} batches of 16 at 128 px in ${elapsed.toFixed(0)} ms; longest timer gap ${worst.toFixed(0)} ms\n`);
    // on the JS thread each batch (a third of the time) would stall the timer for its whole length
    assert.ok(worst < elapsed / batches / 2, `the event loop stalled ${worst.toFixed(0)} ms during batches of ${(elapsed / batches).toFixed(0)} ms`);
  } finally {
    host.dispose();
  }
});

test('a model whose worker dies stops serving, is reloaded from its folder, and serves again', async () => {
  const dir = await tinyModel(tempDir('vigil-crash-'));
  const models = new ModelRegistry([{ name: 'tiny', dir }], { device: 'cpu', threads: 1 });
  try {
    await models.loadAll();
    const entry = models.get('tiny')!;
    const first = entry.current!;
    const png = await normalPng(5);
    const before = await first.host.score([{ bytes: png, map: false }]);
    // a native crash or an out-of-memory kill looks like this from the main thread
    await (first.host as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    assert.equal(first.host.alive, false);
    await assert.rejects(first.host.score([{ bytes: png, map: false }]), /its worker exited/);
    assert.ok(!entry.current || entry.current !== first, 'the dead version no longer serves');
    for (let i = 0; i < 100 && !(entry.current && entry.current !== first); i++) await new Promise((r) => setTimeout(r, 50));
    const next = entry.current!;
    assert.ok(next && next !== first && next.version > first.version, 'a new version was loaded');
    assert.equal(entry.error, undefined);
    const after = await next.host.score([{ bytes: png, map: false }]);
    assert.deepEqual(after, before, 'the reloaded model scores as before');
  } finally {
    models.dispose();
  }
});

test('a model folder that does not load is an error naming it', async () => {
  await assert.rejects(ModelHost.start({ dir: '/nonexistent/model', device: 'cpu' }), /\/nonexistent\/model/);
});
