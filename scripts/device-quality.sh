#!/usr/bin/env bash
# The full quality benchmark (docs/BENCHMARKS.md) on the GPU machine of the device tool, whose
# calls end after 10 minutes while the run takes longer: the first call starts bench/quality in
# the background, later calls (made before the machine is given back) wait for it; every call
# copies what there is so far to $OUT.
#
#   here:    bash scripts/device-pack.sh --data       (node, node-addon-api, the IDX files -> .carry)
#   device:  bash scripts/device-quality.sh start      (carry ".carry/node.xz", ".carry/data",
#                                                       ".carry/cuda", ".carry/torch_oneclass.py" and
#                                                       "dist": the whole .carry with the data is just
#                                                       over 64 MiB; .carry/cuda/vigil_native.node is
#                                                       an addon built on an earlier call, else carry
#                                                       .carry/node-prefix.tar.xz and
#                                                       .carry/node-addon-api to build it)
#            bash scripts/device-quality.sh wait       (the next calls, until it says "finished")
#   env:     QUALITY_ARGS (default: the full protocol, default and best, PyTorch alongside, no malaria)
#            WAIT_S (default 540: how long one call waits)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/vigil-out}
RUN=/tmp/vigil-quality
mkdir -p "$OUT" "$RUN"
source scripts/device-env.sh
[ -f native/build/Release/vigil_native.node ] || JOBS=max node native/build.mjs > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }

case "${1:-wait}" in
  start)
    if [ -f "$RUN/pid" ] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then echo "already running (pid $(cat "$RUN/pid"))"; else
      ARGS=${QUALITY_ARGS:---device cuda --jobs 15 --torch-parallel --no-malaria --torch .carry/torch_oneclass.py}
      echo "starting: node dist/bench/quality.js $ARGS --json $RUN/quality.json"
      # setsid: its own session, so that the end of this device call does not take the run with it
      VIGIL_THREADS=1 setsid nohup node dist/bench/quality.js $ARGS --json "$RUN/quality.json" > "$RUN/quality.md" 2> "$RUN/quality.err" &
      echo $! > "$RUN/pid"
    fi ;;
  wait) ;;
  *) echo "usage: device-quality.sh start|wait" >&2; exit 2 ;;
esac

deadline=$(( $(date +%s) + ${WAIT_S:-540} ))
while kill -0 "$(cat "$RUN/pid" 2>/dev/null || echo 0)" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 10; done
cp "$RUN"/quality.* "$OUT/" 2>/dev/null
if kill -0 "$(cat "$RUN/pid" 2>/dev/null || echo 0)" 2>/dev/null; then
  echo "still running: $(grep -c ' seed ' "$RUN/quality.err" 2>/dev/null || echo 0) runs done; call again with 'wait'"
  tail -3 "$RUN/quality.err"
else
  echo "finished"
  grep -E '^\| \*\*vigil|^wall time' "$RUN/quality.md"
fi
