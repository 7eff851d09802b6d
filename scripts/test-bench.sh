#!/usr/bin/env bash
# test-bench.sh - builds the benchmarks from a clean tree (gcc and clang, the
# top-level CMakeLists with -Werror) into build-test-bench-<cc>/ and checks
# what can be checked without timing anything on a shared, noisy machine:
#   - `smmap-bench --quick` runs every workload (< 30 s) and prints every table;
#     the exact facts it prints: a static or one-window manager maps nothing
#     during the timed runs (maps/op 0.000, regions 1), the scaling workload had
#     exactly N regions live (the bench itself fails otherwise), the memory table
#     found 2.00 copies of the path per file;
#   - bench/check-hitpath.sh: no lock-prefixed/atomic instruction and no call on
#     smmap_cursor_at's hit path (objdump), only hit_loop runs inside the loop
#     (callgrind);
#   - bench/plot.py turns the CSV into two well-formed SVG files.
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
    check "$cc: build smmap-bench and smmap-bench-hitpath" \
        bash -c "cmake -S '$root' -B '$build' -DCMAKE_C_COMPILER=$cc -DSMMAP_BUILD_TESTS=OFF >/dev/null &&
                 cmake --build '$build' --target smmap-bench smmap-bench-hitpath -j 2 >/dev/null"
done

build=$root/build-test-bench-gcc
out=$build/quick.txt
csv=$build/csv
echo "== smmap-bench --quick"
start=$(date +%s)
check "smmap-bench --quick exits 0" \
    bash -c "'$build/bench/smmap-bench' --quick --csv '$csv' > '$out' 2>&1"
echo "   ($(($(date +%s) - start)) s)"
cat "$out"
for title in "Workload 1: random 8-byte" "Workload 1: random 64-byte" \
    "Workload 2:" "Workload 3:" "Workload 4:" "Workload 5:" "Workload 6:" \
    "Memory overhead" "Targets of issue 7"; do
    check "table printed: $title" grep -q "### $title" "$out"
done
check "static cursor_at maps nothing while timed (maps/op 0.000, regions 1)" \
    grep -qE '^\| smmap_cursor_at \| static \| .*maps/op 0\.000, evictions/op 0\.000, regions 1 \|' "$out"
check "workload 6 printed a row for 100 and 1000 live regions" \
    bash -c "grep -qE '^\| 100 \|' '$out' && grep -qE '^\| 1000 \|' '$out'"
check "memory: each file keeps 2.00 copies of its path" \
    grep -q '(2.00 copies of the path' "$out"
check "every target row has a verdict" \
    bash -c "n=\$(grep -cE '\| (met|MISSED) \|\$' '$out'); [ \"\$n\" -ge 14 ]"
check "usage error exits 2" \
    bash -c "'$build/bench/smmap-bench' --no-such-option >/dev/null 2>&1; [ \$? -eq 2 ]"

echo "== check-hitpath.sh"
check "hit path: no atomic, no lock, no call" "$root/bench/check-hitpath.sh" "$build"

echo "== plot.py"
check "plot.py writes two SVG files that parse as XML" \
    bash -c "/usr/bin/python3 '$root/bench/plot.py' '$csv' '$build/plots' &&
             /usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E; [E.parse(f) for f in sys.argv[1:]]' \
                 '$build/plots/regions.svg' '$build/plots/budget.svg'"

echo "$passed passed, $failed failed"
((failed == 0))
