// Finds the libtorch to build against, the way tch-rs does: LIBTORCH (a folder with include/ and
// lib/, e.g. the torch folder of a PyTorch install), or LIBTORCH_INCLUDE + LIBTORCH_LIB, else a
// system install (Debian/Ubuntu libtorch-dev). Prints what node-gyp asks for:
//   node find-libtorch.mjs include|libdir|libs|abi|std|summary
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

const SYSTEM_CANDIDATES = [
  { include: '/usr/include', lib: '/usr/lib/x86_64-linux-gnu' },
  { include: '/usr/include', lib: '/usr/lib/aarch64-linux-gnu' },
  { include: '/usr/include', lib: '/usr/lib' },
  { include: '/usr/local/include', lib: '/usr/local/lib' },
];

function hasTorch(include, lib) {
  return existsSync(join(include, 'ATen', 'ATen.h')) && existsSync(join(include, 'torch', 'csrc', 'api', 'include', 'torch', 'version.h'))
    && readdirSync(lib).some((f) => /^libtorch_cpu\.(so|dylib)/.test(f) || /^libtorch\.(so|dylib)/.test(f));
}

export function findLibtorch(env = process.env) {
  let include, lib, source;
  if (env.LIBTORCH_INCLUDE || env.LIBTORCH_LIB) {
    include = env.LIBTORCH_INCLUDE ?? join(env.LIBTORCH ?? '', 'include');
    lib = env.LIBTORCH_LIB ?? join(env.LIBTORCH ?? '', 'lib');
    source = 'LIBTORCH_INCLUDE/LIBTORCH_LIB';
  } else if (env.LIBTORCH) {
    include = join(env.LIBTORCH, 'include');
    lib = join(env.LIBTORCH, 'lib');
    source = `LIBTORCH=${env.LIBTORCH}`;
  }
  if (include) {
    if (!existsSync(include) || !existsSync(lib) || !hasTorch(include, lib)) {
      throw new Error(`${source}: no libtorch there (looked for ${join(include, 'ATen/ATen.h')} and libtorch in ${lib}).\n` +
        'Point LIBTORCH at a folder with include/ and lib/, e.g. the output of\n' +
        "  python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))'");
    }
  } else {
    const hit = SYSTEM_CANDIDATES.find((c) => existsSync(c.lib) && hasTorch(c.include, c.lib));
    if (!hit) {
      throw new Error('vigil: libtorch not found.\n' +
        'Fix one of these:\n' +
        '  - Debian/Ubuntu: apt-get install libtorch-dev libopenblas0-pthread\n' +
        '  - or set LIBTORCH to a libtorch folder (with include/ and lib/), e.g. the torch folder of a PyTorch install:\n' +
        "      export LIBTORCH=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')\n" +
        '  - or set LIBTORCH_INCLUDE and LIBTORCH_LIB\n' +
        'then run npm install (or npm rebuild vigil-anomaly) again.');
    }
    ({ include, lib } = hit);
    source = 'system';
  }
  const files = readdirSync(lib);
  const libs = ['c10', 'torch_cpu', 'torch'].filter((n) => files.some((f) => f.startsWith(`lib${n}.`)));
  // CUDA support lives in separate libraries that nothing references directly: link them
  // unconditionally so their kernels register at load time.
  const cudaLibs = ['c10_cuda', 'torch_cuda'].filter((n) => files.some((f) => f.startsWith(`lib${n}.`)));
  return { include, lib, libs, cudaLibs, source, version: version(include), abi: detectAbi(lib, env), std: cxxStd(include, env) };
}

// The C++ standard to compile with: libtorch 1.13 and 2.x headers need C++17 and compile under it
// (checked up to PyTorch 2.11.0+cu130). VIGIL_CXX_STD overrides (e.g. c++20 or gnu++20) for a
// libtorch whose headers come to need more.
function cxxStd(include, env) {
  return env.VIGIL_CXX_STD || 'c++17';
}

// PyTorch wheels before 2.7 used the pre-C++11 std::string ABI; Debian's and newer wheels use the
// C++11 one. The library's own symbols tell which.
function detectAbi(lib, env) {
  if (env.LIBTORCH_CXX11_ABI === '0' || env.LIBTORCH_CXX11_ABI === '1') return env.LIBTORCH_CXX11_ABI;
  try {
    const syms = execFileSync('nm', ['-D', '--defined-only', join(lib, 'libc10.so')], { encoding: 'utf8', maxBuffer: 256 << 20 });
    return /__cxx11/.test(syms) ? '1' : '0';
  } catch {
    return '1';
  }
}

// The libtorch versions vigil is built and tested against (major.minor, inclusive): Debian's 1.13
// and PyTorch 2.x wheels up to 2.11. Outside the range the build stops, as tch-rs does, unless
// VIGIL_LIBTORCH_BYPASS_VERSION_CHECK=1 says to try anyway.
export const TESTED_LIBTORCH = { min: '1.13', max: '2.11' };

function minor(v) {
  const m = /^(\d+)\.(\d+)/.exec(v);
  return m ? Number(m[1]) * 1000 + Number(m[2]) : undefined;
}

/** undefined when `v` is in the tested range (or bypassed), else the message that explains. */
export function checkLibtorchVersion(v, env = process.env) {
  const n = minor(v);
  const inRange = n !== undefined && n >= minor(TESTED_LIBTORCH.min) && n <= minor(TESTED_LIBTORCH.max);
  if (inRange || env.VIGIL_LIBTORCH_BYPASS_VERSION_CHECK === '1') return undefined;
  return `vigil: libtorch ${v} is outside the versions vigil is tested with (${TESTED_LIBTORCH.min} to ${TESTED_LIBTORCH.max}).\n` +
    'Fix one of these:\n' +
    `  - point LIBTORCH at a libtorch from ${TESTED_LIBTORCH.min} to ${TESTED_LIBTORCH.max} (e.g. the torch folder of a matching PyTorch install)\n` +
    '  - or set VIGIL_LIBTORCH_BYPASS_VERSION_CHECK=1 to build against this one anyway';
}

// torch/version.h holds the version macros up to PyTorch 2.8 or so; later ones keep them in
// torch/headeronly/version.h, which torch/version.h includes.
export function version(include) {
  const files = [join(include, 'torch', 'csrc', 'api', 'include', 'torch', 'version.h'), join(include, 'torch', 'headeronly', 'version.h')];
  const text = files.filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8')).join('\n');
  const part = (name) => new RegExp(`TORCH_VERSION_${name}\\s+(\\d+)`).exec(text)?.[1];
  if (part('MAJOR') !== undefined && part('MINOR') !== undefined) {
    return [part('MAJOR'), part('MINOR'), part('PATCH')].filter((x) => x !== undefined).join('.');
  }
  return /TORCH_VERSION\s+"([^"]+)"/.exec(text)?.[1] ?? 'unknown';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const what = process.argv[2] ?? 'summary';
  try {
    const t = findLibtorch();
    const out = {
      include: `${t.include} ${join(t.include, 'torch', 'csrc', 'api', 'include')}`,
      libdir: t.lib,
      libs: [...t.libs.map((l) => `-l${l}`), ...(t.cudaLibs.length ? ['-Wl,--no-as-needed', ...t.cudaLibs.map((l) => `-l${l}`), '-Wl,--as-needed'] : [])].join(' '),
      abi: t.abi,
      std: t.std,
      summary: `libtorch ${t.version} from ${t.source} (${t.lib})${t.cudaLibs.length ? ', with CUDA' : ''}, C++ ABI ${t.abi}, -std=${t.std}`,
    }[what];
    if (out === undefined) throw new Error(`unknown query ${what}`);
    process.stdout.write(out + '\n');
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
