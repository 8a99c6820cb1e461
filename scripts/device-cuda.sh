#!/usr/bin/env bash
# Runs on the GPU machine (PyTorch with CUDA in python3, a C++ compiler and make, no Node): unpacks
# the node that scripts/device-pack.sh put in .carry/, builds the native engine against the
# libtorch inside PyTorch's install, then runs the engine tests, a CUDA smoke test (the reference
# autoencoder's forward, backward and Adam steps on CUDA against the CPU, with the fused and the
# _foreach Adam), probes of per-op host overhead and of a training step's phases next to
# PyTorch's, and bench/engine on CUDA and CPU.
#
#   here:       bash scripts/device-pack.sh
#   device:     bash scripts/device-cuda.sh [STAGE...] 2>&1 | tee $OUT/all.log     (carry .carry and dist)
#   stages:     build test smoke micro infer ops prof bench benchcpu microcpu cxx20  (default: all but cxx20)
#   env:        BENCH_ARGS="--steps 200"  (more steps per timed epoch for bench/engine)
#               LIBTORCH=...              (default: the torch folder of python3's PyTorch)
#
# Logs go to $OUT (the device tool's output folder) or /tmp/vigil-out (at most 8 files).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-/tmp/vigil-out}
mkdir -p "$OUT"
STAGES=${*:-build test smoke micro infer ops prof bench benchcpu microcpu}
want() { [[ " $STAGES " == *" $1 "* ]]; }
say() { echo; echo "=== $* ($(date +%T))"; }
export PYTHONUNBUFFERED=1

# node from .carry, node-addon-api, LIBTORCH (and the data, when packed): scripts/device-env.sh
source scripts/device-env.sh
REF=$ROOT/.carry/torch_ae.py

say "machine"
node --version
python3 -c 'import torch;print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no gpu")'
g++ --version | head -1; make --version | head -1; nproc

# --- build -----------------------------------------------------------------------------------
if want build; then
  say "build against ${LIBTORCH:-the system libtorch}"
  (cd native && node find-libtorch.mjs summary)
  t0=$(date +%s)
  if ! JOBS=max node native/build.mjs > "$OUT/build.log" 2>&1; then
    tail -40 "$OUT/build.log"
    echo "node-gyp build failed; compiling directly with g++"
    mkdir -p native/build/Release
    (cd native && g++ -shared -fPIC -o build/Release/vigil_native.node src/addon.cc \
      -I"$NP/include/node" -I"$(node -p "require('node-addon-api').include_dir")" \
      $(node find-libtorch.mjs include | sed 's/^/-I/; s/ / -I/g') \
      -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -D_GLIBCXX_USE_CXX11_ABI=$(node find-libtorch.mjs abi) \
      -std=$(node find-libtorch.mjs std) -O2 -fexceptions -frtti -Wno-deprecated-declarations \
      -L"$(node find-libtorch.mjs libdir)" -Wl,-rpath,"$(node find-libtorch.mjs libdir)" $(node find-libtorch.mjs libs)) \
      2>&1 | tee -a "$OUT/build.log" | grep -E 'error' | head -30
  fi
  echo "build took $(( $(date +%s) - t0 )) s"
  ls -la native/build/Release/vigil_native.node || exit 1
  ldd native/build/Release/vigil_native.node | grep -E 'torch|c10|cuda' || true
fi

# --- tests -----------------------------------------------------------------------------------
if want test; then
  say "engine tests (CPU on this libtorch; then VIGIL_TEST_DEVICE=cuda where the tests support it)"
  node --test --test-concurrency=1 dist/test/engine/ > "$OUT/test-cpu.log" 2>&1
  grep -E '^# (tests|pass|fail)' "$OUT/test-cpu.log"; grep -E '^ *not ok' "$OUT/test-cpu.log" | head -20
  if grep -rqs VIGIL_TEST_DEVICE dist/test/engine; then
    VIGIL_TEST_DEVICE=cuda node --test --test-concurrency=1 dist/test/engine/ > "$OUT/test-cuda.log" 2>&1
    grep -E '^# (tests|pass|fail)' "$OUT/test-cuda.log"; grep -E '^ *not ok' "$OUT/test-cuda.log" | head -20
  else
    echo "(the engine tests have no VIGIL_TEST_DEVICE switch yet: CPU run only)"
  fi
fi

# --- CUDA smoke test -------------------------------------------------------------------------
cat > /tmp/vigil-smoke.mjs <<'JS'
import assert from 'node:assert/strict';
const root = process.argv[2];
const E = await import(`${root}/dist/src/engine/index.js`);
const { referenceAutoencoder } = await import(`${root}/dist/src/models/reference.js`);
const { ops, tidy, noGrad, Adam, manualSeed, liveTensors, engineInfo, cudaAvailable, synchronize } = E;
console.log('engine', JSON.stringify(engineInfo()), 'VIGIL_FUSED_ADAM', process.env.VIGIL_FUSED_ADAM ?? '(default)');
assert.ok(cudaAvailable(), 'no CUDA device visible to vigil');
const live0 = liveTensors();
let a32 = (n, seed) => { let s = seed >>> 0; return Float32Array.from({ length: n }, () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; }); };
const close = (a, b, atol, what) => {
  let worst = 0, at = -1;
  for (let i = 0; i < a.length; i++) { const d = Math.abs(a[i] - b[i]); if (!(d <= worst)) { worst = d; at = i; } }
  assert.ok(worst <= atol, `${what}: max |diff| ${worst} at ${at} > ${atol}`);
  return worst;
};
// 1. ops with int[]/SymInt[]/optional arguments, on CUDA, against the same ops on the CPU
const cases = {
  reshape: (x) => ops.reshape(x, [6, 12]), expand: (x) => ops.expand(ops.slice(x, 0, 0, 1), [3, 2, 3, 4]),
  permute: (x) => ops.contiguous(ops.permute(x, [3, 1, 0, 2])), sumDims: (x) => ops.sum(x, [1, 3], true),
  meanAll: (x) => ops.mean(x), pad: (x) => ops.pad(x, [1, 2, 0, 1]), slice: (x) => ops.slice(x, 2, 1, 3),
  upNearest: (x) => ops.upsampleNearest2d(x, [6, 8]), upBilinear: (x) => ops.upsampleBilinear2d(x, [5, 7]),
  maxPool: (x) => ops.maxPool2d(x, 2), avgPool: (x) => ops.avgPool2d(x, 2), cat: (x) => ops.cat([x, x], 1),
  indexSelect: (x) => ops.indexSelect(x, 3, ops.indices([3, 0, 2], x.device)), topk: (x) => ops.topk(ops.flatten(x), 5)[0],
  sort: (x) => ops.sort(x, -1, true)[0], logsumexp: (x) => ops.logsumexp(x, [2]), var: (x) => ops.variance(x, [0]),
  clamp: (x) => ops.clamp(x, 0.2, 0.7), where: (x) => ops.where(ops.gt(x, 0.5), x, ops.neg(x)),
  matmul: (x) => ops.matmul(ops.reshape(x, [18, 4]), ops.transpose(ops.reshape(x, [18, 4]), 0, 1)),
  conv: (x) => ops.conv2d(x, ops.reshape(ops.slice(ops.flatten(x), 0, 0, 54), [3, 2, 3, 3]), null, 1, 1),
};
const xc = a32(3 * 2 * 3 * 4, 7);
for (const [name, fn] of Object.entries(cases)) {
  tidy(() => {
    const cpu = fn(ops.tensor(xc, [3, 2, 3, 4]));
    const gpu = fn(ops.tensor(xc, [3, 2, 3, 4], { device: 'cuda' }));
    assert.ok(gpu.device.startsWith('cuda'), `${name}: result on ${gpu.device}`);
    assert.deepEqual(gpu.shape, cpu.shape, `${name}: shape`);
    close(gpu.toFloat32(), cpu.toFloat32(), 2e-3, name);
  });
}
console.log(`ops on cuda match the CPU: ${Object.keys(cases).length} cases`);
// 2. reference autoencoder: forward, backward, two Adam steps, eval forward
function run(device) {
  manualSeed(0);
  const m = referenceAutoencoder({ height: 28, width: 28, channels: 1 }).to(device);
  const opt = new Adam(m.parameters(), { lr: 1e-3 });
  const x = ops.tensor(a32(8 * 28 * 28, 11), [8, 1, 28, 28], { device });
  const r = tidy(() => {
    const y = m.forward(x);
    const loss = ops.mseLoss(y, x);
    const out = { y: y.toFloat32(), loss: loss.item() };
    loss.backward();
    out.grads = m.parameters().map((p) => p.grad.toFloat32());
    opt.step();
    out.p1 = m.parameters().map((p) => p.toFloat32());
    opt.zeroGrad();
    const l2 = ops.mseLoss(m.forward(x), x);
    l2.backward();
    opt.step();
    out.loss2 = l2.item();
    out.p2 = m.parameters().map((p) => p.toFloat32());
    m.eval();
    out.ev = noGrad(() => m.forward(x).toFloat32());
    return out;
  });
  synchronize();
  x.dispose(); opt.dispose(); m.dispose();
  return r;
}
const c = run('cpu'), g = run('cuda');
console.log(`loss cpu ${c.loss.toFixed(7)} cuda ${g.loss.toFixed(7)}; after a step cpu ${c.loss2.toFixed(7)} cuda ${g.loss2.toFixed(7)}`);
assert.ok(Math.abs(c.loss - g.loss) <= 1e-3 * Math.abs(c.loss) + 1e-6, 'loss differs');
assert.ok(Math.abs(c.loss2 - g.loss2) <= 2e-3 * Math.abs(c.loss2) + 1e-6, 'loss after a step differs');
const dy = close(g.y, c.y, 5e-3, 'forward output');
let worstRel = 0;
c.grads.forEach((gc, i) => {
  let num = 0, den = 0;
  for (let k = 0; k < gc.length; k++) { num += (gc[k] - g.grads[i][k]) ** 2; den += gc[k] ** 2; }
  const rel = Math.sqrt(num / Math.max(den, 1e-30));
  worstRel = Math.max(worstRel, rel);
  assert.ok(rel < 2e-2, `gradient of parameter ${i}: relative difference ${rel}`);
});
let worstP = 0;
for (const key of ['p1', 'p2']) c[key].forEach((pc, i) => { worstP = Math.max(worstP, close(g[key][i], pc, 4.5e-3, `${key} parameter ${i}`)); });
const dev = close(g.ev, c.ev, 5e-3, 'eval output');
console.log(`forward max diff ${dy.toExponential(2)}, worst gradient relative diff ${worstRel.toExponential(2)}, params after steps max diff ${worstP.toExponential(2)}, eval max diff ${dev.toExponential(2)}`);
assert.equal(liveTensors(), live0, 'smoke test leaked tensors');
console.log('cuda smoke test: ok');
JS
if want smoke; then
  say "CUDA smoke test (fused Adam, then the _foreach path)"
  node /tmp/vigil-smoke.mjs "$ROOT" 2>&1 | tee "$OUT/smoke.log"
  VIGIL_FUSED_ADAM=0 node /tmp/vigil-smoke.mjs "$ROOT" 2>&1 | tee -a "$OUT/smoke.log" | tail -3
fi

# --- per-op overhead and step anatomy, vigil vs PyTorch ----------------------------------------
cat > /tmp/vigil-micro.mjs <<'JS'
const [root, device] = process.argv.slice(2);
const E = await import(`${root}/dist/src/engine/index.js`);
const { referenceAutoencoder } = await import(`${root}/dist/src/models/reference.js`);
const { ops, tidy, Adam, manualSeed, synchronize } = E;
const now = () => Number(process.hrtime.bigint()) / 1e3;  // us
function perOp(name, fn, n = 20000) {
  for (let i = 0; i < 2000; i++) fn();
  synchronize();
  const t = now();
  for (let i = 0; i < n; i++) fn();
  const host = (now() - t) / n;
  synchronize();
  console.log(`vigil ${device} ${name.padEnd(28)} ${host.toFixed(2)} us/op host, ${((now() - t) / n).toFixed(2)} us/op with sync`);
}
const a = ops.rand([16], { device }), b = ops.rand([16], { device });
perOp('add(a,b)', () => ops.add(a, b).dispose());
perOp('mul(a,2.0)', () => ops.mul(a, 2).dispose());
perOp('reshape(a,[4,4])', () => ops.reshape(a, [4, 4]).dispose());
perOp('leaky_relu(a,0.2)', () => ops.leakyRelu(a, 0.2).dispose());
for (const [h, w, c, batch] of [[28, 28, 1, 64], [128, 128, 3, 16]]) {
  manualSeed(0);
  const m = referenceAutoencoder({ height: h, width: w, channels: c }).to(device);
  const opt = new Adam(m.parameters(), { lr: 1e-3 });
  const x = ops.rand([batch, c, h, w], { device });
  const step = () => tidy(() => { opt.zeroGrad(); const l = ops.mseLoss(m.forward(x), x); l.backward(); opt.step(); });
  for (let i = 0; i < 20; i++) step();
  synchronize();
  const n = 100;
  let t = now();
  for (let i = 0; i < n; i++) step();
  synchronize();
  const total = (now() - t) / n;
  let tf = 0, tb = 0, ts = 0, host = 0;
  for (let i = 0; i < n; i++) {
    tidy(() => {
      opt.zeroGrad();
      synchronize(); let t0 = now();
      const l = ops.mseLoss(m.forward(x), x);
      host += now() - t0; synchronize(); tf += now() - t0; t0 = now();
      l.backward(); synchronize(); tb += now() - t0; t0 = now();
      opt.step(); host += now() - t0; synchronize(); ts += now() - t0;
    });
  }
  console.log(`vigil ${device} ${h}x${w}x${c} b${batch}: step ${(total / 1e3).toFixed(3)} ms (${Math.round(batch * 1e6 / total)} img/s); synced phases: forward ${(tf / n / 1e3).toFixed(3)} backward ${(tb / n / 1e3).toFixed(3)} adam ${(ts / n / 1e3).toFixed(3)} ms; host time of forward+adam calls ${(host / n / 1e3).toFixed(3)} ms`);
  x.dispose(); opt.dispose(); m.dispose();
}
JS
cat > /tmp/vigil-micro.py <<'PY'
import sys, time, importlib.util, torch
ref, dev = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location('torch_ae', ref); mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
sync = torch.cuda.synchronize if dev == 'cuda' else (lambda: None)
def per_op(name, fn, n=20000):
    for _ in range(2000): fn()
    sync(); t = time.perf_counter()
    for _ in range(n): fn()
    host = (time.perf_counter() - t) / n * 1e6; sync()
    print(f"torch {dev} {name:<28} {host:.2f} us/op host, {(time.perf_counter() - t) / n * 1e6:.2f} us/op with sync")
a = torch.rand(16, device=dev); b = torch.rand(16, device=dev)
per_op('add(a,b)', lambda: torch.add(a, b))
per_op('mul(a,2.0)', lambda: torch.mul(a, 2.0))
per_op('reshape(a,[4,4])', lambda: torch.reshape(a, [4, 4]))
per_op('leaky_relu(a,0.2)', lambda: torch.nn.functional.leaky_relu(a, 0.2))
for h, w, c, batch in [(28, 28, 1, 64), (128, 128, 3, 16)]:
    torch.manual_seed(0)
    m = mod.build(h, w, c).to(dev); opt = torch.optim.Adam(m.parameters(), 1e-3)
    x = torch.rand(batch, c, h, w, device=dev)
    def step():
        opt.zero_grad(); l = ((m(x) - x) ** 2).mean(); l.backward(); opt.step()
    for _ in range(20): step()
    sync(); n = 100; t = time.perf_counter()
    for _ in range(n): step()
    sync(); total = (time.perf_counter() - t) / n * 1e6
    tf = tb = ts = host = 0.0
    for _ in range(n):
        opt.zero_grad(); sync(); t0 = time.perf_counter()
        l = ((m(x) - x) ** 2).mean(); host += time.perf_counter() - t0; sync(); tf += time.perf_counter() - t0; t0 = time.perf_counter()
        l.backward(); sync(); tb += time.perf_counter() - t0; t0 = time.perf_counter()
        opt.step(); host += time.perf_counter() - t0; sync(); ts += time.perf_counter() - t0
    print(f"torch {dev} {h}x{w}x{c} b{batch}: step {total / 1e3:.3f} ms ({round(batch * 1e6 / total)} img/s); synced phases: forward {tf / n * 1e3:.3f} backward {tb / n * 1e3:.3f} adam {ts / n * 1e3:.3f} ms; host time of forward+adam calls {host / n * 1e3:.3f} ms")
PY
if want micro; then
  say "per-op overhead and step anatomy (cuda)"
  node /tmp/vigil-micro.mjs "$ROOT" cuda 2>&1 | tee "$OUT/micro.log"
  VIGIL_FUSED_ADAM=0 node /tmp/vigil-micro.mjs "$ROOT" cuda 2>&1 | grep ' b[0-9]' | sed 's/^vigil/vigil(foreach adam)/' | tee -a "$OUT/micro.log"
  python3 /tmp/vigil-micro.py "$REF" cuda 2>&1 | tee -a "$OUT/micro.log"
fi
if want microcpu; then
  say "per-op overhead and step anatomy (cpu, $(nproc) threads)"
  timeout 150 node /tmp/vigil-micro.mjs "$ROOT" cpu 2>&1 | tee -a "$OUT/micro.log"
  timeout 150 python3 /tmp/vigil-micro.py "$REF" cpu 2>&1 | tee -a "$OUT/micro.log"
fi

# --- inference anatomy: many timed forwards, and per layer, vigil vs PyTorch -------------------
cat > /tmp/vigil-infer.mjs <<'JS'
const [root, device] = process.argv.slice(2);
const E = await import(`${root}/dist/src/engine/index.js`);
const { referenceAutoencoder } = await import(`${root}/dist/src/models/reference.js`);
const { ops, tidy, noGrad, manualSeed, synchronize } = E;
const now = () => Number(process.hrtime.bigint()) / 1e3;
for (const [h, w, c] of [[28, 28, 1], [128, 128, 3]]) {
  manualSeed(0);
  const m = referenceAutoencoder({ height: h, width: w, channels: c }).to(device).eval();
  const x = ops.rand([256, c, h, w], { device });
  noGrad(() => {
    for (let i = 0; i < 5; i++) tidy(() => { m.forward(x); });
    synchronize();
    const n = 50;
    let t = now();
    for (let i = 0; i < n; i++) tidy(() => { m.forward(x); });
    const host = (now() - t) / n;
    synchronize();
    const total = (now() - t) / n;
    let one = 0, oneHost = 0;
    for (let i = 0; i < n; i++) { synchronize(); const t0 = now(); tidy(() => { m.forward(x); }); oneHost += now() - t0; synchronize(); one += now() - t0; }
    const layers = [...m.encoder.layers, ...m.decoder.layers];
    const per = new Array(layers.length).fill(0);
    for (let i = 0; i < n; i++) tidy(() => {
      let hcur = x;
      layers.forEach((l, k) => { synchronize(); const t0 = now(); hcur = l.forward(hcur); synchronize(); per[k] += now() - t0; });
    });
    console.log(`vigil ${device} infer ${h}x${w}x${c} b256: ${(total / 1e3).toFixed(3)} ms/forward back to back (${Math.round(256e6 / total)} img/s, host ${(host / 1e3).toFixed(3)} ms); one synced forward ${(one / n / 1e3).toFixed(3)} ms (host ${(oneHost / n / 1e3).toFixed(3)})`);
    console.log(`  per layer (synced, us): ${layers.map((l, k) => `${l.constructor.name}=${(per[k] / n).toFixed(0)}`).join(' ')}`);
  });
  x.dispose(); m.dispose();
}
JS
cat > /tmp/vigil-infer.py <<'PY'
import sys, time, importlib.util, torch
ref, dev = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location('torch_ae', ref); mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
sync = torch.cuda.synchronize if dev == 'cuda' else (lambda: None)
for h, w, c in [(28, 28, 1), (128, 128, 3)]:
    torch.manual_seed(0)
    m = mod.build(h, w, c).to(dev).eval(); x = torch.rand(256, c, h, w, device=dev)
    hh, ww = (h + 3) // 4, (w + 3) // 4
    with torch.no_grad():
        for _ in range(5): m(x)
        sync(); n = 50; t = time.perf_counter()
        for _ in range(n): m(x)
        host = (time.perf_counter() - t) / n * 1e6; sync(); total = (time.perf_counter() - t) / n * 1e6
        one = one_host = 0.0
        for _ in range(n):
            sync(); t0 = time.perf_counter(); m(x); one_host += time.perf_counter() - t0; sync(); one += time.perf_counter() - t0
        layers = list(m.enc) + [lambda z: z.flatten(1), m.fc1, m.fc2, lambda z: z.view(-1, 64, hh, ww)] + list(m.dec)
        names = [type(l).__name__ if not callable(l) or hasattr(l, 'forward') else 'fn' for l in layers]
        per = [0.0] * len(layers)
        for _ in range(n):
            z = x
            for k, l in enumerate(layers):
                sync(); t0 = time.perf_counter(); z = l(z); sync(); per[k] += time.perf_counter() - t0
    print(f"torch {dev} infer {h}x{w}x{c} b256: {total / 1e3:.3f} ms/forward back to back ({round(256e6 / total)} img/s, host {host / 1e3:.3f} ms); one synced forward {one / n * 1e3:.3f} ms (host {one_host / n * 1e3:.3f})")
    print("  per layer (synced, us): " + " ".join(f"{nm}={p / n * 1e6:.0f}" for nm, p in zip(names, per)))
PY
if want infer; then
  say "inference anatomy (cuda)"
  node /tmp/vigil-infer.mjs "$ROOT" cuda 2>&1 | tee -a "$OUT/micro.log"
  python3 /tmp/vigil-infer.py "$REF" cuda 2>&1 | tee -a "$OUT/micro.log"
fi
if want cxx20; then
  say "the addon also compiles as C++20"
  if (cd native && g++ -fsyntax-only -std=c++20 src/addon.cc -I"$NP/include/node" -I"$(node -p "require('node-addon-api').include_dir")" \
    $(node find-libtorch.mjs include | sed 's/^/-I/; s/ / -I/g') -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS \
    -D_GLIBCXX_USE_CXX11_ABI=$(node find-libtorch.mjs abi) -Wno-deprecated-declarations) > /tmp/vigil-cxx20.log 2>&1; then
    echo "c++20: no errors"
  else
    grep -E 'error' /tmp/vigil-cxx20.log | head -5
  fi
fi

# --- host overhead per op (tiny shapes: launch-bound), vigil vs PyTorch, and a CPU profile ------
cat > /tmp/vigil-ops.mjs <<'JS'
const [root, device] = process.argv.slice(2);
const E = await import(`${root}/dist/src/engine/index.js`);
const { native } = await import(`${root}/dist/src/engine/binding.js`);
const { ops, tidy, noGrad, synchronize } = E;
const now = () => Number(process.hrtime.bigint()) / 1e3;
const x = ops.rand([1, 32, 14, 14], { device }), w = ops.rand([64, 32, 3, 3], { device }), b = ops.rand([64], { device });
const wt = ops.rand([32, 64, 3, 3], { device }), bt = ops.rand([64], { device });
const rm = ops.zeros([32], { device }), rv = ops.ones([32], { device }), g = ops.ones([32], { device }), be = ops.zeros([32], { device });
const lw = ops.rand([32, 6272], { device }), lb = ops.rand([32], { device }), flat = ops.rand([1, 6272], { device });
const cases = {
  conv2d: () => ops.conv2d(x, w, b, 2, 1),
  convTranspose2d: () => ops.convTranspose2d(x, wt, bt, 2, 1, 1),
  batchNormEval: () => ops.batchNorm(x, g, be, rm, rv, false),
  leakyRelu: () => ops.leakyRelu(x, 0.2),
  sigmoid: () => ops.sigmoid(x),
  linear: () => ops.linear(flat, lw, lb),
  flatten: () => ops.flatten(x, 1),
  reshape: () => ops.reshape(x, [1, 6272]),
};
const idConv = native.resolveOp('aten::conv2d', ''), idLeaky = native.resolveOp('aten::leaky_relu', ''), idFlat = native.resolveOp('aten::flatten', 'using_ints');
const raw = {
  'raw conv2d': () => native.dispose(native.call(idConv, [x.handle, w.handle, b.handle, [2, 2], [1, 1], [1, 1], 1])),
  'raw leakyRelu': () => native.dispose(native.call(idLeaky, [x.handle, 0.2])),
  'raw flatten': () => native.dispose(native.call(idFlat, [x.handle, 1, -1])),
  'shape()': () => native.shape(x.handle),
  'liveCount()': () => native.liveCount(),
};
noGrad(() => {
  for (const [name, fn] of Object.entries(cases)) {
    for (let i = 0; i < 500; i++) fn().dispose();
    synchronize();
    const n = 5000, t = now();
    for (let i = 0; i < n; i++) fn().dispose();
    const host = (now() - t) / n; synchronize();
    console.log(`vigil ${device} ${name.padEnd(18)} ${host.toFixed(2)} us host/op, ${((now() - t) / n).toFixed(2)} us/op`);
  }
  for (const [name, fn] of Object.entries(raw)) {
    for (let i = 0; i < 500; i++) fn();
    synchronize();
    const n = 5000, t = now();
    for (let i = 0; i < n; i++) fn();
    const host = (now() - t) / n; synchronize();
    console.log(`vigil ${device} ${name.padEnd(18)} ${host.toFixed(2)} us host/op, ${((now() - t) / n).toFixed(2)} us/op`);
  }
  // a sync's own cost
  const t = now(); for (let i = 0; i < 1000; i++) synchronize();
  console.log(`vigil ${device} synchronize()      ${((now() - t) / 1000).toFixed(2)} us`);
});
JS
cat > /tmp/vigil-ops.py <<'PY'
import sys, time, torch, torch.nn.functional as F
dev = sys.argv[1]
sync = torch.cuda.synchronize if dev == 'cuda' else (lambda: None)
r = lambda *s: torch.rand(*s, device=dev)
x, w, b = r(1, 32, 14, 14), r(64, 32, 3, 3), r(64)
wt, bt = r(32, 64, 3, 3), r(64)
rm, rv, g, be = torch.zeros(32, device=dev), torch.ones(32, device=dev), torch.ones(32, device=dev), torch.zeros(32, device=dev)
lw, lb, flat = r(32, 6272), r(32), r(1, 6272)
cases = {
  'conv2d': lambda: F.conv2d(x, w, b, 2, 1),
  'convTranspose2d': lambda: F.conv_transpose2d(x, wt, bt, 2, 1, 1),
  'batchNormEval': lambda: F.batch_norm(x, rm, rv, g, be, False),
  'leakyRelu': lambda: F.leaky_relu(x, 0.2),
  'sigmoid': lambda: torch.sigmoid(x),
  'linear': lambda: F.linear(flat, lw, lb),
  'flatten': lambda: x.flatten(1),
  'reshape': lambda: x.reshape(1, 6272),
}
with torch.no_grad():
    for name, fn in cases.items():
        for _ in range(500): fn()
        sync(); n = 5000; t = time.perf_counter()
        for _ in range(n): fn()
        host = (time.perf_counter() - t) / n * 1e6; sync()
        print(f"torch {dev} {name:<18} {host:.2f} us host/op, {(time.perf_counter() - t) / n * 1e6:.2f} us/op")
    t = time.perf_counter()
    for _ in range(1000): sync()
    print(f"torch {dev} synchronize()      {(time.perf_counter() - t) / 1000 * 1e6:.2f} us")
PY
cat > /tmp/vigil-prof.mjs <<'JS'
// node --cpu-prof --cpu-prof-dir=DIR: eval forwards of the 28x28 model at batch 256 (launch-bound)
const [root, device] = process.argv.slice(2);
const E = await import(`${root}/dist/src/engine/index.js`);
const { referenceAutoencoder } = await import(`${root}/dist/src/models/reference.js`);
const { ops, tidy, noGrad, manualSeed, synchronize } = E;
manualSeed(0);
const m = referenceAutoencoder({ height: 28, width: 28, channels: 1 }).to(device).eval();
const x = ops.rand([256, 1, 28, 28], { device });
noGrad(() => { for (let i = 0; i < 3000; i++) tidy(() => { m.forward(x); }); synchronize(); });
JS
cat > /tmp/vigil-prof-top.mjs <<'JS'
import { readFileSync, readdirSync } from 'node:fs';
const dir = process.argv[2];
const p = JSON.parse(readFileSync(`${dir}/${readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))}`, 'utf8'));
const dt = new Map(); const ids = new Map(p.nodes.map((n) => [n.id, n]));
p.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
const self = new Map();
for (const [id, t] of dt) { const n = ids.get(id); const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`; self.set(k, (self.get(k) ?? 0) + t); }
const total = [...self.values()].reduce((a, b) => a + b, 0);
console.log(`cpu profile: ${(total / 1e3).toFixed(0)} ms sampled; top self time:`);
[...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25).forEach(([k, t]) => console.log(`  ${(100 * t / total).toFixed(1).padStart(5)}%  ${k}`));
JS
if want ops; then
  say "host overhead per op, tiny shapes (cuda)"
  node /tmp/vigil-ops.mjs "$ROOT" cuda 2>&1 | tee -a "$OUT/micro.log"
  python3 /tmp/vigil-ops.py cuda 2>&1 | tee -a "$OUT/micro.log"
fi
if want prof; then
  say "CPU profile of 3000 eval forwards, 28x28 batch 256 (cuda)"
  rm -rf /tmp/vigil-prof && node --cpu-prof --cpu-prof-dir=/tmp/vigil-prof /tmp/vigil-prof.mjs "$ROOT" cuda && node /tmp/vigil-prof-top.mjs /tmp/vigil-prof 2>&1 | tee -a "$OUT/micro.log"
fi

# --- bench/engine ----------------------------------------------------------------------------
if want bench; then
  # BENCH_ARGS: more for bench/engine, e.g. "--steps 200" (its default of 20 steps an epoch times
  # only ~50 ms an epoch on an H100, which varies a lot from run to run)
  say "bench/engine --device cuda ${BENCH_ARGS:-}"
  node dist/bench/engine.js --device cuda --reference "$REF" ${BENCH_ARGS:-} 2>&1 | tee -a "$OUT/bench-cuda.log"
  say "bench/engine --device cuda ${BENCH_ARGS:-}, VIGIL_FUSED_ADAM=0"
  VIGIL_FUSED_ADAM=0 node dist/bench/engine.js --device cuda --reference "$REF" ${BENCH_ARGS:-} 2>&1 | tee -a "$OUT/bench-cuda.log"
fi
if want benchcpu; then
  say "bench/engine --device cpu"
  timeout 240 node dist/bench/engine.js --device cpu --reference "$REF" 2>&1 | tee -a "$OUT/bench-cpu.log"
fi
say "done"
