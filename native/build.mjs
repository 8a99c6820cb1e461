// npm install hook: checks for libtorch first so a missing one fails with a list of fixes rather
// than a compiler error, then builds the addon with node-gyp.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLibtorch } from './find-libtorch.mjs';

const here = dirname(fileURLToPath(import.meta.url));
try {
  const t = findLibtorch();
  console.error(`vigil: building the native engine against libtorch from ${t.source} (${t.lib})${t.cudaLibs.length ? ' with CUDA' : ''}`);
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
