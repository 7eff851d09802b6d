#!/usr/bin/env bash
# before-after.sh - the benchmark of this tree, built twice in one run:
# against the library of an earlier commit (BEFORE, default 0534bdd, the
# last commit whose windows switched under the manager lock) and against
# the library of this working tree, then run alternately on the same data,
# so that both sides see the same machine and the same noise.
#
#   bench/before-after.sh [smmap-bench options]     e.g. --reps 5
#
# Environment: BEFORE (a commit), WORKLOADS (default "1 2 3 4 5 6 8"; one
# that BEFORE's library cannot run is reported as failed), ROUNDS
# (default 1), OUT (a folder for the two builds and the outputs; default a
# temporary one). Each workload runs before, then after, then the next
# workload: the two sides of a row are minutes apart at most.
# The benchmark's sources are this tree's in both builds (they use only
# the public header, and bench_memory.c the allocator table of src/os.h,
# taken from each side's own src/). Prints each side's output, then
# bench/reuse_probe.c's lines (workload 6's reuse alone, 100 and 50,000
# regions, alternately). Exit 1 when a build or a run fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/build-library.sh"
BEFORE="${BEFORE:-0534bdd}"
ROUNDS="${ROUNDS:-1}"
OUT="${OUT:-$(mktemp -d /tmp/smmap-before-after.XXXXXX)}"
JOBS="${JOBS:-2}"
mkdir -p "$OUT"

build_side() { # name source-dir
    local name="$1" src="$2" b="$OUT/$1" lib
    mkdir -p "$b"
    lib="$(smmap_build_static "$src" "$b/lib" "$b/build.log" "$JOBS")" ||
        { echo "before-after: the library of $name does not build ($b/build.log)" >&2; return 1; }
    local objs=()
    for f in "$ROOT"/bench/*.c; do
        case "$(basename "$f")" in
        hitpath.c | trace_replay.c | reuse_probe.c) continue ;;
        esac
        local o="$b/$(basename "$f" .c).o"
        cc -O2 -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 -I"$src/include" \
            -I"$ROOT/bench" -I"$src/src" -c "$f" -o "$o" 2>>"$b/build.log" ||
            { echo "before-after: $f does not compile against $name ($b/build.log)" >&2; return 1; }
        objs+=("$o")
    done
    cc -o "$b/smmap-bench" "${objs[@]}" "$lib" -lpthread 2>>"$b/build.log" ||
        { echo "before-after: link of $name failed ($b/build.log)" >&2; return 1; }
    cc -O2 -D_DEFAULT_SOURCE -I"$src/include" -o "$b/reuse-probe" \
        "$ROOT/bench/reuse_probe.c" "$lib" -lpthread 2>>"$b/build.log" ||
        { echo "before-after: reuse_probe does not build against $name ($b/build.log)" >&2; return 1; }
}

src_before="$OUT/src-before"
rm -rf "$src_before"
smmap_extract "$ROOT" "$BEFORE" "$src_before" ||
    { echo "before-after: cannot extract $BEFORE" >&2; exit 1; }
build_side before "$src_before"
build_side after "$ROOT"

data="$OUT/data"
mkdir -p "$data"
WORKLOADS="${WORKLOADS:-1 2 3 4 5 6 8}"
for ((r = 1; r <= ROUNDS; r++)); do
    for w in $WORKLOADS; do
        for side in before after; do
            echo "== round $r, workload $w, $side" >&2
            "$OUT/$side/smmap-bench" --dir "$data" --keep --workloads "$w" "$@" \
                >>"$OUT/$side-$r.md" 2>>"$OUT/$side-$r.err" ||
                { echo "before-after: workload $w failed on the $side side ($OUT/$side-$r.err)" >&2; exit 1; }
        done
    done
done
# Workload 6's reuse alone (bench/reuse_probe.c), on the data the
# benchmark generated, alternately.
probe=""
if [ -f "$data/small-499.bin" ]; then
    for ((r = 1; r <= ROUNDS; r++)); do
        for n in 100 50000; do
            for side in before after; do
                probe+="$("$OUT/$side/reuse-probe" "$n" "$side" "$data")"$'\n' ||
                    { echo "before-after: reuse_probe failed on the $side side" >&2; exit 1; }
            done
        done
    done
fi
for ((r = 1; r <= ROUNDS; r++)); do
    for side in before after; do
        echo
        echo "# $side ($([ "$side" = before ] && echo "$BEFORE" || echo "this tree")), round $r"
        grep -v '^- load average\|^(cold page\|^(targets are' "$OUT/$side-$r.md"
    done
done
if [ -n "$probe" ]; then
    echo
    echo "# reuse_probe (workload 6's reuse alone)"
    printf '%s' "$probe"
fi
echo
echo "Outputs in $OUT"
