#!/usr/bin/env bash
# bench/real on a GPU machine (PyTorch with CUDA in python3, no Node, no sharp, no data), in three
# device calls, since node, sharp and the four sets do not fit in one call's 64 MiB:
#
#   here:    bash scripts/device-real.sh pack        # .carry-gpu/a: node, addon, sharp, boards; b: plates; c: scenes, cells
#   call 1:  carry [".carry-gpu/a", "dist"]:  bash scripts/device-real.sh run pcb [bench/real options]
#   call 2:  carry [".carry-gpu/b"], at once (the machine stays warm 30 s): bash scripts/device-real.sh run mpdd [...]
#   call 3:  carry [".carry-gpu/c"], at once: bash scripts/device-real.sh run intel,malaria [...]
#
# Without a CUDA addon in .carry/cuda, call 1 builds one first (carry .carry, dist and a part):
#   bash scripts/device-cuda.sh build > $OUT/build.txt 2>&1; cp native/build/Release/vigil_native.node $OUT/;
#   mkdir -p /tmp/vigil-addon && cp native/build/Release/vigil_native.node /tmp/vigil-addon/ && bash scripts/device-real.sh run intel ...
# then keep the returned addon in .carry/cuda for later sessions.
# The images travel as they are. What a call unpacks stays in /tmp while the machine is warm, so a
# later call needs only its own data. The addon is the CUDA build of an earlier call
# (scripts/device-cuda.sh build; .carry/cuda/vigil_native.node).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
A=$ROOT/.carry-gpu/a
B=$ROOT/.carry-gpu/b
C=$ROOT/.carry-gpu/c

if [ "${1:-}" = "pack" ]; then
  set -e
  rm -rf .carry-gpu && mkdir -p "$A/data/deeppcb" "$B/data/mpdd" "$C/data"
  [ -f .carry/node.xz ] || bash scripts/device-pack.sh
  cp .carry/node.xz "$A/"
  [ -f .carry/cuda/vigil_native.node ] || { echo "no CUDA addon in .carry/cuda: build one with scripts/device-cuda.sh build and copy it from the call's output" >&2; exit 1; }
  cp .carry/cuda/vigil_native.node "$A/"
  tar -C node_modules -cf - sharp @img detect-libc semver | xz -T0 -6 > "$A/sharp.tar.xz"
  npx tsc -p . >/dev/null
  data=${DATA:-../shared/data}
  cp -r "$data/deeppcb/pcb" "$A/data/deeppcb/"
  cp -r "$data/mpdd/metal_plate" "$B/data/mpdd/"
  cp -r "$data/intel_scenes" "$data/malaria" "$C/data/"
  du -sh "$A" "$B" "$C" dist
  exit 0
fi

[ "${1:-}" = "run" ] || { echo "usage: $0 pack | run SETS [bench/real options]" >&2; exit 2; }
sets=$2; shift 2
OUT=${OUT:-/tmp/vigil-out}
mkdir -p "$OUT"
NP=/tmp/vigil-node
DATA=/tmp/vigil-real-data
if [ ! -x "$NP/bin/node" ]; then
  mkdir -p "$NP/bin" && xz -dc "$A/node.xz" > "$NP/bin/node" && chmod +x "$NP/bin/node"
fi
export PATH=$NP/bin:$PATH
mkdir -p native/build/Release node_modules "$DATA"
[ -f native/build/Release/vigil_native.node ] || cp /tmp/vigil-addon/vigil_native.node native/build/Release/ 2>/dev/null || cp "$A/vigil_native.node" native/build/Release/
mkdir -p /tmp/vigil-addon && cp -n native/build/Release/vigil_native.node /tmp/vigil-addon/ 2>/dev/null
if [ ! -d node_modules/@img ]; then
  if [ -f "$A/sharp.tar.xz" ]; then tar -C node_modules -xJf "$A/sharp.tar.xz" && cp "$A/sharp.tar.xz" /tmp/
  else tar -C node_modules -xJf /tmp/sharp.tar.xz; fi
fi
# this call's data joins what earlier calls brought (any .carry-gpu/*/data a call carries: a set
# can also travel alone, e.g. .carry-gpu/d/data/deeppcb/pcb when a holds other data)
for part in "$ROOT"/.carry-gpu/*/; do
  [ -d "$part/data" ] && cp -a "$part/data/." "$DATA/"
done
ls "$DATA"
[ -d dist ] || cp -a /tmp/vigil-dist dist
[ -d /tmp/vigil-dist ] || cp -a dist /tmp/vigil-dist
node -e "import('./dist/src/engine/index.js').then(m => console.log(JSON.stringify(m.engineInfo())))"
nvidia-smi --query-gpu=name,memory.used --format=csv,noheader
node dist/bench/real.js --data "$DATA" --sets "$sets" --device cuda "$@" 2>&1 | tee "$OUT/real-${sets//,/-}.log"
