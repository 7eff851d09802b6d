#!/usr/bin/env bash
# Build and run every test suite of smmap: the C suite (unit, model, fault,
# threads, bad input, tool, install), the same under ASan+UBSan, TSan and
# valgrind, the 32-bit build, the Windows build under wine, a short fuzz run,
# and the Python package (smmap's own suite, ours, gitdb and GitPython).
#
# Installs the Debian packages it needs when run as root; otherwise stops
# with the exact apt-get line. Nothing is skipped: a suite whose toolchain is
# missing fails.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake make gcc g++ clang libclang-rt-14-dev valgrind pkg-config
          gcc-multilib g++-multilib mingw-w64 wine64 wine
          python3-dev python3-setuptools python3-pip python3-pytest python3-smmap
          python3-gitdb python3-git git lcov)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "${missing[@]}" || { apt-get update && apt-get install -y "${missing[@]}"; }
  else
    echo "smmap tests need Debian packages; run as root:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

stages=(unit sanitizers m32 windows python bench)
passed=0 failed=0 failed_names=()
for stage in "${stages[@]}"; do
  script=scripts/test-$stage.sh
  echo "=== $stage ($script) ==="
  start=$(date +%s)
  if [ -x "$script" ] && "$script"; then
    passed=$((passed + 1)); result=ok
  else
    [ -x "$script" ] || echo "$script is missing" >&2
    failed=$((failed + 1)); failed_names+=("$stage"); result=FAILED
  fi
  echo "=== $stage: $result in $(( $(date +%s) - start )) s ==="
done
echo
echo "suites: $passed passed, $failed failed${failed_names:+ (${failed_names[*]})}"
[ "$failed" = 0 ]
