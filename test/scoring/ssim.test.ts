import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ops, tidy, manualSeed } from '../../src/engine/index.js';
import { ssimMap, ssimPerImage, ssimWindowSize } from '../../src/scoring/ssim.js';

describe('SSIM maps', () => {
  it('keeps the window odd, so a same map has the image size for even sizes too', () => {
    assert.equal(ssimWindowSize(8, 8), 7);
    assert.equal(ssimWindowSize(10, 12), 9);
    assert.equal(ssimWindowSize(28, 28), 11);
    for (const side of [8, 9, 10, 16]) {
      tidy(() => {
        const m = ssimMap(ops.rand([2, 1, side, side]), ops.rand([2, 1, side, side]), { padding: 'same' });
        assert.deepEqual(m.shape, [2, 1, side, side], `${side}x${side}`);
      });
    }
  });

  it("equals the 'valid' map inside the image", () => {
    manualSeed(1);
    tidy(() => {
      const a = ops.rand([1, 1, 24, 24]), b = ops.rand([1, 1, 24, 24]);
      const same = ssimMap(a, b, { padding: 'same' }).toFloat32();
      const valid = ssimMap(a, b).toFloat32();
      // valid is 14x14: the same map's pixels 5..18 in each direction
      for (let y = 0; y < 14; y++) for (let x = 0; x < 14; x++) {
        assert.ok(Math.abs(same[(y + 5) * 24 + x + 5] - valid[y * 14 + x]) < 1e-5);
      }
    });
  });

  it('does not bias the border toward "similar": a defect at the edge scores as one in the middle', () => {
    manualSeed(2);
    tidy(() => {
      const a = ops.rand([1, 1, 32, 32]), b = ops.rand([1, 1, 32, 32]);
      const m = ssimMap(a, b, { padding: 'same' }).toFloat32();
      let border = 0, nb = 0, inner = 0, ni = 0;
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
        const edge = y < 5 || y >= 27 || x < 5 || x >= 27;
        if (edge) { border += m[y * 32 + x]; nb++; } else { inner += m[y * 32 + x]; ni++; }
      }
      // two unrelated noise images: SSIM near 0 everywhere; zero padding made the border 0.08-0.22 higher
      assert.ok(Math.abs(border / nb - inner / ni) < 0.05, `border ${border / nb} vs inner ${inner / ni}`);
    });
  });

  it('is 1 for identical images, border included', () => {
    tidy(() => {
      const a = ops.rand([2, 3, 16, 16]);
      const m = ssimMap(a, a, { padding: 'same' }).toFloat32();
      for (const v of m) assert.ok(Math.abs(v - 1) < 1e-4);
      for (const v of ssimPerImage(a, a).toFloat32()) assert.ok(Math.abs(v - 1) < 1e-4);
    });
  });
});
