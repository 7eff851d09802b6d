#!/usr/bin/env bash
# demo.sh - the main job: build smmap, then read real files of this machine
# and an 8 GiB sparse file through one manager with a 1 MiB window and an
# 8 MiB budget, and print what the manager did.
#
#   scripts/demo.sh            (builds into build-demo/; SMMAP_DEMO_BUILD=dir to change)
#
# It checks, and exits 1 if any check fails:
#   - every byte read through the windows equals what plain pread() gives
#     (smmap stat --verify);
#   - bytes written past 4 GiB and 6 GiB of the sparse file read back exactly
#     (smmap cat -o ... | xxd);
#   - peak_mapped_bytes <= max_mapped + one window in every run.
# Runs in well under a minute on a 2-core machine; needs cmake, a C compiler
# and coreutils, and a file system with sparse files for $TMPDIR.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${SMMAP_DEMO_BUILD:-$root/build-demo}
window=$((1 << 20))
budget=$((8 << 20))
status=0

say() { printf '\n== %s\n' "$*"; }
# xxd comes with vim or Debian's xxd package; od is POSIX.
hexdump_bytes() { if command -v xxd >/dev/null; then xxd "$1"; else od -A x -t x1z "$1"; fi; }

say "build ($build)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DSMMAP_BUILD_TESTS=OFF -DSMMAP_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target smmap -j 2 >/dev/null
smmap=$build/tools/smmap
"$smmap" --version

tmp=$(mktemp -d "${TMPDIR:-/tmp}/smmap-demo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# run_stat TITLE ARGS...: smmap stat, report shown, budget and verify checked.
run_stat() {
    local title=$1 rc=0 peak mismatches
    shift
    say "$title"
    echo "\$ smmap stat $*" | sed "s|$tmp|\$TMP|g"
    "$smmap" stat "$@" >"$tmp/report" || rc=$?
    sed "s|$tmp|\$TMP|g" "$tmp/report"
    peak=$(awk '$1 == "peak_mapped_bytes" { print $2 }' "$tmp/report")
    mismatches=$(awk '$1 == "verify_mismatches" { print $2 }' "$tmp/report")
    if [[ $rc == 0 && $mismatches == 0 ]]; then
        echo "check: smmap stat exited 0, verify_mismatches 0 (every byte equals pread's): ok"
    else
        echo "check: smmap stat exited $rc, verify_mismatches ${mismatches:-missing}: FAILED"
        status=1
    fi
    if [[ -n $peak ]] && ((peak <= budget + window)); then
        echo "check: peak_mapped_bytes $peak <= max_mapped + window = $((budget + window)): ok"
    else
        echo "check: peak_mapped_bytes ${peak:-missing} > max_mapped + window = $((budget + window)): FAILED"
        status=1
    fi
}

# The largest shared libraries of this machine, found with POSIX find and
# wc (-size +2048: more than 1 MiB in 512-byte blocks). Hard links (the
# Mesa drivers are one file under many names) are one file for smmap.
mapfile -t libs < <(find /usr/lib /usr/lib64 /lib64 /usr/local/lib -maxdepth 3 \
    -type f -name '*.so*' -size +2048 -exec wc -c {} + 2>/dev/null |
    awk '$2 != "total"' | sort -rn | head -n 8 | awk '{ print $2 }')
if ((${#libs[@]} == 0)); then
    echo "no shared library larger than 1 MiB found under /usr/lib, /usr/lib64, /lib64, /usr/local/lib" >&2
    exit 1
fi
say "the ${#libs[@]} largest shared libraries"
wc -c "${libs[@]}"

run_stat "libraries, read sequentially in 64 KiB reads" \
    --window 1M --max-mapped 8M --verify "${libs[@]}"
run_stat "libraries, 20000 random 4 KiB reads, at most 4 descriptors open" \
    --window 1M --max-mapped 8M --max-files 4 --random 20000 -n 4K --seed 42 \
    --verify "${libs[@]}"

# An 8 GiB sparse file with distinctive bytes just past 4 GiB, past 6 GiB
# and at its very end; everything else is a hole that reads as zeros.
sparse=$tmp/sparse-8GiB
mark4=$((4 * 2**30 + 1234))
mark6=$((6 * 2**30 + 5678))
markend=$((8 * 2**30 - 16))
truncate -s $((8 * 2**30)) "$sparse"
printf 'past-4-GiB:smmap' | dd of="$sparse" bs=1 seek=$mark4 conv=notrunc status=none
printf 'past-6-GiB:smmap' | dd of="$sparse" bs=1 seek=$mark6 conv=notrunc status=none
printf 'the-end-of-8GiB!' | dd of="$sparse" bs=1 seek=$markend conv=notrunc status=none
say "the sparse file"
ls -ls "$sparse" | sed "s|$tmp|\$TMP|g"
echo "(first column: KiB actually allocated on disk)"

# Random reads: the first touch of a hole costs the kernel a page-cache fill
# per fault (about a millisecond on ext4), so a few thousand reads, not more.
run_stat "8 GiB sparse file, 4000 random 4 KiB reads" \
    --window 1M --max-mapped 8M --random 4000 -n 4K --seed 1 --verify "$sparse"
run_stat "the same with a hard budget (--hard)" \
    --window 1M --max-mapped 8M --hard --random 4000 -n 4K --seed 1 --verify "$sparse"

say "bytes past 4 GiB through a 1 MiB window and an 8 MiB budget"
for spec in "$mark4:past-4-GiB:smmap" "$mark6:past-6-GiB:smmap" \
    "$markend:the-end-of-8GiB!" "$((mark4 - 8)):"; do
    offset=${spec%%:*}
    want=${spec#*:}
    [[ -n $want ]] || want=$(printf '\0\0\0\0\0\0\0\0past-4-G' | tr '\0' '.')
    echo "\$ smmap cat -o $offset -n 16 --window 1M --max-mapped 8M \$TMP/sparse-8GiB | xxd"
    "$smmap" cat -o "$offset" -n 16 --window 1M --max-mapped 8M "$sparse" >"$tmp/bytes"
    hexdump_bytes "$tmp/bytes"
    got=$(tr '\0' '.' <"$tmp/bytes")
    if [[ $got == "$want" ]]; then
        echo "check: the 16 bytes at offset $offset are \"$want\": ok"
    else
        echo "check: the 16 bytes at offset $offset are \"$got\", want \"$want\": FAILED"
        status=1
    fi
done

say "result"
if ((status == 0)); then echo "all checks passed"; else echo "SOME CHECKS FAILED"; fi
exit $status
