#!/usr/bin/env bash
# test_tool.sh - checks the smmap command-line tool from the outside.
#
#   test_tool.sh SECTION SMMAP FNV1A64 HAVE_BENCH POINTER_BYTES SYSTEM [EMULATOR...]
#
# SECTION is cat, stat, errors, limits, misc, json, stream, signal, man or all. SMMAP is the tool, FNV1A64 the
# reference hasher built from fnv1a64.c, HAVE_BENCH 1 when the tool was linked
# with the benchmarks, POINTER_BYTES the tool's sizeof(void *) (4 or 8: the
# default window is 64 MiB or 1 GiB), SYSTEM "posix" or "windows" (the
# allocation granularity is the page size or 64 KiB; SMMAP_TEST_GRANULARITY
# in the environment: the build's SMMAP_GRANULARITY, used where larger than
# the page). EMULATOR, when given,
# is the command that runs the tool (wine64 for a Windows build on Linux, as
# CMAKE_CROSSCOMPILING_EMULATOR); it also runs FNV1A64 if that is a .exe.
# Every check compares exact bytes, exact counters or an exact message and
# exit status; the last line is "N passed, N failed".
set -euo pipefail

section=${1:?section}
SMMAP=${2:?path of the smmap tool}
FNV=${3:?path of the fnv1a64 helper}
HAVE_BENCH=${4:-0}
POINTER_BYTES=${5:-8}
SYSTEM=${6:-posix}
shift $(($# < 6 ? $# : 6))
EMULATOR=("$@")

passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smmap-tool-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# A program run through the emulator is wrapped in a script, so that every
# check below (and `bash -c '"$1" ...'`) runs "$SMMAP" as one command.
# wrap_emulated NAME PROGRAM: prints the path of the wrapper.
wrap_emulated() {
    mkdir -p "$tmp/bin"
    {
        echo '#!/usr/bin/env bash'
        printf 'exec'
        printf ' %q' "${EMULATOR[@]}" "$2"
        printf ' "$@"\n'
    } >"$tmp/bin/$1"
    chmod +x "$tmp/bin/$1"
    echo "$tmp/bin/$1"
}
# This script's folder (stat_json.py beside it, the sources above it) and
# the tool's build folder (its cmake_install.cmake, for the manual's
# install rule).
TOOL_DIR=$(cd "$(dirname "$0")" && pwd)
TOOL_BUILD_DIR=$(cd "$(dirname "$SMMAP")" && pwd)
if ((${#EMULATOR[@]})); then
    SMMAP=$(wrap_emulated smmap "$SMMAP")
    [[ $FNV != *.exe ]] || FNV=$(wrap_emulated fnv1a64 "$FNV")
fi

# G, the allocation granularity: windows are multiples of it, so budgets
# below are given in granules where the check means "one window", "two
# windows". 4 KiB pages (or 16 KiB, 64 KiB on some arm64 and ppc64 Linux)
# on POSIX, or a build's SMMAP_GRANULARITY where larger; 64 KiB on Windows.
# GRANULE: what the tool's message says windows are rounded up to.
case $SYSTEM in
windows) G=65536 GRANULE="64 KiB (the allocation granularity)" ;;
posix)
    G=$(getconf PAGESIZE) GRANULE="the page size"
    if [[ -n ${SMMAP_TEST_GRANULARITY:-} ]]; then
        GRANULE="$SMMAP_TEST_GRANULARITY bytes (this build's granularity)"
        ((SMMAP_TEST_GRANULARITY <= G)) || G=$SMMAP_TEST_GRANULARITY
    fi
    ;;
*) echo "unknown SYSTEM $SYSTEM (posix or windows)" >&2; exit 2 ;;
esac
# The default window of smmap_options_init: 64 MiB in a 32-bit process.
case $POINTER_BYTES in
4) DEFAULT_WINDOW="64 MiB" ;;
8) DEFAULT_WINDOW="1 GiB" ;;
*) echo "unknown POINTER_BYTES $POINTER_BYTES (4 or 8)" >&2; exit 2 ;;
esac

# The largest --window: rounded up to the granularity, a window must stay
# at most SIZE_MAX / 2 (2^63 - 1 or 2^31 - 1), so 2^63 (or 2^31) minus a
# granule. (2^63 itself is out of bash's signed arithmetic: two halves.)
if ((POINTER_BYTES == 8)); then
    MAX_WINDOW=$(((2**62 - G) + 2**62))
else
    MAX_WINDOW=$((2**31 - G))
fi

pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); printf 'FAIL: %s\n' "$*"; }

# check_eq NAME EXPECTED ACTUAL
check_eq() {
    if [[ "$2" == "$3" ]]; then pass; else
        fail "$1"; printf '  expected: %q\n  actual:   %q\n' "$2" "$3"; fi
}

# run CMD...: runs the command capturing stdout in $tmp/out, stderr in
# $tmp/err and the exit status in $rc.
#
# Under wine, and only there, a command that exits 1 having written nothing
# at all is run once more: wine itself did that once in CI (`smmap cat`,
# whose usage error is exit 2 with a message, exited 1 in silence; 3,000
# runs here never did). The tool never exits 1 without a message, so a
# tool that does it for real does it again and fails its check; each rerun
# is counted and printed (wine_reruns) so that it is seen, not hidden.
wine_reruns=0
run() {
    set +e
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [[ $SYSTEM == windows && $rc == 1 && ! -s $tmp/out && ! -s $tmp/err ]]; then
        wine_reruns=$((wine_reruns + 1))
        printf 'note: exit 1 with no output under wine, run again: %q\n' "$*"
        "$@" >"$tmp/out" 2>"$tmp/err"
        rc=$?
    fi
    set -e
}

# check_run NAME EXPECTED_RC EXPECTED_STDERR CMD...: exact status and stderr.
check_run() {
    local name=$1 want_rc=$2 want_err=$3
    shift 3
    run "$@"
    check_eq "$name: exit status" "$want_rc" "$rc"
    check_eq "$name: stderr" "$want_err" "$(cat "$tmp/err")"
}

# stat_field NAME: the value of one "name value" line of $tmp/out.
stat_field() {
    awk -v k="$1" '$1 == k { print $2; found = 1 } END { if (!found) print "missing" }' "$tmp/out"
}

# check_range NAME LOW HIGH ACTUAL: ACTUAL is a number in [LOW, HIGH] (a
# missing field fails here instead of stopping the script in $((...))).
check_range() {
    if [[ $4 =~ ^[0-9]+$ ]] && (($4 >= $2 && $4 <= $3)); then pass; else
        fail "$1: $4 not in [$2, $3]"; fi
}

# The files every section uses: random bytes of awkward sizes, a tiny and an
# empty file, and a sparse file with marks past 4 GiB. They are made on the
# host, so a Windows build under wine reads the same sparse file (wine maps
# it like any other; a hole reads as zeros there too) and the hard link of
# section stat (one file index for both names).
make_files() {
    head -c 300000 /dev/urandom >"$tmp/rand"
    head -c 196608 /dev/urandom >"$tmp/three64k"   # exactly 3 x 64 KiB
    printf 'hello\n' >"$tmp/small"
    : >"$tmp/empty"
    head -c 1000 "$tmp/rand" >"$tmp/r1000"
    head -c 5000 "$tmp/rand" >"$tmp/r5000"
    truncate -s $((6 * 2**30)) "$tmp/sparse"
    printf 'below-4G' | dd of="$tmp/sparse" bs=1 seek=$((2**20)) conv=notrunc status=none
    printf 'PAST-4GiB-MARKER' | dd of="$tmp/sparse" bs=1 seek=$((4 * 2**30 + 4090)) conv=notrunc status=none
    mkdir "$tmp/dir"
}

# expected_cat OFFSET LENGTH FILE...: what `smmap cat -o OFFSET -n LENGTH`
# must print, from tail and head, file by file ("-" for no -n).
expected_cat() {
    local off=$1 len=$2 f
    shift 2
    for f in "$@"; do
        if [[ $len == - ]]; then tail -c +$((off + 1)) "$f"
        else
            # head exits after LENGTH bytes and tail may die of SIGPIPE: only
            # head's status matters here.
            (set +o pipefail; tail -c +$((off + 1)) "$f" | head -c "$len")
        fi
    done
}

# check_cat NAME OFFSET LENGTH "TOOL OPTIONS" FILE...
check_cat() {
    local name=$1 off=$2 len=$3 opts=$4
    shift 4
    local args=(-o "$off")
    [[ $len == - ]] || args+=(-n "$len")
    # shellcheck disable=SC2086 # opts is a list of words
    run "$SMMAP" cat $opts "${args[@]}" "$@"
    expected_cat "$off" "$len" "$@" >"$tmp/expected"
    if [[ $rc == 0 ]] && [[ ! -s $tmp/err ]] && cmp -s "$tmp/out" "$tmp/expected"; then
        pass
    else
        fail "cat $name: -o $off -n $len $opts $* (exit $rc, $(wc -c <"$tmp/out") bytes, want $(wc -c <"$tmp/expected"))"
        cat "$tmp/err"
    fi
}

section_cat() {
    local opts off len
    # Offsets and lengths around pages, windows and the end of the file
    # (300000 bytes), under a one-granule window (a page on POSIX) with a
    # two-window budget, a 64 KiB one with a two-window budget, the
    # defaults, and static mode.
    local offsets="0 1 4095 4096 65537 299999 300000 300001 1000000000000"
    ((G == 4096)) || offsets+=" $((G - 1)) $G"
    for opts in "--window $G --max-mapped $((2 * G))" "--window 64K --max-mapped 128K" "" "--static"; do
        for off in $offsets; do
            for len in - 0 1 4096 100000 1000000000000000; do
                check_cat rand "$off" "$len" "$opts" "$tmp/rand"
            done
        done
    done
    # Several files: -o and -n apply to each file, as tail|head per file.
    check_cat multi 3 5 "" "$tmp/small" "$tmp/rand" "$tmp/empty" "$tmp/small"
    check_cat multi 0 - "--window $G --max-mapped $G" "$tmp/rand" "$tmp/small" "$tmp/rand"
    check_cat multi 6 - "" "$tmp/small" "$tmp/small"
    check_cat multi 299990 100 "--window $((2 * G)) --max-mapped $((2 * G))" "$tmp/rand" "$tmp/r1000" "$tmp/rand"
    check_cat empty 0 - "" "$tmp/empty"
    # A window smaller than a granule is rounded up to one by the library.
    check_cat subpage 0 - "--window 100 --max-mapped $((2 * G))" "$tmp/rand"
    check_cat subpage 12345 54321 "--window 1 --max-mapped 64K" "$tmp/rand"
    check_cat subpage 4000 200 "--window 100 --max-mapped $((2 * G)) --max-regions 2 --max-files 1" "$tmp/rand" "$tmp/r5000"
    # The sparse file: bytes past 4 GiB, across a window boundary (on
    # Windows, granules of 64 KiB: 4 GiB + 4090 is inside one).
    check_cat sparse $((4 * 2**30 + 4090)) 16 "--window 1M --max-mapped 8M" "$tmp/sparse"
    check_cat sparse $((4 * 2**30 + G - 96)) 200 "--window $G --max-mapped $G" "$tmp/sparse"
    check_cat sparse $((2**20 - 10)) 30 "--window 64K --max-mapped 64K" "$tmp/sparse"
    check_cat sparse $((6 * 2**30 - 70000)) - "--window 64K --max-mapped 64K" "$tmp/sparse"
    run "$SMMAP" cat -o $((4 * 2**30 + 4090)) -n 16 --window 1M --max-mapped 8M "$tmp/sparse"
    check_eq "cat sparse: the marker past 4 GiB" "PAST-4GiB-MARKER" "$(cat "$tmp/out")"
    # Standard input, when it is a regular file.
    run "$SMMAP" cat -o 7 -n 9000 - <"$tmp/rand"
    expected_cat 7 9000 "$tmp/rand" >"$tmp/expected"
    if [[ $rc == 0 ]] && cmp -s "$tmp/out" "$tmp/expected"; then pass; else
        fail "cat - <rand (exit $rc)"; cat "$tmp/err"; fi
    # Option spellings: --offset=, --length, -oN, -nN, options after files, "--".
    run "$SMMAP" cat "$tmp/rand" --offset=100 --length 50
    expected_cat 100 50 "$tmp/rand" >"$tmp/expected"
    cmp -s "$tmp/out" "$tmp/expected" && pass || fail "cat --offset= --length after the file"
    run "$SMMAP" cat -o100 -n50 -- "$tmp/rand"
    cmp -s "$tmp/out" "$tmp/expected" && pass || fail "cat -o100 -n50 --"
    run "$SMMAP" cat -n 1K "$tmp/rand"
    expected_cat 0 1024 "$tmp/rand" >"$tmp/expected"
    cmp -s "$tmp/out" "$tmp/expected" && pass || fail "cat -n 1K"
}

section_stat() {
    # --always-map wherever windows are counted: under pressure smmap_read
    # may serve a miss with one pread instead (its read policy), which the
    # last checks of this section look at.
    local fixed="--max-regions 100 --max-files 10 --always-map"
    # A file of exactly three 64 KiB windows read in 64 KiB reads with a
    # budget of one window: each read maps a window and evicts the previous.
    # shellcheck disable=SC2086
    run "$SMMAP" stat --window 64K --max-mapped 64K $fixed "$tmp/three64k"
    check_eq "stat 3 windows: exit status" 0 "$rc"
    cat >"$tmp/expected" <<EOF
window_size 65536 (64 KiB)
max_mapped 65536 (64 KiB)
max_regions 100
max_open_files 10
hard_limits 0
always_map 1
mode sliding
order sequential
read_length 65536 (64 KiB)
files_read 1
streamed_files 0
reads 3
bytes_read 196608 (192 KiB)
fnv1a64 $("$FNV" <"$tmp/three64k")
mapped_bytes 65536 (64 KiB)
peak_mapped_bytes 65536 (64 KiB)
regions 1
peak_regions 1
files 1
files_mapped 1
open_fds 1
maps 3
unmaps 2
evictions 2
reuses 0
retries 0
fd_closes 0
fd_reopens 0
direct_reads 0
files_no_mmap 0
read_windows 0
faults 0
interrupted 0
EOF
    # The time lines vary from run to run: their form is checked apart.
    check_eq "stat 3 windows: whole report" "$(cat "$tmp/expected")" \
        "$(grep -Ev '^(elapsed_seconds|throughput_mb_s) ' "$tmp/out")"
    if grep -Eq '^elapsed_seconds [0-9]+\.[0-9]{6}$' "$tmp/out" &&
        grep -Eq '^throughput_mb_s [0-9]+\.[0-9]$' "$tmp/out"; then pass; else
        fail "stat 3 windows: elapsed_seconds and throughput_mb_s lines"
        grep -E '^(elapsed|throughput)' "$tmp/out"
    fi

    # The same file with a budget of two windows and 16 KiB reads: 12 reads,
    # 3 maps, 1 eviction; the other 9 reads are hits of the cursor's window,
    # which do not call smmap_cursor_use, so reuses stays 0.
    # shellcheck disable=SC2086
    run "$SMMAP" stat --window 64K --max-mapped 128K -n 16K $fixed "$tmp/three64k"
    check_eq "stat 16K reads: reads" 12 "$(stat_field reads)"
    check_eq "stat 16K reads: maps" 3 "$(stat_field maps)"
    check_eq "stat 16K reads: evictions" 1 "$(stat_field evictions)"
    check_eq "stat 16K reads: unmaps" 1 "$(stat_field unmaps)"
    check_eq "stat 16K reads: regions" 2 "$(stat_field regions)"
    check_eq "stat 16K reads: peak_mapped_bytes" 131072 "$(stat_field peak_mapped_bytes)"

    # The checksum of a sequential stat is the FNV-1a of the files' bytes in
    # order, as the reference hasher computes it from cat.
    run "$SMMAP" stat --window $G --max-mapped $((4 * G)) -n 1000 "$tmp/rand" "$tmp/small" "$tmp/empty" "$tmp/r5000"
    check_eq "stat checksum: exit status" 0 "$rc"
    check_eq "stat checksum: fnv1a64" "$(cat "$tmp/rand" "$tmp/small" "$tmp/r5000" | "$FNV")" "$(stat_field fnv1a64)"
    check_eq "stat checksum: bytes_read" 305006 "$(stat_field bytes_read)"
    check_eq "stat checksum: reads" $((300 + 1 + 5)) "$(stat_field reads)"
    check_eq "stat checksum: files" 4 "$(stat_field files)"
    check_eq "stat checksum: files_read" 4 "$(stat_field files_read)"

    # Random reads, checked byte for byte against pread by --verify, with the
    # budget held: one cursor at a time, so peak <= max_mapped.
    run "$SMMAP" stat --random 3000 -n 3000 --seed 7 --verify --window $((2 * G)) --max-mapped $((8 * G)) "$tmp/rand" "$tmp/r1000" "$tmp/empty" "$tmp/r5000"
    check_eq "stat random verify: exit status" 0 "$rc"
    check_eq "stat random verify: stderr" "" "$(cat "$tmp/err")"
    check_eq "stat random verify: mismatches" 0 "$(stat_field verify_mismatches)"
    check_eq "stat random verify: reads" 3000 "$(stat_field reads)"
    check_eq "stat random verify: order" random "$(stat_field order)"
    check_eq "stat random verify: seed" 7 "$(stat_field seed)"
    check_eq "stat random verify: random_reads (text, as in the JSON)" 3000 "$(stat_field random_reads)"
    local hash7 bytes7
    check_range "stat random verify: peak_mapped_bytes" 1 $((8 * G)) "$(stat_field peak_mapped_bytes)"
    hash7=$(stat_field fnv1a64)
    bytes7=$(stat_field bytes_read)
    run "$SMMAP" stat --random 3000 -n 3000 --seed 7 --window 64K --max-mapped 64K "$tmp/rand" "$tmp/r1000" "$tmp/empty" "$tmp/r5000"
    check_eq "stat random: same seed, same bytes (other budget)" "$hash7 $bytes7" "$(stat_field fnv1a64) $(stat_field bytes_read)"
    run "$SMMAP" stat --random 3000 -n 3000 --seed 8 --window 64K --max-mapped 64K "$tmp/rand" "$tmp/r1000" "$tmp/empty" "$tmp/r5000"
    if [[ $(stat_field fnv1a64) != "$hash7" ]]; then pass; else fail "stat random: seed 8 read the same bytes as seed 7"; fi
    # The read policy: 100-byte random reads under a one-window budget evict
    # nearly every window after a read or two, so smmap_read serves most
    # misses with one pread (direct_reads) - the same bytes as when every
    # miss maps a window (--always-map, direct_reads 0).
    run "$SMMAP" stat --random 3000 -n 100 --seed 3 --window $G --max-mapped $G "$tmp/rand"
    check_eq "stat read policy: exit status" 0 "$rc"
    check_range "stat read policy: direct_reads" 1 2999 "$(stat_field direct_reads)"
    check_eq "stat read policy: always_map" 0 "$(stat_field always_map)"
    hash7="$(stat_field fnv1a64) $(stat_field bytes_read)"
    run "$SMMAP" stat --random 3000 -n 100 --seed 3 --window $G --max-mapped $G --always-map "$tmp/rand"
    check_eq "stat always-map: direct_reads" 0 "$(stat_field direct_reads)"
    check_eq "stat always-map: always_map" 1 "$(stat_field always_map)"
    check_eq "stat always-map: same bytes as with direct reads" "$hash7" "$(stat_field fnv1a64) $(stat_field bytes_read)"
    # One-byte random reads of a 6-byte file: every read gives one byte.
    run "$SMMAP" stat --random 1000 -n 1 --window $G --max-mapped $G "$tmp/small"
    check_eq "stat random 1-byte: bytes_read" 1000 "$(stat_field bytes_read)"
    check_eq "stat random 1-byte: maps" 1 "$(stat_field maps)"
    check_eq "stat random 1-byte: reuses" 0 "$(stat_field reuses)"
    # Random reads of the 6 GiB sparse file, a third of them past 4 GiB,
    # verified. Few: the first touch of a hole costs the kernel a page-cache
    # fill (and readahead) per fault, about a millisecond on ext4.
    run "$SMMAP" stat --random 100 -n 4K --verify --window 1M --max-mapped 8M "$tmp/sparse"
    check_eq "stat random sparse: exit status" 0 "$rc"
    check_eq "stat random sparse: mismatches" 0 "$(stat_field verify_mismatches)"
    check_range "stat random sparse: peak_mapped_bytes (budget + a window)" 0 $((8 * 2**20 + 2**20)) "$(stat_field peak_mapped_bytes)"

    # Descriptor budget of one over three files: open a, b (close a), c
    # (close b); read a (reopen, close c), b (reopen, close a), c (reopen,
    # close b).
    # The budget of two granules keeps the last window of each file (rand's
    # is 300000 % G bytes): files_mapped 3.
    run "$SMMAP" stat --max-files 1 --always-map --window $G --max-mapped $((2 * G)) "$tmp/rand" "$tmp/r1000" "$tmp/r5000"
    check_eq "stat max-files 1: open_fds" 1 "$(stat_field open_fds)"
    check_eq "stat max-files 1: fd_closes" 5 "$(stat_field fd_closes)"
    check_eq "stat max-files 1: fd_reopens" 3 "$(stat_field fd_reopens)"
    check_eq "stat max-files 1: files_mapped" 3 "$(stat_field files_mapped)"
    check_eq "stat max-files 1: max_open_files" 1 "$(stat_field max_open_files)"

    # The same file under two names is one file with shared regions.
    ln "$tmp/rand" "$tmp/rand-link"
    run "$SMMAP" stat --always-map --window 64K --max-mapped 1M "$tmp/rand" "$tmp/rand-link"
    check_eq "stat hard link: files" 1 "$(stat_field files)"
    check_eq "stat hard link: maps" 5 "$(stat_field maps)"
    check_eq "stat hard link: files_read" 2 "$(stat_field files_read)"
    check_eq "stat hard link: bytes_read" 600000 "$(stat_field bytes_read)"

    # Static mode maps each file whole: one map of exactly the file size.
    run "$SMMAP" stat --static --max-mapped 1M "$tmp/rand"
    check_eq "stat static: mode" static "$(stat_field mode)"
    check_eq "stat static: maps" 1 "$(stat_field maps)"
    check_eq "stat static: mapped_bytes" 300000 "$(stat_field mapped_bytes)"
    check_eq "stat static: window_size" 0 "$(stat_field window_size)"
    # Soft budget: a whole file larger than max_mapped is mapped anyway...
    run "$SMMAP" stat --static --max-mapped 64K "$tmp/rand"
    check_eq "stat static soft: exit status" 0 "$rc"
    check_eq "stat static soft: peak_mapped_bytes" 300000 "$(stat_field peak_mapped_bytes)"
    # ...and --hard refuses it: the file fails, the report still comes.
    run "$SMMAP" stat --static --max-mapped 64K --hard "$tmp/rand" "$tmp/small"
    check_eq "stat static hard: exit status" 1 "$rc"
    check_eq "stat static hard: stderr" "smmap: $tmp/rand: out of memory or address space, or over the mapped budget" "$(cat "$tmp/err")"
    check_eq "stat static hard: hard_limits" 1 "$(stat_field hard_limits)"
    check_eq "stat static hard: bytes_read (small only)" 6 "$(stat_field bytes_read)"
    check_eq "stat static hard: peak_mapped_bytes" 6 "$(stat_field peak_mapped_bytes)"

    # Human sizes.
    run "$SMMAP" stat --window 1G --max-mapped 1536M -n 1000 "$tmp/small"
    check_eq "stat human: max_mapped" "max_mapped 1610612736 (1.5 GiB)" "$(grep '^max_mapped ' "$tmp/out")"
    check_eq "stat human: window_size" "window_size 1073741824 (1 GiB)" "$(grep '^window_size ' "$tmp/out")"
    check_eq "stat human: read_length" "read_length 1000 (1000 B)" "$(grep '^read_length ' "$tmp/out")"
    check_eq "stat human: bytes_read" "bytes_read 6 (6 B)" "$(grep '^bytes_read ' "$tmp/out")"
}

section_errors() {
    local try="Try 'smmap --help' for more information."
    # File errors: reported, the other files still processed, exit 1.
    # Nothing here is left out for a Windows build: the driver runs on the
    # Linux host and wine hands the .exe the host's files (drive Z: is /),
    # so /dev/null is a character device to it (FILE_TYPE_CHAR), a shell
    # pipe is a pipe (FILE_TYPE_PIPE), a write to /dev/full fails with
    # ENOSPC, and the messages are the same. A native Windows host has no
    # bash, so these tests are not registered there (tests/tool/CMakeLists).
    check_run "cat missing" 1 "smmap: $tmp/nope: no such file or directory" "$SMMAP" cat "$tmp/nope"
    check_run "cat directory" 1 "smmap: $tmp/dir: is a directory" "$SMMAP" cat "$tmp/dir"
    # A character device is read as a stream (section stream): /dev/null
    # gives no bytes and no error.
    check_run "cat char device" 0 "" "$SMMAP" cat /dev/null
    check_eq "cat char device: stdout" 0 "$(wc -c <"$tmp/out")"
    check_run "cat missing then good" 1 "smmap: $tmp/nope: no such file or directory
smmap: $tmp/dir: is a directory" "$SMMAP" cat "$tmp/small" "$tmp/nope" "$tmp/dir" "$tmp/small"
    check_eq "cat missing then good: output" "hello
hello" "$(cat "$tmp/out")"
    check_run "stat missing" 1 "smmap: $tmp/nope: no such file or directory" "$SMMAP" stat "$tmp/nope" "$tmp/small"
    check_eq "stat missing: report of the rest" 6 "$(stat_field bytes_read)"
    check_eq "stat missing: files_read" 1 "$(stat_field files_read)"
    check_run "stat directory" 1 "smmap: $tmp/dir: is a directory" "$SMMAP" stat "$tmp/dir"
    set +e
    "$SMMAP" cat - <"$tmp/rand" >/dev/null 2>"$tmp/err" # sanity: a file is fine
    rc=$?
    set -e
    check_eq "cat - from a file: exit status" 0 "$rc"
    check_eq "cat - from a file: stderr" "" "$(cat "$tmp/err")"
    set +e
    printf 'piped' | "$SMMAP" cat - >"$tmp/out" 2>"$tmp/err"
    rc=$?
    set -e
    check_eq "cat - from a pipe (a stream): exit status" 0 "$rc"
    check_eq "cat - from a pipe (a stream): stderr" "" "$(cat "$tmp/err")"
    check_eq "cat - from a pipe (a stream): stdout" "piped" "$(cat "$tmp/out")"
    check_run "cat to a full disk" 1 "smmap: write error: No space left on device" \
        bash -c '"$1" cat "$2" >/dev/full' _ "$SMMAP" "$tmp/rand"
    # Help and version say so too (they exited 1 without a word).
    check_run "--help to a full disk" 1 "smmap: write error: No space left on device" \
        bash -c '"$1" --help >/dev/full' _ "$SMMAP"
    check_run "--version to a full disk" 1 "smmap: write error: No space left on device" \
        bash -c '"$1" --version >/dev/full' _ "$SMMAP"
    check_run "help cat to a full disk" 1 "smmap: write error: No space left on device" \
        bash -c '"$1" help cat >/dev/full' _ "$SMMAP"
    if [[ $SYSTEM == posix ]]; then
        # A file truncated while cat writes it out (blocked on a full pipe):
        # the write from the window fails for that file (EFAULT, no
        # SIGBUS), which is reported as the file's error; the next file
        # is still written. It was taken for a broken stdout ("write
        # error: Bad address") and the next file skipped. Whether cat
        # gets there before the truncation is up to the scheduler: then
        # all is written and nothing reported.
        dd if=/dev/zero of="$tmp/shrink" bs=1M count=64 status=none
        printf abc >"$tmp/abc"
        ( set +e; "$SMMAP" cat "$tmp/shrink" "$tmp/abc" 2>"$tmp/err"
          echo $? >"$tmp/rc" ) | (sleep 1; cat >"$tmp/out") &
        sleep 0.3
        truncate -s 1M "$tmp/shrink"
        wait
        check_eq "cat of a file truncated meanwhile: the next file" abc "$(tail -c 3 "$tmp/out")"
        if [[ $(cat "$tmp/rc") == 0 ]]; then
            check_eq "cat of a file truncated meanwhile: stderr" "" "$(cat "$tmp/err")"
        else
            check_eq "cat of a file truncated meanwhile: stderr" \
                "smmap: $tmp/shrink: input/output error" "$(cat "$tmp/err")"
            check_eq "cat of a file truncated meanwhile: exit status" 1 "$(cat "$tmp/rc")"
        fi
        rm -f "$tmp/shrink"
    fi

    # Usage errors: exit 2, message and hint on stderr, nothing on stdout.
    check_run "no command" 2 "smmap: no command given (cat, stat or bench)
$try" "$SMMAP"
    check_run "unknown command" 2 "smmap: unknown command 'frob'
$try" "$SMMAP" frob
    check_eq "unknown command: stdout" "" "$(cat "$tmp/out")"
    check_run "unknown top option" 2 "smmap: unknown option '--frob'
$try" "$SMMAP" --frob
    check_run "cat unknown long option" 2 "smmap: cat: unknown option '--foo'
$try" "$SMMAP" cat --foo "$tmp/small"
    check_run "cat unknown short option" 2 "smmap: cat: unknown option '-x'
$try" "$SMMAP" cat -x "$tmp/small"
    check_run "stat has no -o" 2 "smmap: stat: unknown option '-o'
$try" "$SMMAP" stat -o 1 "$tmp/small"
    check_run "cat has no --random" 2 "smmap: cat: unknown option '--random'
$try" "$SMMAP" cat --random 5 "$tmp/small"
    check_run "cat no file" 2 "smmap: cat: no file given
$try" "$SMMAP" cat
    check_run "stat no file" 2 "smmap: stat: no file given
$try" "$SMMAP" stat --window 1M
    check_run "missing value" 2 "smmap: cat: option '--window' needs a value
$try" "$SMMAP" cat "$tmp/small" --window
    check_run "missing short value" 2 "smmap: cat: option '-n' needs a value
$try" "$SMMAP" cat "$tmp/small" -n
    check_run "value to a flag" 2 "smmap: stat: option '--static' takes no value
$try" "$SMMAP" stat --static=1 "$tmp/small"
    local bad
    for bad in 1X 1KB 1.5M -1 +1 "" " 1" 0x10 M 1M1 1e3; do
        check_run "bad size '$bad'" 2 "smmap: cat: invalid --window value '$bad' (expected digits with an optional K, M, G or T suffix)
$try" "$SMMAP" cat --window "$bad" "$tmp/small"
    done
    check_run "bad -n" 2 "smmap: cat: invalid -n value 'ten' (expected digits with an optional K, M, G or T suffix)
$try" "$SMMAP" cat -n ten "$tmp/small"
    check_run "bad --max-mapped=" 2 "smmap: stat: invalid --max-mapped value '8Q' (expected digits with an optional K, M, G or T suffix)
$try" "$SMMAP" stat --max-mapped=8Q "$tmp/small"
    check_run "overflow digits" 2 "smmap: cat: --window value '18446744073709551616' is too large (at most $MAX_WINDOW)
$try" "$SMMAP" cat --window 18446744073709551616 "$tmp/small"
    check_run "overflow suffix" 2 "smmap: cat: --max-mapped value '16777216T' is too large (at most 18446744073709551615)
$try" "$SMMAP" cat --max-mapped 16777216T "$tmp/small"
    check_run "overflow 32-bit budget" 2 "smmap: stat: --max-regions value '4G' is too large (at most 4294967295)
$try" "$SMMAP" stat --max-regions 4G "$tmp/small"
    check_run "overflow offset" 2 "smmap: cat: -o value '99999999999999999999' is too large (at most 18446744073709551615)
$try" "$SMMAP" cat -o 99999999999999999999 "$tmp/small"
    check_run "stat read too long" 2 "smmap: stat: -n value '2G' is too large (at most 1073741824)
$try" "$SMMAP" stat -n 2G "$tmp/small"
    check_run "zero window" 2 "smmap: cat: --window must be greater than 0 (use --static to map files whole)
$try" "$SMMAP" cat --window 0 "$tmp/small"
    check_run "zero max-mapped" 2 "smmap: cat: --max-mapped must be greater than 0
$try" "$SMMAP" cat --max-mapped 0 "$tmp/small"
    check_run "zero max-files" 2 "smmap: stat: --max-files must be greater than 0
$try" "$SMMAP" stat --max-files 0 "$tmp/small"
    check_run "zero stat -n" 2 "smmap: stat: -n must be greater than 0
$try" "$SMMAP" stat -n 0 "$tmp/small"
    check_run "static and window" 2 "smmap: stat: --static and --window exclude each other
$try" "$SMMAP" stat --static --window 1M "$tmp/small"
    check_run "budget below the default window" 2 "smmap: cat: --max-mapped (8 MiB) is smaller than the window ($DEFAULT_WINDOW); give a smaller --window too
$try" "$SMMAP" cat --max-mapped 8M "$tmp/small"
    check_run "budget below the window" 2 "smmap: cat: --max-mapped (64 KiB) is smaller than the window (1 MiB)
$try" "$SMMAP" cat --window 1M --max-mapped 64K "$tmp/small"
    # Only the library knows the window rounded up to a granule.
    check_run "budget below the rounded window" 2 "smmap: cat: cannot create the manager: invalid argument (is --max-mapped at least the window rounded up to $GRANULE?)" \
        "$SMMAP" cat --window 100 --max-mapped 200 "$tmp/small"
}

# Limits (issue 12, case 6): every size, count and offset at and past the
# largest value it takes. A value past it is a usage error (exit 2) with a
# message, never a wrapped value, a hang or a crash; the largest value works.
# Each command runs under timeout(1): a hang (as --window 8388608T did, in
# the library) fails its check with status 124 instead of blocking ctest.
section_limits() {
    local try="Try 'smmap --help' for more information."
    local u64=18446744073709551615 u32=4294967295
    local too_big="is too large (at most $MAX_WINDOW)"
    local w cmd
    # The issue's command line: a window of 2^63, a budget of 2^64 - 2^40.
    for cmd in cat stat; do
        check_run "$cmd --window 8388608T --max-mapped 16777215T" 2 "smmap: $cmd: --window value '8388608T' $too_big
$try" timeout 20 "$SMMAP" $cmd --window 8388608T --max-mapped 16777215T "$tmp/small"
        check_eq "$cmd --window 8388608T: stdout" "" "$(cat "$tmp/out")"
    done
    # Every window past the largest, whatever the budget: 2^63 - 1 rounds
    # up to 2^63; 2^64 - 4097 was the last one the library took (and hung
    # on); 2^64 - 1 and 16777215T are below the parser's own limit.
    for w in $((MAX_WINDOW + 1)) $((MAX_WINDOW + G - 1)) 9223372036854775807 \
        9223372036854775808 9223372036854775809 18446744073709547519 \
        18446744073709547520 $u64 16777215T 8388608T 12582912T; do
        check_run "--window $w" 2 "smmap: cat: --window value '$w' $too_big
$try" timeout 20 "$SMMAP" cat --window "$w" --max-mapped 16777215T "$tmp/small"
    done
    check_run "--window=$u64 with the default budget" 2 "smmap: stat: --window value '$u64' $too_big
$try" timeout 20 "$SMMAP" stat --window=$u64 "$tmp/small"
    check_run "--window past 2^64" 2 "smmap: cat: --window value '18446744073709551616' $too_big
$try" timeout 20 "$SMMAP" cat --window 18446744073709551616 "$tmp/small"
    # The largest window and the largest budget work.
    check_run "cat --window MAX_WINDOW --max-mapped 2^64-1" 0 "" \
        timeout 20 "$SMMAP" cat --window $MAX_WINDOW --max-mapped $u64 "$tmp/small"
    check_eq "cat --window MAX_WINDOW: stdout" "hello" "$(cat "$tmp/out")"
    check_run "stat --window MAX_WINDOW --max-mapped 16777215T" 0 "" \
        timeout 20 "$SMMAP" stat --window $MAX_WINDOW --max-mapped 16777215T --always-map "$tmp/small" "$tmp/r5000"
    check_eq "stat --window MAX_WINDOW: window_size" "$MAX_WINDOW" "$(stat_field window_size)"
    check_eq "stat --window MAX_WINDOW: max_mapped" 18446742974197923840 "$(stat_field max_mapped)"
    check_eq "stat --window MAX_WINDOW: bytes_read" 5006 "$(stat_field bytes_read)"
    check_eq "stat --window MAX_WINDOW: fnv1a64" "$(cat "$tmp/small" "$tmp/r5000" | "$FNV")" "$(stat_field fnv1a64)"
    check_eq "stat --window MAX_WINDOW: maps" 2 "$(stat_field maps)"
    if ((POINTER_BYTES == 8)); then
        # 2^63 - 2^40: far above any address space, below the limit. A file
        # of 6 GiB is mapped whole by it.
        check_run "cat --window 8388607T" 0 "" \
            timeout 20 "$SMMAP" cat --window 8388607T --max-mapped 16777215T "$tmp/small"
        check_eq "cat --window 8388607T: stdout" "hello" "$(cat "$tmp/out")"
        check_run "cat sparse --window MAX_WINDOW" 0 "" \
            timeout 20 "$SMMAP" cat -o $((4 * 2**30 + 4090)) -n 16 --window $MAX_WINDOW --max-mapped $u64 "$tmp/sparse"
        check_eq "cat sparse --window MAX_WINDOW: the marker" "PAST-4GiB-MARKER" "$(cat "$tmp/out")"
    fi
    check_run "--max-mapped 2^64-1 alone" 0 "" timeout 20 "$SMMAP" cat --max-mapped $u64 "$tmp/small"
    check_eq "--max-mapped 2^64-1 alone: stdout" "hello" "$(cat "$tmp/out")"
    check_run "--static --max-mapped 2^64-1" 0 "" timeout 20 "$SMMAP" cat --static --max-mapped $u64 "$tmp/small"
    check_eq "--static --max-mapped 2^64-1: stdout" "hello" "$(cat "$tmp/out")"

    # The size parser at 2^64: the largest value of each suffix, and the next.
    local ok pair
    for pair in 18446744073709551615=18446744073709551615 \
        18014398509481983K=18446744073709550592 17592186044415M=18446744073708503040 \
        17179869183G=18446744072635809792 16777215T=18446742974197923840 \
        000000000000000000000000000018446744073709551615=18446744073709551615; do
        ok=${pair%=*}
        check_run "--max-mapped $ok" 0 "" timeout 20 "$SMMAP" stat --max-mapped "$ok" -n 1 "$tmp/small"
        check_eq "--max-mapped $ok: max_mapped" "${pair#*=}" "$(stat_field max_mapped)"
    done
    for bad in 18446744073709551616 36893488147419103232 184467440737095516150 \
        99999999999999999999999999 18014398509481984K 17592186044416M 17179869184G 16777216T; do
        check_run "--max-mapped $bad" 2 "smmap: stat: --max-mapped value '$bad' is too large (at most $u64)
$try" timeout 20 "$SMMAP" stat --max-mapped "$bad" "$tmp/small"
    done
    # Offsets and lengths up to 2^64 - 1: an offset past the end gives no
    # bytes, a length past it the rest of the file.
    check_run "cat -o 2^64-1" 0 "" timeout 20 "$SMMAP" cat -o $u64 "$tmp/small"
    check_eq "cat -o 2^64-1: stdout" "" "$(cat "$tmp/out")"
    check_run "cat -o 16777215T -n 16777215T" 0 "" timeout 20 "$SMMAP" cat -o 16777215T -n 16777215T "$tmp/small" "$tmp/r1000"
    check_eq "cat -o 16777215T -n 16777215T: stdout" 0 "$(wc -c <"$tmp/out")"
    check_run "cat -o 1 -n 2^64-1" 0 "" timeout 20 "$SMMAP" cat -o 1 -n $u64 "$tmp/small"
    check_eq "cat -o 1 -n 2^64-1: stdout" "ello" "$(cat "$tmp/out")"
    check_run "cat -o 6 -n 2^64-1 (at the end)" 0 "" timeout 20 "$SMMAP" cat -o 6 -n $u64 "$tmp/small"
    check_eq "cat -o 6 -n 2^64-1: stdout" 0 "$(wc -c <"$tmp/out")"
    check_run "cat -o 16777216T" 2 "smmap: cat: -o value '16777216T' is too large (at most $u64)
$try" timeout 20 "$SMMAP" cat -o 16777216T "$tmp/small"
    check_run "cat -n 18446744073709551616" 2 "smmap: cat: -n value '18446744073709551616' is too large (at most $u64)
$try" timeout 20 "$SMMAP" cat -n 18446744073709551616 "$tmp/small"
    check_run "stat -n 1073741825" 2 "smmap: stat: -n value '1073741825' is too large (at most 1073741824)
$try" timeout 20 "$SMMAP" stat -n 1073741825 "$tmp/small"
    check_run "stat -n 16777215T" 2 "smmap: stat: -n value '16777215T' is too large (at most 1073741824)
$try" timeout 20 "$SMMAP" stat -n 16777215T "$tmp/small"
    # 32-bit budgets: 2^32 - 1 works, 2^32 (4G, 4194304K) does not.
    check_run "--max-regions and --max-files 2^32-1" 0 "" \
        timeout 20 "$SMMAP" stat --max-regions $u32 --max-files $u32 "$tmp/small"
    check_eq "--max-regions 2^32-1: max_regions" $u32 "$(stat_field max_regions)"
    check_eq "--max-files 2^32-1: max_open_files" $u32 "$(stat_field max_open_files)"
    for bad in 4294967296 4194304K 4G 1T; do
        check_run "--max-files $bad" 2 "smmap: stat: --max-files value '$bad' is too large (at most $u32)
$try" timeout 20 "$SMMAP" stat --max-files "$bad" "$tmp/small"
    done
    # The seed takes any 64-bit value.
    check_run "stat --seed 2^64-1" 0 "" timeout 20 "$SMMAP" stat --random 10 --seed $u64 -n 2 "$tmp/small"
    check_eq "stat --seed 2^64-1: seed" $u64 "$(stat_field seed)"
    check_eq "stat --seed 2^64-1: reads" 10 "$(stat_field reads)"
    check_run "stat --seed 2^64" 2 "smmap: stat: --seed value '18446744073709551616' is too large (at most $u64)
$try" timeout 20 "$SMMAP" stat --random 10 --seed 18446744073709551616 "$tmp/small"
    # --random draws offsets from all the bytes of all the files: files
    # holding more than 2^64 - 1 bytes in all are refused, not wrapped.
    # Sparse files of 2^63 - 1 bytes exist on tmpfs (not on ext4: 16 TiB).
    local huge="$tmp/huge" hugedir=""
    if ! truncate -s 9223372036854775807 "$huge" 2>/dev/null; then
        huge=""
        if [[ -d /dev/shm ]] && hugedir=$(mktemp -d /dev/shm/smmap-tool-test.XXXXXX 2>/dev/null); then
            if truncate -s 9223372036854775807 "$hugedir/huge" 2>/dev/null; then
                huge="$hugedir/huge"
            fi
        fi
    fi
    if [[ -n $huge ]]; then
        check_run "stat --random over 3 x (2^63 - 1) bytes" 2 "smmap: stat: --random: the files hold more than $u64 bytes in all
$try" timeout 20 "$SMMAP" stat --random 5 "$huge" "$huge" "$huge"
        check_eq "stat --random over 2^64 bytes: stdout" "" "$(cat "$tmp/out")"
        # Two of them, 2^64 - 2 bytes in all, are fine (read where windows
        # can be mapped anywhere in such a file: a 64-bit Linux build).
        if ((POINTER_BYTES == 8)) && [[ $SYSTEM == posix ]]; then
            check_run "stat --random over 2 x (2^63 - 1) bytes" 0 "" \
                timeout 20 "$SMMAP" stat --random 5 -n 16 --window 64K --max-mapped 1M "$huge" "$huge"
            check_eq "stat --random over 2^64 - 2 bytes: bytes_read" 80 "$(stat_field bytes_read)"
        fi
    else
        echo "limits: no file system here takes a file of 2^63 - 1 bytes: --random's total not checked"
    fi
    [[ -z $hugedir ]] || rm -rf "$hugedir"
}

section_misc() {
    local version
    version=$(sed -n 's/^#define SMMAP_VERSION_STRING "\(.*\)"$/\1/p' "$(dirname "$0")/../../include/smmap.h")
    check_run "--version" 0 "" "$SMMAP" --version
    check_eq "--version: stdout" "smmap $version" "$(cat "$tmp/out")"
    local args cat_usage stat_usage bench_usage
    cat_usage="Usage: smmap cat  [OPTIONS] [-o OFFSET] [-n LENGTH] FILE..."
    stat_usage="Usage: smmap stat [OPTIONS] [-n LENGTH] [--random N] [--seed S] [--verify] [--json] FILE..."
    bench_usage="Usage: smmap bench [ARGS...]"
    # The whole tool's help: every command's usage line under one "Usage:".
    for args in "--help" "-h" "help"; do
        check_run "$args" 0 "" "$SMMAP" $args
        check_eq "$args: usage lines" "$cat_usage
       ${stat_usage#Usage: }
       ${bench_usage#Usage: }
       smmap --version | --help
       smmap COMMAND --help" "$(head -n 5 "$tmp/out")"
    done
    # Each command's help: its own usage line first, exit 0, nothing on
    # stderr, its own options and not the other command's.
    for args in "cat --help" "cat -h" "help cat" "cat $tmp/nope --help" "cat --window 1M --help"; do
        # shellcheck disable=SC2086
        check_run "$args" 0 "" "$SMMAP" $args
        check_eq "$args: usage on stdout" "$cat_usage" "$(head -n 1 "$tmp/out")"
        check_eq "$args: cat's options, not stat's" "1 0 1" \
            "$(grep -c -- '--offset OFFSET' "$tmp/out") $(grep -c -- '--random N' "$tmp/out") $(grep -c -- '--max-mapped SIZE' "$tmp/out")"
    done
    for args in "stat --help" "stat -h" "help stat" "stat --random 5 -h $tmp/nope"; do
        # shellcheck disable=SC2086
        check_run "$args" 0 "" "$SMMAP" $args
        check_eq "$args: usage on stdout" "$stat_usage" "$(head -n 1 "$tmp/out")"
        check_eq "$args: stat's options, not cat's" "1 1 0 1" \
            "$(grep -c -- '--json  ' "$tmp/out") $(grep -c -- '--random N  ' "$tmp/out") $(grep -c -- '--offset' "$tmp/out") $(grep -c -- '--max-mapped SIZE' "$tmp/out")"
    done
    check_run "help frob" 2 "smmap: help: unknown command 'frob'
Try 'smmap --help' for more information." "$SMMAP" help frob
    if [[ $HAVE_BENCH != 1 ]]; then
        for args in "bench --help" "help bench"; do
            # shellcheck disable=SC2086
            check_run "$args (not built)" 0 "" "$SMMAP" $args
            check_eq "$args (not built): usage" "$bench_usage" "$(head -n 1 "$tmp/out")"
            check_eq "$args (not built): says so" "This smmap was built without them." "$(tail -n 1 "$tmp/out")"
        done
    else
        # The benchmark's own help, as bench --help gives it.
        run "$SMMAP" bench --help
        cp "$tmp/out" "$tmp/bench-help"
        check_run "help bench" 0 "" "$SMMAP" help bench
        if [[ -s $tmp/out ]] && cmp -s "$tmp/out" "$tmp/bench-help"; then pass; else
            fail "help bench: not the output of bench --help"; fi
    fi
    if [[ $HAVE_BENCH == 1 ]]; then
        run "$SMMAP" bench --help
        check_eq "bench --help: exit status" 0 "$rc"
        if [[ -s $tmp/out || -s $tmp/err ]]; then pass; else fail "bench --help printed nothing"; fi
        run "$SMMAP" bench --no-such-bench-option
        check_eq "bench usage error: exit status" 2 "$rc"
    else
        check_run "bench not built" 2 "smmap: bench: benchmarks were not built (configure with -DSMMAP_BUILD_BENCH=ON and a bench/ that defines smmap_benchlib)" "$SMMAP" bench
    fi
}

# json FIELD: one value of the JSON report in $tmp/out (stat_json.py get).
json() {
    /usr/bin/python3 "$TOOL_DIR/stat_json.py" "$tmp/out" get "$1" 2>&1 || true
}

# check_json NAME: the report in $tmp/out parses as one object whose shape
# and counters hold (stat_json.py check against smmap.h's smmap_stats).
check_json() {
    check_eq "$1: JSON shape" ok "$(/usr/bin/python3 "$TOOL_DIR/stat_json.py" "$tmp/out" check "$TOOL_DIR/../../include/smmap.h" 2>&1)"
}

# stat --json: the report as one JSON object, parsed by Python's json.
section_json() {
    local f
    # Sequential, with an empty file among them: exact counts and the
    # checksum of the bytes as cat gives them to the reference hasher.
    run "$SMMAP" stat --json --always-map --window $G --max-mapped $((4 * G)) -n 1000 "$tmp/rand" "$tmp/small" "$tmp/empty" "$tmp/r5000"
    check_eq "json sequential: exit status" 0 "$rc"
    check_eq "json sequential: stderr" "" "$(cat "$tmp/err")"
    check_json "json sequential"
    check_eq "json sequential: command" stat "$(json command)"
    check_eq "json sequential: reads" $((300 + 1 + 5)) "$(json reads)"
    check_eq "json sequential: bytes_read" 305006 "$(json bytes_read)"
    check_eq "json sequential: fnv1a64" "$(cat "$tmp/rand" "$tmp/small" "$tmp/r5000" | "$FNV")" "$(json fnv1a64)"
    check_eq "json sequential: files_read" 4 "$(json files_read)"
    check_eq "json sequential: streamed_files (the empty file)" 1 "$(json streamed_files)"
    check_eq "json sequential: stats.files" 4 "$(json stats.files)"
    check_eq "json sequential: options" "$G $((4 * G)) 1000 false true sliding sequential null null false 4" \
        "$(for f in window_size max_mapped read_length hard_limits always_map mode order random_reads seed verify files_given; do json options.$f; done | tr '\n' ' ' | sed 's/ $//')"
    check_eq "json sequential: verify_mismatches" null "$(json verify_mismatches)"
    check_eq "json sequential: interrupted" false "$(json interrupted)"
    # The same run in text: every stats field has the same value.
    cp "$tmp/out" "$tmp/json"
    run "$SMMAP" stat --always-map --window $G --max-mapped $((4 * G)) -n 1000 "$tmp/rand" "$tmp/small" "$tmp/empty" "$tmp/r5000"
    cp "$tmp/out" "$tmp/text"
    cp "$tmp/json" "$tmp/out"
    local fields="mapped_bytes peak_mapped_bytes regions peak_regions files files_mapped open_fds maps unmaps evictions reuses retries fd_closes fd_reopens direct_reads files_no_mmap read_windows faults"
    local from_json="" from_text=""
    for f in $fields; do
        from_json+="$f=$(json stats.$f) "
        from_text+="$f=$(awk -v k=$f '$1 == k { print $2 }' "$tmp/text") "
    done
    check_eq "json and text: the same stats" "$from_text" "$from_json"

    # Random reads: exactly the count asked, checked against pread.
    run "$SMMAP" stat --json --random 777 -n 100 --seed 9 --verify --window 64K --max-mapped 256K "$tmp/rand" "$tmp/r1000" "$tmp/empty"
    check_eq "json random: exit status" 0 "$rc"
    check_json "json random"
    check_eq "json random: reads" 777 "$(json reads)"
    check_eq "json random: order seed random_reads verify" "random 9 777 true" \
        "$(json options.order) $(json options.seed) $(json options.random_reads) $(json options.verify)"
    check_eq "json random: verify_mismatches" 0 "$(json verify_mismatches)"
    check_eq "json random: streamed_files (the empty file, never drawn)" 1 "$(json streamed_files)"
    # The same seed in text form reads the same bytes.
    local hash=$(json fnv1a64) bytes=$(json bytes_read)
    run "$SMMAP" stat --random 777 -n 100 --seed 9 --window 64K --max-mapped 256K "$tmp/rand" "$tmp/r1000" "$tmp/empty"
    check_eq "json random: same bytes as the text run" "$hash $bytes" "$(stat_field fnv1a64) $(stat_field bytes_read)"

    # A file error: the report is still one object, the exit status 1.
    run "$SMMAP" stat --json "$tmp/nope" "$tmp/small"
    check_eq "json file error: exit status" 1 "$rc"
    check_eq "json file error: stderr" "smmap: $tmp/nope: no such file or directory" "$(cat "$tmp/err")"
    check_json "json file error"
    check_eq "json file error: bytes_read of the rest" 6 "$(json bytes_read)"
    check_eq "json file error: files_given files_read" "2 1" "$(json options.files_given) $(json files_read)"
    # Static mode and the largest budget: exact 64-bit integers.
    run "$SMMAP" stat --json --static --max-mapped 18446744073709551615 --hard "$tmp/rand"
    check_json "json static"
    check_eq "json static: options" "0 18446744073709551615 static true" \
        "$(json options.window_size) $(json options.max_mapped) $(json options.mode) $(json options.hard_limits)"
    check_eq "json static: mapped_bytes" 300000 "$(json stats.mapped_bytes)"
    # --json is stat's alone.
    check_run "cat --json" 2 "smmap: cat: unknown option '--json'
Try 'smmap --help' for more information." "$SMMAP" cat --json "$tmp/small"
}

# Files whose size is not their length: read with read(2) until EOF.
section_stream() {
    local pid sysfs="" f
    # A pipe and a character device.
    set +e
    printf 'abcdefghij' | "$SMMAP" cat -o 2 -n 5 - >"$tmp/out" 2>"$tmp/err"
    rc=$?
    set -e
    check_eq "stream pipe -o 2 -n 5: status, stdout, stderr" "0 cdefg " "$rc $(cat "$tmp/out") $(cat "$tmp/err")"
    run timeout 20 "$SMMAP" cat -o 100 -n 100000 /dev/zero
    check_eq "stream /dev/zero -n 100000: exit status" 0 "$rc"
    if cmp -s "$tmp/out" <(head -c 100000 /dev/zero); then pass; else
        fail "stream /dev/zero -n 100000: $(wc -c <"$tmp/out") bytes"; fi
    set +e
    head -c 200000 "$tmp/rand" | "$SMMAP" stat -n 64K - >"$tmp/out" 2>"$tmp/err"
    rc=$?
    set -e
    check_eq "stream stat pipe: exit status" 0 "$rc"
    check_eq "stream stat pipe: reads bytes streamed" "4 200000 1" \
        "$(stat_field reads) $(stat_field bytes_read) $(stat_field streamed_files)"
    check_eq "stream stat pipe: fnv1a64" "$(head -c 200000 "$tmp/rand" | "$FNV")" "$(stat_field fnv1a64)"
    check_eq "stream stat pipe: no window" "0 0" "$(stat_field maps) $(stat_field files)"

    # A regular file as standard input is mapped, from its position on, as
    # cat reads it; the position is left after the last byte written, as
    # head -c leaves it, for whatever reads next.
    printf 'hello world\n' >"$tmp/hw"
    run bash -c '{ head -c 6 >/dev/null; "$1" cat -; } <"$2"' _ "$SMMAP" "$tmp/hw"
    check_eq "stdin file at a position: status, stdout, stderr" "0 world " "$rc $(cat "$tmp/out") $(cat "$tmp/err")"
    run bash -c '{ "$1" cat -o 2 -n 3 -; echo "|"; cat; } <"$2"' _ "$SMMAP" "$tmp/hw"
    check_eq "stdin file -o 2 -n 3: the rest left for the next reader" "0 llo|
 world" "$rc $(cat "$tmp/out")"
    run bash -c '"$1" cat - - <"$2"' _ "$SMMAP" "$tmp/hw"
    check_eq "stdin file twice: the second at its end, as cat" "0 hello world" "$rc $(cat "$tmp/out")"

    if [[ $SYSTEM != posix || ! -r /proc/self/maps ]]; then
        echo "stream: no /proc here: the size-0 file checks are left out"
        return
    fi
    # /proc/PID/maps of a process that sleeps is the same at every read;
    # the size is 0.
    sleep 60 &
    pid=$!
    # Until it is sleep, loaded: the forked shell before its exec, or the
    # loader mapping libraries, changes the maps between two reads.
    local tries=0 before=""
    while ((tries++ < 100)); do
        if [[ $(cat /proc/$pid/comm) == sleep && $(cat /proc/$pid/maps) == "$before" ]]; then break; fi
        before=$(cat /proc/$pid/maps)
        sleep 0.05
    done
    check_eq "stream: /proc/$pid/maps has size 0" 0 "$(stat -c %s /proc/$pid/maps)"
    run "$SMMAP" cat /proc/$pid/maps
    check_eq "stream cat /proc/PID/maps: status and stderr" "0 " "$rc $(cat "$tmp/err")"
    # (cmp alone would take the sizes, 0 and 3 KiB, as a difference.)
    if [[ -s $tmp/out ]] && cmp -s "$tmp/out" <(cat /proc/$pid/maps); then pass; else
        fail "stream cat /proc/$pid/maps: $(wc -c <"$tmp/out") bytes, cat gives $(wc -c </proc/$pid/maps)"; fi
    run "$SMMAP" cat -o 10 -n 100 /proc/$pid/maps "$tmp/small" /proc/$pid/maps
    expected_cat 10 100 /proc/$pid/maps "$tmp/small" /proc/$pid/maps >"$tmp/expected"
    if [[ $rc == 0 ]] && cmp -s "$tmp/out" "$tmp/expected"; then pass; else
        fail "stream cat -o 10 -n 100 maps small maps (exit $rc)"; fi
    run "$SMMAP" stat --json -n 100 /proc/$pid/maps "$tmp/small"
    check_json "stream stat /proc/PID/maps"
    local len=$(($(wc -c </proc/$pid/maps) + 6))
    check_eq "stream stat /proc/PID/maps: reads bytes_read streamed files" \
        "$(( ($(wc -c </proc/$pid/maps) + 99) / 100 + 1 )) $len 1 2" \
        "$(json reads) $(json bytes_read) $(json streamed_files) $(json stats.files)"
    check_eq "stream stat /proc/PID/maps: fnv1a64" "$(cat /proc/$pid/maps "$tmp/small" | "$FNV")" "$(json fnv1a64)"
    # Its own maps name the tool's program file.
    run "$SMMAP" cat /proc/self/maps
    check_eq "stream cat /proc/self/maps: names the tool" 1 \
        "$(grep -c -m 1 -F "$(basename "$SMMAP")" "$tmp/out")"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    # --random draws from sizes: a /proc file is reported and not read, an
    # empty file is left out quietly.
    run "$SMMAP" stat --random 10 /proc/self/maps "$tmp/small"
    check_eq "stream stat --random /proc: exit status" 1 "$rc"
    check_eq "stream stat --random /proc: stderr" "smmap: /proc/self/maps: not read: --random draws offsets from file sizes, and this file is read as a stream (a proc file: its size is not its length)" "$(cat "$tmp/err")"
    check_eq "stream stat --random /proc: reads" 10 "$(stat_field reads)"
    run "$SMMAP" stat --random 10 "$tmp/empty" "$tmp/small"
    check_eq "stream stat --random empty: status and stderr" "0 " "$rc $(cat "$tmp/err")"

    # A sysfs attribute says 4096 bytes and holds a few: the library alone
    # called it changed on disk.
    for f in /sys/devices/system/cpu/online /sys/kernel/mm/transparent_hugepage/enabled /sys/power/state; do
        if [[ -r $f ]] && cat "$f" >/dev/null 2>&1; then sysfs=$f; break; fi
    done
    if [[ -z $sysfs ]]; then
        echo "stream: no readable sysfs file here: the sysfs checks are left out"
        return
    fi
    run "$SMMAP" cat "$sysfs"
    check_eq "stream cat $sysfs: status and stderr" "0 " "$rc $(cat "$tmp/err")"
    if [[ -s $tmp/out ]] && cmp -s "$tmp/out" <(cat "$sysfs"); then pass; else
        fail "stream cat $sysfs: $(wc -c <"$tmp/out") bytes, cat gives $(wc -c <"$sysfs")"; fi
    run "$SMMAP" stat "$sysfs" "$tmp/small"
    check_eq "stream stat $sysfs: status and stderr" "0 " "$rc $(cat "$tmp/err")"
    check_eq "stream stat $sysfs: bytes_read streamed_files" "$(($(wc -c <"$sysfs") + 6)) 1" \
        "$(stat_field bytes_read) $(stat_field streamed_files)"
    check_eq "stream stat $sysfs: fnv1a64" "$(cat "$sysfs" "$tmp/small" | "$FNV")" "$(stat_field fnv1a64)"
}

# Ctrl-C during a long stat prints the partial report, then the tool dies
# of SIGINT (status 130 through timeout --preserve-status). A sparse file
# of 1 TiB read in 1 MiB reads takes minutes; the signal comes after 1 s.
section_signal() {
    if [[ $SYSTEM != posix ]]; then
        echo "signal: SIGINT is a POSIX signal here: left out for $SYSTEM"
        return
    fi
    local big="$tmp/big" reads bytes
    if ! truncate -s 1T "$big" 2>/dev/null; then
        echo "signal: no sparse file of 1 TiB here: left out"
        return
    fi
    run timeout --preserve-status -s INT 1 "$SMMAP" stat -n 1M --window 64M --max-mapped 128M "$big"
    check_eq "SIGINT stat: exit status" 130 "$rc"
    check_eq "SIGINT stat: stderr (not a terminal: no progress line)" "" "$(cat "$tmp/err")"
    check_eq "SIGINT stat: interrupted" 1 "$(stat_field interrupted)"
    reads=$(stat_field reads)
    bytes=$(stat_field bytes_read)
    check_range "SIGINT stat: reads (some, not all)" 1 $((2**20 - 1)) "$reads"
    check_eq "SIGINT stat: bytes_read (whole reads)" $((reads * 2**20)) "$bytes"
    check_eq "SIGINT stat: fnv1a64 of that many zeros" "$(head -c "$bytes" /dev/zero | "$FNV")" "$(stat_field fnv1a64)"
    check_eq "SIGINT stat: the report's last line" "interrupted 1" "$(tail -n 1 "$tmp/out")"
    run timeout --preserve-status -s INT 1 "$SMMAP" stat --json --random 100000000 -n 4K --window 1M --max-mapped 8M "$big"
    check_eq "SIGINT stat --json --random: exit status" 130 "$rc"
    check_json "SIGINT stat --json --random"
    check_eq "SIGINT stat --json --random: interrupted" true "$(json interrupted)"
    check_range "SIGINT stat --json --random: reads (some, not all)" 1 99999999 "$(json reads)"
    # A read waiting on an empty pipe is interrupted too (no SA_RESTART).
    set +e
    sleep 5 | timeout --preserve-status -s INT 1 "$SMMAP" stat - >"$tmp/out" 2>"$tmp/err"
    rc=$?
    set -e
    check_eq "SIGINT stat on a waiting pipe: exit status" 130 "$rc"
    check_eq "SIGINT stat on a waiting pipe: reads interrupted" "0 1" "$(stat_field reads) $(stat_field interrupted)"
    # A SIGINT ignored when the tool starts (as a shell without job control
    # starts a background job) stays ignored: no report, SIGTERM ends it.
    local pid
    (trap '' INT; exec "$SMMAP" stat -n 1M "$big" >"$tmp/out" 2>"$tmp/err") &
    pid=$!
    sleep 1
    kill -INT "$pid"
    sleep 1
    kill -TERM "$pid"
    set +e
    wait "$pid"
    rc=$?
    set -e
    check_eq "SIGINT ignored: ended by SIGTERM, no report" "143 0" "$rc $(wc -c <"$tmp/out")"
    # On a terminal, the progress line: "smmap stat: N reads, SIZE in S s,
    # R MB/s" on stderr after the first second, cleared at the end.
    if command -v script >/dev/null; then
        script -qec "timeout --preserve-status -s INT 2.5 $(printf %q "$SMMAP") stat -n 1M --window 64M --max-mapped 128M $(printf %q "$big") >$(printf %q "$tmp/out")" /dev/null >"$tmp/tty" 2>&1 || true
        if grep -aEq $'\r''smmap stat: [0-9]+ reads, [0-9.]+ [KMGT]?i?B in [0-9]+\.[0-9] s, [0-9]+\.[0-9] MB/s' "$tmp/tty"; then pass; else
            fail "progress line on a terminal: $(od -c "$tmp/tty" | head -5)"; fi
        check_eq "progress line: the report still on stdout" "interrupted 1" "$(tail -n 1 "$tmp/out")"
    else
        echo "signal: no script(1) for a terminal: the progress line is not checked"
    fi
}

# The manual page: it renders without a warning, and it names every option
# that `smmap --help` and each command's --help name.
section_man() {
    local page="$TOOL_DIR/../../tools/smmap.1" opt missing=""
    if ! command -v groff >/dev/null; then
        echo "man: no groff here (Debian: groff-base): the manual is not rendered"
        return
    fi
    run groff -man -Tutf8 -ww -z "$page"
    check_eq "man: groff -ww: status and warnings" "0 " "$rc $(cat "$tmp/err")"
    run groff -man -Tutf8 -P -c "$page"
    check_eq "man: renders" 0 "$rc"
    sed 's/\x1b\[[0-9;]*m//g; s/.\x08//g; s/‐/-/g' "$tmp/out" >"$tmp/man.txt"
    check_eq "man: title" "SMMAP(1)" "$(head -n 1 "$tmp/man.txt" | awk '{ print $1 }')"
    for opt in $( { "$SMMAP" --help; "$SMMAP" cat --help; "$SMMAP" stat --help; } | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
        grep -q -- "$opt" "$tmp/man.txt" || missing+=" $opt"
    done
    check_eq "man: every option of --help is in the manual" "" "$missing"
    # Installed with the tool to share/man/man1 (the tools directory's
    # install script, run alone into a scratch prefix).
    if [[ -n $TOOL_BUILD_DIR && -f $TOOL_BUILD_DIR/cmake_install.cmake ]]; then
        run cmake -DCMAKE_INSTALL_PREFIX="$tmp/prefix" -P "$TOOL_BUILD_DIR/cmake_install.cmake"
        check_eq "man: install status" 0 "$rc"
        if cmp -s "$page" "$tmp/prefix/share/man/man1/smmap.1"; then pass; else
            fail "man: not installed as share/man/man1/smmap.1: $(cd "$tmp/prefix" 2>/dev/null && find . -type f)"; fi
    fi
}

make_files
case $section in
cat | stat | errors | limits | misc | json | stream | signal | man) "section_$section" ;;
all) for s in cat stat errors limits misc json stream signal man; do "section_$s"; done ;;
*) echo "unknown section $section" >&2; exit 2 ;;
esac
if [[ $SYSTEM == windows ]]; then
    echo "wine: $wine_reruns command(s) exited 1 with no output and were run again"
fi
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
