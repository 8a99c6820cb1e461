// npm install hook: checks for libtorch first so a missing one fails with a list of fixes rather
// than a compiler error, then builds the addon with node-gyp.
//
// VIGIL_PREBUILT_ADDON=path/vigil_native.node skips the build and copies that addon in place (for
// CI and for installing the package again on a machine that has built it once); it must have
// been built against the libtorch it will load.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLibtorch, checkLibtorchVersion } from './find-libtorch.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const prebuilt = process.env.VIGIL_PREBUILT_ADDON;
if (prebuilt) {
  if (!existsSync(prebuilt)) {
    console.error(`vigil: VIGIL_PREBUILT_ADDON=${prebuilt}: no such file; unset it to build the addon`);
    process.exit(1);
  }
  mkdirSync(join(here, 'build', 'Release'), { recursive: true });
  copyFileSync(prebuilt, join(here, 'build', 'Release', 'vigil_native.node'));
  console.error(`vigil: using the prebuilt native engine ${prebuilt}`);
  process.exit(0);
}
try {
  const t = findLibtorch();
  const problem = checkLibtorchVersion(t.version);
  if (problem) throw new Error(problem);
  if (process.env.VIGIL_LIBTORCH_BYPASS_VERSION_CHECK === '1' && checkLibtorchVersion(t.version, {})) {
    console.error(`vigil: warning: libtorch ${t.version} is untested; building anyway (VIGIL_LIBTORCH_BYPASS_VERSION_CHECK=1)`);
  }
  console.error(`vigil: building the native engine against libtorch ${t.version} from ${t.source} (${t.lib})${t.cudaLibs.length ? ' with CUDA' : ''}`);
} catch (e) {
  console.error(e.message);
  process.exit(1);
}

function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
  ].filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  return found ? [process.execPath, found] : ['node-gyp'];
}

const [cmd, ...pre] = nodeGyp();
const jobs = process.env.JOBS ?? 'max';
// Node's own headers when they are installed beside it, so no download is needed
const prefix = join(dirname(process.execPath), '..');
const nodedir = process.env.npm_config_nodedir ?? (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
const args = [...pre, 'rebuild', `--jobs=${jobs}`, ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const r = spawnSync(cmd, args, { cwd: here, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('vigil: building the native engine failed (see above). Is a C++ compiler installed (apt-get install build-essential python3)?');
  process.exit(r.status ?? 1);
}
