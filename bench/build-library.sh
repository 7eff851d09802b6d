# build-library.sh - sourced by the benchmark scripts that compare this
# tree with an earlier commit (before-after.sh, eviction-quality.sh): how
# they get a commit's sources and its static library.

# smmap_extract ROOT COMMIT DIR: the commit's tree into DIR.
smmap_extract() {
    mkdir -p "$3" && git -C "$1" archive "$2" | tar -x -C "$3"
}

# smmap_build_static SRC BUILD LOG JOBS: the static library of the sources
# in SRC (Release, nothing else built), in BUILD; its path on stdout. The
# build's output goes to LOG, whose tail is shown when it fails.
smmap_build_static() {
    local src=$1 b=$2 log=$3 jobs=$4 lib
    if ! cmake -S "$src" -B "$b" -DCMAKE_BUILD_TYPE=Release \
            -DSMMAP_BUILD_TESTS=OFF -DSMMAP_BUILD_TOOLS=OFF \
            -DSMMAP_BUILD_BENCH=OFF >"$log" 2>&1 ||
       ! cmake --build "$b" --target smmap_static -j "$jobs" >>"$log" 2>&1; then
        tail -20 "$log" >&2
        return 1
    fi
    lib="$(find "$b" -maxdepth 2 -name 'libsmmap.a' | head -1)"
    [ -n "$lib" ] || { echo "no libsmmap.a in $b" >&2; return 1; }
    echo "$lib"
}
