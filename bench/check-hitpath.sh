#!/usr/bin/env bash
# check-hitpath.sh BUILD_DIR - show that smmap_cursor_at's hit path executes
# no atomic or lock instruction and calls nothing:
#  1. disassemble hit_loop() (smmap-bench-hitpath): no lock prefix, xchg
#     with memory (implicitly locked; "xchg %ax,%ax" is a 2-byte no-op that
#     compilers pad with), cmpxchg, xadd or fence may appear; the only call
#     is the miss branch (smmap_cursor_use_exact);
#  2. run it under callgrind collecting inside hit_loop only, for N and 2N
#     hits: the instructions per hit, and the functions executed inside the
#     loop (only hit_loop itself: no pthread_mutex_lock, no call at all);
#  3. control: the same on a path that maps (every read evicts and maps, under
#     the manager's lock) must show pthread_mutex_lock, or the method would
#     prove nothing; the switching path's cost (every read in another cached
#     window) is printed beside it.
# perf stat cannot count instructions on this virtual machine
# ("<not supported> instructions"), so callgrind does the counting.
set -euo pipefail
build=${1:?usage: check-hitpath.sh BUILD_DIR}
bin=$build/bench/smmap-bench-hitpath
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0

for tool in objdump valgrind callgrind_annotate; do
    if ! command -v $tool >/dev/null; then
        echo "FAIL: $tool missing: apt-get install -y binutils valgrind"
        exit 1
    fi
done

objdump -d --no-show-raw-insn "$bin" | awk '/<hit_loop>:/,/^$/' > "$work/hit_loop.s"
ninsn=$(grep -c '^ *[0-9a-f]*:' "$work/hit_loop.s" || true)
if [ "$ninsn" -eq 0 ]; then
    echo "FAIL: hit_loop not found in $bin"
    exit 1
fi
atomics=$(grep -Ei '\block\b|xchg.*\(|cmpxchg|xadd|fence' "$work/hit_loop.s" || true)
calls=$(grep -E '\bcall' "$work/hit_loop.s" | sed 's/.*call *//' | sort -u | tr '\n' ' ')
echo "hit_loop: $ninsn instructions; calls: ${calls:-none}"
if [ -n "$atomics" ]; then
    echo "FAIL: atomic or locked instruction in hit_loop:"
    echo "$atomics"
    fail=1
else
    echo "ok: no lock prefix, xchg with memory, cmpxchg, xadd or fence in hit_loop"
fi
if echo "$calls" | grep -Evq '^ *$|smmap_cursor_use_exact' ; then
    echo "FAIL: hit_loop calls something other than smmap_cursor_use_exact: $calls"
    fail=1
fi
echo "--- the loop (objdump) ---"
cat "$work/hit_loop.s"

declare -A ir inl
for n in 1000000 2000000; do
    valgrind --tool=callgrind --toggle-collect=hit_loop \
        --callgrind-out-file="$work/cg.$n" "$bin" "$n" "$work" \
        > "$work/out.$n" 2> "$work/err.$n"
    cat "$work/out.$n"
    callgrind_annotate --auto=no "$work/cg.$n" > "$work/ann.$n"
    ir[$n]=$(awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}' "$work/ann.$n")
    # lines "Ir (pct)  file:function [object]": keep the function names
    fns=$(awk '/file:function/ {on=1; next} on && $1 ~ /^[0-9,]+$/ {n = split($3, a, ":"); print a[n]}' "$work/ann.$n" | sort -u | tr '\n' ' ')
    inl[$n]=$(awk '/file:function/ {on=1; next} on && $3 ~ /smmap\.h:/ {gsub(",", "", $1); print $1}' "$work/ann.$n")
    echo "callgrind, $n hits: Ir inside hit_loop = ${ir[$n]} (of which in smmap.h, the inlined smmap_cursor_at: ${inl[$n]:-0}); functions executed inside the loop: $fns"
    if [ "$(echo $fns)" != "hit_loop" ]; then
        echo "FAIL: functions other than hit_loop ran inside the loop: $fns"
        fail=1
    fi
done
per_hit=$(( (ir[2000000] - ir[1000000]) / 1000000 ))
per_hit_header=$(( (inl[2000000] - inl[1000000]) / 1000000 ))
echo "instructions per hit (Ir(2N) - Ir(N)) / N = $per_hit, of which smmap_cursor_at (smmap.h) = $per_hit_header"
# The switching path (every read in another cached window, through
# smmap_cursor_use_exact): its cost, and whether it locks, for the record.
valgrind --tool=callgrind --toggle-collect=hit_loop \
    --callgrind-out-file="$work/cg.switch" "$bin" 10000 "$work" switch \
    > "$work/out.switch" 2> "$work/err.switch" || {
    echo "FAIL: the switching probe failed: $(cat "$work/out.switch" "$work/err.switch" | tail -3)"
    fail=1
}
callgrind_annotate --auto=no --inclusive=yes "$work/cg.switch" > "$work/ann.switch"
sw_ir=$(awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}' "$work/ann.switch")
sw_lock="no pthread_mutex_lock"
grep -q 'pthread_mutex_lock' "$work/ann.switch" && sw_lock="pthread_mutex_lock"
echo "switching path (10000 reads, each in another cached window): $((sw_ir / 10000)) instructions per read, $sw_lock"
# Control: a path that maps (most reads evict a region and map another under
# the manager's lock) must show pthread_mutex_lock, or the method would
# prove nothing.
valgrind --tool=callgrind --toggle-collect=hit_loop \
    --callgrind-out-file="$work/cg.map" "$bin" 2000 "$work" map \
    > "$work/out.map" 2> "$work/err.map" || {
    echo "FAIL: the mapping probe failed: $(cat "$work/out.map" "$work/err.map" | tail -3)"
    fail=1
}
callgrind_annotate --auto=no --inclusive=yes "$work/cg.map" > "$work/ann.map"
if grep -q 'pthread_mutex_lock' "$work/ann.map"; then
    echo "control: the mapping path (2000 reads, most of them evicting and mapping) runs pthread_mutex_lock: the method sees a lock where there is one"
else
    echo "FAIL: control run did not see pthread_mutex_lock on the mapping path"
    fail=1
fi
if [ "$fail" -ne 0 ]; then
    echo "hit path check: FAILED"
    exit 1
fi
echo "hit path check: no atomic, no lock, no call; $per_hit instructions per hit"
