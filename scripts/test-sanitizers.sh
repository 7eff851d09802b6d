#!/usr/bin/env bash
# The C suite under the dynamic checkers (issue 3, items 3-5):
#   1. every ctest test built with clang -fsanitize=address,undefined
#      (-fno-sanitize-recover=all: any report fails the test);
#   2. the thread, version, region, hazard, model, fault and stress tests
#      built with -fsanitize=thread;
#   3. every ctest test that runs a C program under valgrind memcheck
#      (--error-exitcode=1, definite and indirect leaks are errors), the
#      long ones with fewer iterations; stress_versions apart, through
#      valgrind-rerun.sh (run once more when valgrind itself fails);
#   4. the thread test under helgrind (its own build, see helgrind()), fewer
#      iterations, the switching phases 600 ms each;
#   5. the libFuzzer target (fuzz/) for a fixed number of runs on its corpus.
# Each stage builds from a clean tree into its own build-san-* directory.
# A missing tool is a failure that names the apt-get line. Ends with
# "N passed, N failed" over the stages.
#
# Environment: SMMAP_FUZZ_RUNS (default 30000, about 30 s), JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${JOBS:-$(nproc)}
fuzz_runs=${SMMAP_FUZZ_RUNS:-30000}

need() {
  local tool=$1 package=$2
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "test-sanitizers: $tool is missing: apt-get install -y $package" >&2
    exit 1
  fi
}
need clang "clang libclang-rt-14-dev"
need clang++ "clang"
need valgrind valgrind
need cmake cmake

passed=0 failed=0 failed_names=()
stage() {
  local name=$1; shift
  echo "--- sanitizers: $name"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1)); echo "--- $name: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1)); failed_names+=("$name")
    echo "--- $name: FAILED ($((SECONDS - start)) s)"
  fi
}

configure() { # dir, extra cmake args...
  local dir=$1; shift
  rm -rf "$dir"
  cmake -S "$root" -B "$dir" -DSMMAP_BUILD_BENCH=OFF "$@" >"$dir.log" 2>&1 ||
    { cat "$dir.log"; return 1; }
  rm -f "$dir.log"
}

asan_ubsan() {
  local flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
  configure build-san-asan -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" || return 1
  cmake --build build-san-asan -j "$jobs" >/dev/null || return 1
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allow_user_segv_handler=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-san-asan --output-on-failure -j "$jobs" --timeout 600 \
      -E '^install_consumers$'
  # install_consumers builds outside programs against the installed library;
  # instrumented, it cannot link them. It is a packaging test, run by the
  # plain suite and under valgrind.
}

tsan() {
  local flags="-fsanitize=thread -g -O1"
  configure build-san-tsan -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" || return 1
  cmake --build build-san-tsan -j "$jobs" --target test_threads test_version test_region test_hazard test_model test_fault stress_versions >/dev/null || return 1
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    build-san-tsan/tests/threads/test_threads --iterations 4000 \
      --switch-ms 1500 --timeout 300 &&
  TSAN_OPTIONS="halt_on_error=1" build-san-tsan/tests/test_version &&
  TSAN_OPTIONS="halt_on_error=1" build-san-tsan/tests/test_region &&
  TSAN_OPTIONS="halt_on_error=1" build-san-tsan/tests/test_hazard &&
  TSAN_OPTIONS="halt_on_error=1" build-san-tsan/tests/stress/stress_versions --seconds 10 \
    --dir build-san-tsan/tests/stress &&
  TSAN_OPTIONS="halt_on_error=1" build-san-tsan/tests/model/test_model --seeds 10 --ops 300 &&
  TSAN_OPTIONS="halt_on_error=1" SMMAP_TEST_QUICK=1 build-san-tsan/tests/fault/test_fault
}

memcheck() {
  # The emulator prefixes every test that runs a program built here; tests
  # that run scripts or Python run as they are. It is valgrind itself: the
  # tool's tests need its stderr to stay a terminal under script(1) and its
  # signals to reach the program.
  local args=(--error-exitcode=1 --leak-check=full
    --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect --track-fds=no --quiet)
  local vg
  vg="valgrind;$(IFS=';'; echo "${args[*]}")"
  configure build-san-valgrind -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CROSSCOMPILING_EMULATOR="$vg" \
    -DSMMAP_MODEL_ARGS="--seeds;25;--ops;400" \
    -DSMMAP_THREADS_ARGS="--iterations;1500;--timeout;600" || return 1
  cmake --build build-san-valgrind -j "$jobs" >/dev/null || return 1
  SMMAP_TEST_QUICK=1 ctest --test-dir build-san-valgrind --output-on-failure \
    -j "$jobs" --timeout 900 -E '^stress_versions$' || return 1
  # stress_versions alone, through valgrind-rerun.sh: under its churn of
  # file maps valgrind 3.19 once failed its own assertion (aspacem,
  # aspacemgr-segnames.c:221, "Valgrind: FATAL"), which says nothing of
  # the program; the script runs it once more then, and says so. Its
  # reports about the program are never rerun.
  local out=build-san-valgrind/stress_versions.out
  echo "stress_versions under valgrind (scripts/valgrind-rerun.sh)"
  "$root/scripts/valgrind-rerun.sh" "${args[@]}" \
    build-san-valgrind/tests/stress/stress_versions --seconds 10 \
    --dir build-san-valgrind/tests/stress >"$out" 2>&1
  local rc=$?
  tail -n 5 "$out"
  [ "$rc" = 0 ] && grep -q '^1 passed, 0 failed' "$out" &&
    ! grep -q '^FAIL' "$out"
}

# Helgrind sees the pthread mutexes (the library's locks are pthread
# mutexes) but not C11/__atomic synchronisation: a release store and an
# acquire load are plain moves to it, so a region published or pinned
# without the manager lock shows as a race on the region's fields and on the
# mapped bytes the test reads. Lock-free paths (issue 13) must describe
# their happens-before edges to helgrind themselves, compiled in when
# SMMAP_HELGRIND is defined (ANNOTATE_HAPPENS_BEFORE/AFTER from
# <valgrind/helgrind.h>, and VALGRIND_HG_DISABLE_CHECKING on the atomic
# words read and written with plain moves); this stage builds the test with
# it. (While every synchronisation of the library was a pthread mutex, the
# stage needed nothing and reported nothing.) The test's own flags are
# atomics excluded the same way (tests/threads/switching.c). Any report
# left fails the stage; tests/threads/helgrind.supp, if present, names
# exactly the sites a report is known false for, each with its reason.
helgrind() {
  local flags="-DSMMAP_HELGRIND=1" supp=()
  if [ ! -f /usr/include/valgrind/helgrind.h ]; then
    echo "test-sanitizers: valgrind/helgrind.h is missing: apt-get install -y valgrind" >&2
    return 1
  fi
  [ -f tests/threads/helgrind.supp ] &&
    supp=(--suppressions="$root/tests/threads/helgrind.supp")
  configure build-san-helgrind -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS="$flags" || return 1
  cmake --build build-san-helgrind -j "$jobs" --target test_threads >/dev/null ||
    return 1
  valgrind --tool=helgrind --error-exitcode=1 --quiet "${supp[@]}" \
    build-san-helgrind/tests/threads/test_threads --iterations 300 \
    --switch-ms 600 --timeout 600
}

fuzz() {
  rm -rf build-san-fuzz
  cmake -S fuzz -B build-san-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug >/dev/null || return 1
  cmake --build build-san-fuzz -j "$jobs" --target fuzz_model >/dev/null || return 1
  local scratch
  scratch=$(mktemp -d)
  # New inputs go to the scratch corpus; the committed one is only read.
  build-san-fuzz/fuzz_model -runs="$fuzz_runs" -max_len=2048 -timeout=20 \
    "$scratch" fuzz/corpus 2>&1 | tail -3
  local rc=${PIPESTATUS[0]}
  rm -rf "$scratch"
  return "$rc"
}

stage "asan+ubsan (whole ctest suite)" asan_ubsan
stage "tsan (threads, version, region, hazard, model, fault, stress)" tsan
stage "valgrind memcheck (whole ctest suite)" memcheck
stage "helgrind (threads)" helgrind
stage "libFuzzer ($fuzz_runs runs)" fuzz

echo "sanitizers: $passed passed, $failed failed${failed_names:+ (${failed_names[*]})}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
