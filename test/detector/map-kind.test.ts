import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mapKindFor } from '../../src/detector/fit.js';

describe('the error map of a model (one rule for evaluate, the report, the server and score --maps)', () => {
  it('is the error the combined score is, when it is one error alone', () => {
    assert.equal(mapKindFor('mse', ['ssim']), 'ssim', 'tiled boards: loss mse, scored by 1 - SSIM');
    assert.equal(mapKindFor('mse+ssim', ['ssim']), 'ssim', 'plates and cells');
    assert.equal(mapKindFor('mse+ssim', ['mse']), 'mse');
  });

  it('else follows the loss: SSIM where SSIM was trained on, MSE for an MSE loss', () => {
    assert.equal(mapKindFor('mse', ['ssim', 'density']), 'mse', 'digits keep their MSE maps');
    assert.equal(mapKindFor('mse+ssim', ['density']), 'ssim', 'forests: the density alone');
    assert.equal(mapKindFor('ssim', ['mse', 'ssim']), 'ssim');
    assert.equal(mapKindFor('mse', ['density', 'transform']), 'mse');
  });
});
