#!/usr/bin/env bash
# threads-sweep.sh - workload 8 (threads switching among cached windows)
# at 1 to 16 threads, three runs, with what the machine is, into one log:
# what ran on the 16-core machine for BENCHMARKS.md ("Threads on 16
# cores"). Speed is never asserted.
#
#   bench/threads-sweep.sh BENCH_BINARY [LOG] [THREADS]
#   bench/threads-sweep.sh build-bench/bench/smmap-bench /tmp/w8.txt 1,2,4,8,12,16
#
# A machine without the build tools gets a static binary built elsewhere:
#   cmake -S . -B build-static -DCMAKE_BUILD_TYPE=Release \
#         -DCMAKE_EXE_LINKER_FLAGS=-static && make -C build-static smmap-bench
set -uo pipefail

bench=${1:?path of smmap-bench}
log=${2:-/dev/stdout}
threads=${3:-1,2,4,8,12,16}
data=${SMMAP_BENCH_DIR:-/tmp/smmap-bench-data}
{
    echo "== machine"
    date -u
    uname -a
    nproc
    lscpu 2>&1 | grep -Ei 'model name|thread|core|socket|numa'
    cat /proc/loadavg
    for i in 1 2 3; do
        echo "== workload 8, run $i"
        timeout 100 "$bench" --workloads 8 --threads "$threads" --reps 9 \
            --dir "$data" --keep
        echo "rc=$?"
    done
    date -u
} 2>&1 | tee "$log"
