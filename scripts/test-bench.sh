#!/usr/bin/env bash
# test-bench.sh - builds the benchmarks from a clean tree (gcc and clang, the
# top-level CMakeLists with -Werror) into build-test-bench-<cc>/ and checks
# what can be checked without timing anything on a shared, noisy machine:
#   - `smmap-bench --quick` runs every workload (< 30 s) and prints every table,
#     the workloads in their order; the exact facts it prints: a static or
#     one-window manager maps nothing during the timed runs (maps/op 0.000,
#     regions 1), the scaling workload had exactly N regions live (the bench
#     itself fails otherwise), the memory table found 2.00 copies of the path
#     per file; labels say what ran (quick mode's windows of a sixteenth of the
#     64 MiB file read "sliding 4 MiB", in the rows and in the target); nothing
#     printed refers to an issue; stdout is line-buffered in a pipe;
#   - options: every malformed value is a usage error (exit 2, a message on
#     stderr naming the program from argv[0], nothing on stdout); a failure
#     of the system exits 1; --workloads runs only the workloads named;
#     --threads sets workload 8's thread counts;
#   - bench/ names nothing of the command-line tool (the tool calls
#     smmap_bench_main, not the other way round);
#   - bench/check-hitpath.sh: no lock-prefixed/atomic instruction and no call on
#     smmap_cursor_at's hit path (objdump), only hit_loop runs inside the loop
#     (callgrind);
#   - bench/plot.py turns the CSV into two well-formed SVG files;
#   - smmap-switch-probe runs and prints its table.
# Speed is never asserted. Last line: "N passed, N failed".
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
missing=()
for tool in cmake gcc clang objdump valgrind callgrind_annotate; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
[ -x /usr/bin/python3 ] || missing+=(python3)
if ((${#missing[@]})); then
    echo "missing: ${missing[*]}; install with:" >&2
    echo "  apt-get install -y cmake gcc clang binutils valgrind python3" >&2
    exit 1
fi

passed=0
failed=0
check() { # name, command...
    local name=$1
    shift
    if "$@"; then
        echo "PASS: $name"
        passed=$((passed + 1))
    else
        echo "FAIL: $name"
        failed=$((failed + 1))
    fi
}

for cc in gcc clang; do
    build=$root/build-test-bench-$cc
    rm -rf "$build"
    echo "== $cc: configure and build ($build)"
    check "$cc: build smmap-bench, smmap-bench-hitpath and the probes" \
        bash -c "cmake -S '$root' -B '$build' -DCMAKE_C_COMPILER=$cc -DSMMAP_BUILD_TESTS=OFF >/dev/null &&
                 cmake --build '$build' --target smmap-bench smmap-bench-hitpath \
                     smmap-reuse-probe smmap-switch-probe -j 2 >/dev/null"
done

build=$root/build-test-bench-gcc
bench=$build/bench/smmap-bench
out=$build/quick.txt
csv=$build/csv
data=$build/data # generated once, reused by the runs after the first
echo "== smmap-bench --quick"
start=$(date +%s)
check "smmap-bench --quick exits 0" \
    bash -c "'$bench' --quick --csv '$csv' --dir '$data' --keep > '$out' 2>&1"
echo "   ($(($(date +%s) - start)) s)"
cat "$out"
for title in "Workload 1: random 8-byte" "Workload 1: random 64-byte" \
    "Workload 2:" "Workload 3:" "Workload 4:" "Workload 5:" "Workload 6:" \
    "Memory overhead" "Targets (ratios of this run)"; do
    check "table printed: $title" grep -qF "### $title" "$out"
done
check "workloads run in their order (the Workload N titles: 1 to 6 present, never a smaller N after a larger)" \
    bash -c "grep -oE '^### Workload [0-9]+' '$out' | awk '{print \$3}' > '$build/order.txt' &&
             sort -n -c '$build/order.txt' &&
             for n in 1 2 3 4 5 6; do grep -qx \$n '$build/order.txt' || exit 1; done"
check "nothing printed refers to an issue" \
    bash -c "! grep -qi 'issue' '$out'"
check "labels say what ran: quick mode's 4 MiB windows are 'sliding 4 MiB' (rows and target)" \
    bash -c "grep -qE '^\| smmap_cursor_at \| sliding 4 MiB \|' '$out' &&
             grep -qF 'cursor_at 8 B, sliding 4 MiB / mmap' '$out' &&
             ! grep -qF 'sliding 64 MiB / mmap' '$out'"
check "static cursor_at maps nothing while timed (maps/op 0.000, regions 1)" \
    grep -qE '^\| smmap_cursor_at \| static \| .*maps/op 0\.000, evictions/op 0\.000, regions 1 \|' "$out"
check "workload 6 printed a row for 100 and 1000 live regions" \
    bash -c "grep -qE '^\| 100 \|' '$out' && grep -qE '^\| 1000 \|' '$out'"
check "memory: each file keeps 2.00 copies of its path" \
    grep -q '(2.00 copies of the path' "$out"
check "every target row has a verdict" \
    bash -c "n=\$(grep -cE '\| (met|MISSED) \|\$' '$out'); [ \"\$n\" -ge 14 ]"

# usage_error NAME ARGS...: exit 2, nothing on stdout, "smmap-bench: " and
# a message on stderr.
usage_error() {
    local name=$1 rc=0
    shift
    "$bench" "$@" >"$build/usage.out" 2>"$build/usage.err" || rc=$?
    [ "$rc" -eq 2 ] && [ ! -s "$build/usage.out" ] &&
        grep -q '^smmap-bench: ..' "$build/usage.err" || {
        echo "   $name: exit $rc; stderr: $(head -c 300 "$build/usage.err")"
        return 1
    }
}
check "usage error: unknown option" usage_error unknown --no-such-option
check "usage error: an argument that is not an option" usage_error positional extra
check "usage error: --reps without a value" usage_error reps-missing --reps
check "usage error: --reps 0" usage_error reps-0 --reps 0
check "usage error: --reps 32 (above 31)" usage_error reps-32 --reps 32
check "usage error: --reps 3x" usage_error reps-3x --reps 3x
check "usage error: --reps -1" usage_error reps-neg --reps -1
check "usage error: --reps ''" usage_error reps-empty --reps ''
check "usage error: --workloads 1,x" usage_error workloads-x --workloads 1,x
check "usage error: --workloads 9 (no such workload)" usage_error workloads-9 --workloads 9
check "usage error: --workloads 1, (empty item)" usage_error workloads-comma --workloads 1,
check "usage error: --dir ''" usage_error dir-empty --dir ''
check "usage error: --threads 2,1 (not ascending)" usage_error threads-order --threads 2,1
check "usage error: --threads 0" usage_error threads-0 --threads 0
check "usage error: --threads 65 (above 64)" usage_error threads-65 --threads 65
check "usage error: --threads 1,2, (empty item)" usage_error threads-comma --threads 1,2,
check "usage error: --threads with 9 counts (at most 8)" usage_error threads-9 --threads 1,2,3,4,5,6,7,8,9
check "the program name comes from argv[0]" \
    bash -c "(exec -a /some/where/my-bench '$bench' --bogus) 2>&1 >/dev/null | grep -q '^my-bench: unknown option' &&
             (exec -a /some/where/my-bench '$bench' --help) | grep -q '^usage: my-bench '"
check "--help lists every workload and exits 0" \
    bash -c "'$bench' --help > '$build/help.txt' && for n in 1 2 3 4 5 6 7; do grep -qE \"^ +\$n  [a-z]\" '$build/help.txt' || exit 1; done"
check "a failure of the system exits 1 with a message (data directory under a file)" \
    bash -c "'$bench' --quick --dir /dev/null/data >/dev/null 2>'$build/fail.err'; rc=\$?;
             [ \$rc -eq 1 ] && grep -q '^smmap-bench: mkdir /dev/null/data' '$build/fail.err'"
check "--workloads 5,2 runs workloads 2 and 5, in that order, and nothing else" \
    bash -c "'$bench' --quick --workloads 5,2 --dir '$data' --keep > '$build/w52.txt' &&
             [ \"\$(grep -oE '^### (Workload [0-9]+|Memory)' '$build/w52.txt' | tr '\n' ' ')\" = '### Workload 2 ### Workload 5 ' ]"
check "--threads 1,3 measures workload 8 at 1 and 3 threads, with the scaling target to 3" \
    bash -c "'$bench' --quick --reps 1 --workloads 8 --threads 1,3 --dir '$data' --keep > '$build/w8.txt' &&
             grep -q '(T = 1, 3; ' '$build/w8.txt' &&
             grep -q '^| case | mode | T=1 M reads/s | T=3 M reads/s | x3/1 |' '$build/w8.txt' &&
             grep -q '^| W8 switching, scaling to 3 threads / raw mmap' '$build/w8.txt' &&
             ! grep -q '2 threads / 1 thread' '$build/w8.txt'"
# Line-buffered: in a pipe, the header line arrives a measurement before the
# first table's last row (block buffering would deliver both in one write).
check "stdout is line-buffered in a pipe (rows arrive while it runs)" \
    bash -c "'$bench' --quick --workloads 1 --dir '$data' --keep |
             while IFS= read -r line; do echo \"\$(date +%s%N) \$line\"; done > '$build/stamped.txt' &&
             first=\$(awk 'NR==1 {print \$1}' '$build/stamped.txt') &&
             row=\$(grep -m1 ' | diagnostic: mmap + cursor' '$build/stamped.txt' | awk '{print \$1}') &&
             [ -n \"\$row\" ] && [ \$((row - first)) -gt 100000000 ]"
check "bench/ names nothing of the tool (no 'smmap bench', no tools/)" \
    bash -c "! grep -nE 'smmap bench([^a-z]|$)|tools/|SMMAP_TOOL' '$root'/bench/*.c '$root'/bench/*.h '$root'/bench/*.def '$root'/bench/CMakeLists.txt"
check "smmap-switch-probe prints its 8 cases over the quick data's big file" \
    bash -c "'$build/bench/smmap-switch-probe' '$data/big.bin' > '$build/probe.txt' &&
             [ \$(grep -cE '^\| (raw|chase|raw\+work8|raw\+work16|raw\+work32|raw\+branch|hit|switch) \| [0-9.]+ \| [0-9.]+ \|\$' '$build/probe.txt') -eq 8 ]"
check "smmap-switch-probe: a missing file is an error (exit 1, a message)" \
    bash -c "err=\$('$build/bench/smmap-switch-probe' /nonexistent 2>&1 >/dev/null); rc=\$?;
             [ \$rc -eq 1 ] && grep -q '^smmap-switch-probe: /nonexistent' <<<\"\$err\""
rm -rf "$data"

echo "== check-hitpath.sh"
check "hit path: no atomic, no lock, no call" "$root/bench/check-hitpath.sh" "$build"

echo "== plot.py"
check "plot.py writes two SVG files that parse as XML" \
    bash -c "/usr/bin/python3 '$root/bench/plot.py' '$csv' '$build/plots' &&
             /usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E; [E.parse(f) for f in sys.argv[1:]]' \
                 '$build/plots/regions.svg' '$build/plots/budget.svg'"

echo "$passed passed, $failed failed"
((failed == 0))
