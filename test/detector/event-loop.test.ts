// Long native work leaves the event loop free: timers fire during fit and score, and an
// AbortSignal stops either one between steps, cleanly, without leaking tensors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Detector } from '../../src/detector.js';
import { builtinSource, oneClassSource } from '../../src/data/builtin.js';
import { liveTensors } from '../../src/engine/index.js';
import { TINY } from '../fixtures.js';

/** Runs `work` while a 10 ms interval counts its ticks. */
async function ticksDuring<T>(work: () => Promise<T>): Promise<{ ticks: number; ms: number; result: T }> {
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 10);
  const t0 = performance.now();
  try {
    const result = await work();
    return { ticks, ms: performance.now() - t0, result };
  } finally {
    clearInterval(timer);
  }
}

// in-memory data: its batches come through promises only, the case that used to starve timers
const train = () => oneClassSource('mnist', 'train', 1, { limit: 400, seed: 0 });
const testSet = () => builtinSource('mnist', 'test', { normal: [1], limit: 640, seed: 3 });
const OPTS = { ...TINY, epochs: 2, batchSize: 16 };

/**
 * The interval can tick once per turn of the event loop, so at most once a step when a step
 * takes longer than 10 ms (a loaded machine); ask for a third of what an always-free loop gives.
 */
function enoughTicks(ticks: number, ms: number, steps: number): boolean {
  return ticks >= Math.min(steps, ms / 10) / 3;
}

test('a 10 ms timer keeps firing during fit and during score', async () => {
  const fit = await ticksDuring(() => Detector.fit(train(), OPTS));
  const det = fit.result;
  const steps = 2 * Math.ceil(det.training!.items / 16);
  assert.ok(fit.ticks >= 10 && enoughTicks(fit.ticks, fit.ms, steps), `fit: ${fit.ticks} ticks in ${fit.ms.toFixed(0)} ms, ${steps} training steps`);
  const score = await ticksDuring(() => det.score(testSet(), { batchSize: 32 }));
  assert.equal(score.result.length, 640);
  assert.ok(score.ticks >= 5 && enoughTicks(score.ticks, score.ms, 640 / 32), `score: ${score.ticks} ticks in ${score.ms.toFixed(0)} ms`);
  det.dispose();
});

test('an AbortSignal stops fit and score between steps with an AbortError, and nothing leaks', async () => {
  const det = await Detector.fit(train(), { ...OPTS, epochs: 1 });
  const before = liveTensors();
  const fitting = new AbortController();
  setTimeout(() => fitting.abort(), 100);
  const start = performance.now();
  await assert.rejects(Detector.fit(train(), { ...OPTS, epochs: 50, signal: fitting.signal }), { name: 'AbortError' });
  assert.ok(performance.now() - start < 20_000, 'stopped long before 50 epochs');
  assert.ok(liveTensors() <= before + 1, `fit leaked ${liveTensors() - before} tensors`);

  const scoring = new AbortController();
  let batches = 0;
  const r = det.score(testSet(), { batchSize: 32, signal: scoring.signal, onProgress: (done) => { batches = done; if (done === 3) scoring.abort(); } });
  await assert.rejects(r, { name: 'AbortError' });
  assert.equal(batches, 3, 'stopped after the batch that aborted');
  await assert.rejects(det.score(testSet(), { signal: AbortSignal.abort() }), { name: 'AbortError' });

  // leaving a stream early frees it as well
  let n = 0;
  for await (const _ of det.scoreStream(testSet(), { batchSize: 32 })) if (++n === 100) break;
  assert.equal(n, 100);
  assert.ok(liveTensors() <= before + 1, `score leaked ${liveTensors() - before} tensors`);
  det.dispose();
});
