#!/usr/bin/env bash
# test-cross.sh TARGET - the whole C test suite (everything ctest holds) for
# another architecture or C library:
#
#   aarch64  64-bit ARM Linux (glibc), built with clang --target and run
#            under qemu-aarch64 (cmake/toolchain-aarch64-linux-gnu.cmake)
#   s390x    IBM Z Linux (glibc), 64-bit BIG-ENDIAN, built with clang
#            --target and run under qemu-s390x
#            (cmake/toolchain-s390x-linux-gnu.cmake)
#   musl     x86-64 Linux with musl libc (musl-gcc), programs linked
#            statically, run natively (cmake/toolchain-musl.cmake)
#
# into build-TARGET/, ending with the line "N passed, N failed". Exits
# non-zero on any failure; never skips: a missing toolchain is a failure
# that names the packages to install.
#
# Before the tests, cross_probe (scripts/cross-probe/) asks the system that
# runs them two things the library relies on: the address a SIGBUS reports
# (si_addr), and whether madvise(MADV_POPULATE_READ) populates. Debian 12's
# qemu-user 7.2 gets both wrong: for a big-endian guest it swaps the 32-bit
# halves of si_addr (smmap's guard outside x86-64 recognizes its own faults
# by that address), and it accepts MADV_POPULATE_READ without doing
# anything. The tests that need the right answer cannot check anything on
# such a system; when the probe finds a defect, the script says so, names
# them and leaves exactly them out (ctest -E, or single cases of a test
# program, whose other cases still run one by one). On a system without the
# defects (real hardware, a fixed qemu) every test runs.
#
# No cross gcc: Debian 12's gcc-*-linux-gnu packages conflict with
# gcc-multilib (the 32-bit suite), so the cross targets use clang with the
# libc6-dev-*-cross sysroots, which conflict with nothing.
#
#   scripts/test-cross.sh aarch64
#   SMMAP_CROSS_BUILD=/tmp/b scripts/test-cross.sh s390x
#   SMMAP_CROSS_CHECK_EXCLUDED=1 scripts/test-cross.sh s390x
#       # also run what is left out, and fail if any of it passes there
#       # (the list is then wider than the defect)
set -euo pipefail

target=${1:-}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=${SMMAP_JOBS:-2}
name="test-cross"

case "$target" in
aarch64 | s390x)
    triple=$target-linux-gnu
    debarch=$target
    [ "$target" = aarch64 ] && debarch=arm64
    toolchain=$root/cmake/toolchain-$triple.cmake
    qemu=qemu-$target
    packages="clang binutils-$triple libc6-dev-$debarch-cross libgcc-12-dev-$debarch-cross libstdc++-12-dev-$debarch-cross qemu-user"
    title="$target (clang --target=$triple, qemu-user)"
    ;;
musl)
    toolchain=$root/cmake/toolchain-musl.cmake
    packages="musl-tools musl-dev g++"
    title="musl (musl-gcc, static, x86-64)"
    ;;
*)
    echo "usage: $0 aarch64|s390x|musl" >&2
    exit 2
    ;;
esac
build=${SMMAP_CROSS_BUILD:-$root/build-$target}

missing() {
    echo "$name $target: $1" >&2
    echo "  apt-get install -y $packages" >&2
    exit 1
}
if [ "$target" = musl ]; then
    command -v musl-gcc >/dev/null || missing "musl-gcc not found."
    command -v g++ >/dev/null || missing "g++ not found (the header's C++ test)."
else
    if ! command -v clang >/dev/null || ! command -v clang++ >/dev/null; then
        missing "clang not found."
    fi
    command -v "$triple-ld" >/dev/null || missing "$triple-ld not found."
    [ -f "/usr/$triple/include/stdio.h" ] || missing "no C library in /usr/$triple."
    compgen -G "/usr/lib/gcc-cross/$triple/*/crtbegin.o" >/dev/null ||
        missing "no libgcc in /usr/lib/gcc-cross/$triple."
    compgen -G "/usr/$triple/include/c++/*/cstddef" >/dev/null ||
        missing "no C++ headers in /usr/$triple/include/c++."
    command -v "$qemu" >/dev/null || missing "$qemu not found."
fi

cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_TOOLCHAIN_FILE=$toolchain")

# --- The probe: what the system that runs the tests reports. -------------
rm -rf "$build"
mkdir -p "$build"
probe_build=$build/cross-probe
if ! cmake -S "$root/scripts/cross-probe" -B "$probe_build" "${cmake_args[@]}" \
        >"$build/cross-probe.log" 2>&1 ||
   ! cmake --build "$probe_build" >>"$build/cross-probe.log" 2>&1; then
    cat "$build/cross-probe.log" >&2
    missing "the toolchain cannot build the probe (above)."
fi
emulator=()
while IFS= read -r word; do
    [ -n "$word" ] && emulator+=("$word")
done <"$probe_build/emulator.txt"
runner="natively"
if ((${#emulator[@]})); then
    runner="under $("${emulator[0]}" --version | head -1)"
fi
probe_out=$("${emulator[@]}" "$probe_build/cross_probe") || {
    echo "$probe_out"
    echo "$name $target: the probe failed $runner" >&2
    echo "0 passed, 1 failed"
    exit 1
}
echo "$name $target: $runner; the system reports:"
while IFS= read -r line; do echo "  $line"; done <<<"$probe_out"
si_addr=$(sed -n 's/^si_addr=\([a-z]*\).*/\1/p' <<<"$probe_out")
populate=$(sed -n 's/^populate=\([a-z]*\).*/\1/p' <<<"$probe_out")

# --- What a defect of the system leaves unchecked. ------------------------
# An entry is a ctest test (left out whole) or TEST:CASE, one case of a
# test program built on tests/test.h (its other cases then run one by one,
# each counted as a test). MODEL_VERSIONS: the model test runs with
# --no-versions instead (its runs that change files on disk truncate them
# under maps), shown as "model(versions)".
#
# si_addr swapped: every test where a SIGBUS of a truncated file's page
# must be recognized by its address (the guard's -EIO, or a handler that
# checks it got the fault it caused). aarch64 runs all of them with the same
# guard code (os_guard_posix.c's sigsetjmp path). A new test of that kind
# fails the s390x suite under Debian's qemu until it is named here; run
# with SMMAP_CROSS_CHECK_EXCLUDED=1 to see that each entry still fails
# there (and so that the list is no wider than the defect).
siaddr_excluded=(
    os:test_os__guarded_copy_of_a_lost_page_is_eio
    # Passed under qemu until the library's layout changed (17ec4c7 on):
    # whether the emulator's swapped address still lets the copy finish
    # depends on where things land, not on the guard.
    os:test_os__guarded_copy_hole_in_a_large_copy_is_eio
    hostile_truncation_under_readers
    hostile_foreign_sigbus_reaches_application
    hostile_application_owns_the_handler
    hostile_foreign_sigbus_reaches_plain_handler
    hostile_late_handler_then_guard_install
    hostile_late_handler_then_new_window
    hostile_handler_cycle_is_cut
    hostile_foreign_sigbus_in_thread_that_never_copied
    version:test_version__populate_of_truncated_file_touching
    version:test_version__populate_of_truncated_file_native
    version:test_version__no_zeros_after_truncation_seen
    version:test_version__fault_under_check_mtime_keeps_bytes_before_end
    MODEL_VERSIONS
    stress_versions
)
# populate a no-op: the test that asks the system to populate a window of a
# file truncated after the map, and expects the system's refusal.
populate_excluded=(
    version:test_version__populate_of_truncated_file_native
)

excluded=()
exclude() { # ENTRY... not already excluded
    local e
    for e in "$@"; do
        [[ " ${excluded[*]-} " == *" $e "* ]] || excluded+=("$e")
    done
}
if [ "$si_addr" = swapped ]; then
    echo "$name $target: si_addr is swapped $runner (the halves of the fault" \
         "address exchanged); the guard cannot recognize its own faults there," \
         "so the ${#siaddr_excluded[@]} checks that rely on it are excluded:" \
         "${siaddr_excluded[*]//MODEL_VERSIONS/model(versions)}"
    exclude "${siaddr_excluded[@]}"
elif [ "$si_addr" != exact ]; then
    echo "$name $target: si_addr is neither the fault address nor swapped;" \
         "nothing is excluded for it (the guard's tests will show what fails)"
fi
if [ "$populate" = noop ]; then
    echo "$name $target: madvise(MADV_POPULATE_READ) succeeds without populating" \
         "$runner; the ${#populate_excluded[@]} check that needs the system's" \
         "refusal is excluded: ${populate_excluded[*]}"
    exclude "${populate_excluded[@]}"
fi

# --- Build. ---------------------------------------------------------------
cmake -S "$root" -B "$build" "${cmake_args[@]}"
# Keep going past a target that does not build, so that every test that
# does build still runs and the counts below are complete; a test whose
# program is missing counts as failed, and so does the build.
. "$root/scripts/ctest-build-run.sh"
ctest_build_keep_going "$name $target" "$build" "$jobs"

# Every test's command (the emulator included) and directory, from ctest.
tests_json=$build/tests.json
(cd "$build" && ctest --show-only=json-v1) >"$tests_json"
ctest_command() { # NAME -> the command, one word a line, then the directory
    python3 - "$tests_json" "$1" <<'EOF'
import json, sys
for t in json.load(open(sys.argv[1]))["tests"]:
    if t["name"] == sys.argv[2]:
        print("\n".join(t["command"]))
        for p in t.get("properties", []):
            if p["name"] == "WORKING_DIRECTORY":
                print(p["value"])
        sys.exit(0)
sys.exit(1)
EOF
}
ctest_names=$(python3 -c 'import json, sys
print("\n".join(t["name"] for t in json.load(open(sys.argv[1]))["tests"]))' "$tests_json")

# --- Sort the exclusions into ctest -E and replacement runs. ----------------
whole=() split_tests=() stale=0
declare -A cases_out=()
model_versions_out=0
for entry in ${excluded[@]+"${excluded[@]}"}; do
    if [ "$entry" = MODEL_VERSIONS ]; then
        model_versions_out=1
        whole+=(model)
        continue
    fi
    test=${entry%%:*}
    if ! grep -qx "$test" <<<"$ctest_names"; then
        echo "$name $target: excluded test $test is not in the suite (stale list)" >&2
        stale=1
        continue
    fi
    if [ "$entry" = "$test" ]; then
        whole+=("$test")
    else
        [[ "${cases_out[$test]:-}" == *" ${entry#*:} "* ]] ||
            cases_out[$test]+=" ${entry#*:} "
        split_tests+=("$test")
    fi
done
mapfile -t split_tests < <(printf '%s\n' ${split_tests[@]+"${split_tests[@]}"} | sort -u | sed '/^$/d')
whole+=(${split_tests[@]+"${split_tests[@]}"})
exclude_regex=""
if ((${#whole[@]})); then
    exclude_regex="^($(printf '%s\n' "${whole[@]}" | sort -u | paste -sd'|'))\$"
fi

# --- Run. -----------------------------------------------------------------
log="$build/ctest.log"
ctest_args=(--output-on-failure -j "$jobs" --timeout 600
            --test-output-size-failed 200000)
[ -n "$exclude_regex" ] && ctest_args+=(-E "$exclude_regex")
ctest_tee "$build" "$log" "${ctest_args[@]}"
ctest_counts "$name $target" "$log" || exit 1
failed=$ctest_failed
passed=$((ctest_total - ctest_failed))
[ "$ctest_status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=$((failed + 1))

# One replacement run: LABEL, then the command. Counts as one test.
extra_failed=()
run_one() {
    local label=$1 out rc
    shift
    echo "--- $label: $*"
    set +e
    out=$(cd "$workdir" && timeout 600 "$@" 2>&1)
    rc=$?
    set -e
    tail -n 20 <<<"$out"
    if [ $rc -eq 0 ] && grep -qE '^([1-9][0-9]* passed, 0 failed$|model: )' <<<"$out"; then
        passed=$((passed + 1))
    else
        echo "--- $label: FAILED (exit $rc)"
        failed=$((failed + 1))
        extra_failed+=("$label")
    fi
}

for test in ${split_tests[@]+"${split_tests[@]}"}; do
    mapfile -t cmd < <(ctest_command "$test")
    workdir=${cmd[-1]}
    unset 'cmd[-1]'
    prog=$(basename "${cmd[-1]}")
    src=$(find "$root/tests" -name "$prog.c" | head -1)
    if [ -z "$src" ] || ! grep -q TEST_MAIN "$src"; then
        echo "$name $target: cannot list the cases of $test ($prog.c)" >&2
        stale=1
        continue
    fi
    mapfile -t all_cases < <(grep -o 'TEST_ENTRY([A-Za-z0-9_]*' "$src" | sed 's/TEST_ENTRY(//')
    for c in ${cases_out[$test]}; do
        printf '%s\n' "${all_cases[@]}" | grep -qx "$c" || {
            echo "$name $target: excluded case $c is not in $src (stale list)" >&2
            stale=1
        }
    done
    # shellcheck disable=SC2086 # the list is words
    echo "$name $target: $test without$(printf ' %s' ${cases_out[$test]}): its other cases one by one"
    for c in "${all_cases[@]}"; do
        [[ " ${cases_out[$test]} " == *" $c "* ]] && continue
        run_one "$test:$c" "${cmd[@]}" "$c"
    done
done
if [ "$model_versions_out" = 1 ]; then
    mapfile -t cmd < <(ctest_command model)
    workdir=${cmd[-1]}
    unset 'cmd[-1]'
    echo "$name $target: model without the runs that change files on disk"
    run_one "model --no-versions" "${cmd[@]}" --no-versions
fi

# What was left out must still fail where the probe found the defect, or
# the list is wider than the defect.
if [ "${SMMAP_CROSS_CHECK_EXCLUDED:-0}" = 1 ] && ((${#excluded[@]})); then
    echo "$name $target: running what was excluded (each should fail here)"
    for entry in "${excluded[@]}"; do
        [ "$entry" = MODEL_VERSIONS ] && entry=model
        test=${entry%%:*}
        mapfile -t cmd < <(ctest_command "$test")
        workdir=${cmd[-1]}
        unset 'cmd[-1]'
        [ "$entry" != "$test" ] && cmd+=("${entry#*:}")
        set +e
        out=$(cd "$workdir" && timeout 120 "${cmd[@]}" 2>&1 | head -c 100000)
        set -e
        if grep -qE '^[1-9][0-9]* passed, 0 failed$' <<<"$out" && ! grep -q FAIL <<<"$out"; then
            echo "  $entry: PASSES here: the exclusion list is wider than the defect"
            stale=1
        else
            echo "  $entry: fails here, as expected"
        fi
    done
fi

[ "$build_ok" = 1 ] || echo "$name $target: the build failed (tests it did not build count as failed)"
[ "$stale" = 0 ] || { echo "$name $target: the exclusion list is stale (above)"; failed=$((failed + 1)); }
((${#extra_failed[@]} == 0)) || echo "$name $target: failed outside ctest: ${extra_failed[*]}"
echo "$name $title:"
if ((${#excluded[@]})); then
    shown=${excluded[*]}
    echo "excluded for the system's defects (above): ${shown//MODEL_VERSIONS/model(versions)}"
fi
echo "$passed passed, $failed failed"
[ "$build_ok" = 1 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
