import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalErrorScale, reportFacts } from '../../src/scoring/report-facts.js';

test("the error colour scale is the quantiles of the validation maps' pixels, and the input path is kept absolute", () => {
  // 101 pixel errors 0, 0.01, ..., 1 spread over two maps
  const all = Float32Array.from({ length: 101 }, (_, i) => i / 100);
  const scale = normalErrorScale([all.slice(0, 40), all.slice(40)]);
  assert.equal(scale.map, 'mse');
  assert.equal(scale.images, 2);
  assert.ok(Math.abs(scale.q50 - 0.5) < 1e-6 && Math.abs(scale.q90 - 0.9) < 1e-6 && Math.abs(scale.q99 - 0.99) < 1e-6, JSON.stringify(scale));
  assert.equal(scale.max, 1);
  assert.deepEqual(normalErrorScale([]), { map: 'mse', q50: 0, q90: 0, q99: 1e-12, max: 0, images: 0 }, 'no validation image: a scale that still divides');
  assert.equal(reportFacts([all], '.').data, process.cwd());
  assert.equal(reportFacts([all], 'builtin:mnist').data, 'builtin:mnist');
  assert.equal(reportFacts([all], undefined).data, undefined);
});
