#!/usr/bin/env bash
# The long run of the model test (issue 3, item 1: "a longer soak is one
# command"): random seeds for SECONDS (default 600) against the reference
# model, starting at FIRST_SEED (default: derived from the clock, printed so
# a failure can be replayed with test_model --replay-seed), then the thread
# test with ten times its CI iterations.
#
# Usage: scripts/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${SECONDS_TO_RUN:-600}}
first=${FIRST_SEED:-$(( $(date +%s) % 1000000 * 1000 ))}
jobs=${JOBS:-$(nproc)}
dir=build-soak
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMMAP_BUILD_BENCH=OFF >/dev/null
cmake --build "$dir" -j "$jobs" --target test_model test_threads >/dev/null
echo "soak: model for $seconds s from seed $first"
rc=0
"$dir/tests/model/test_model" --seconds "$seconds" --first-seed "$first" --ops 1000 || rc=1
"$dir/tests/threads/test_threads" --iterations 200000 --timeout 1200 || rc=1
[ "$rc" = 0 ] && echo "soak: 2 passed, 0 failed" || echo "soak: failures above"
exit "$rc"
