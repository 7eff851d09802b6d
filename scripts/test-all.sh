#!/usr/bin/env bash
# Build and run every test suite of smmap: the C suite (unit, model, fault,
# threads, bad input, tool, install), the same built with Debian's hardening
# flags and with 64 KiB window granularity, the same under ASan+UBSan, TSan and
# valgrind, the 32-bit build, the Windows build under wine, the aarch64 and
# s390x (big-endian) builds under qemu-user, the musl build, a short fuzz
# run, and the Python package (smmap's own suite, ours, gitdb and
# GitPython).
#
#   scripts/test-all.sh          # stops before installing anything
#   scripts/test-all.sh --yes    # installs the missing Debian packages (root)
#
# Needs the Debian 12 packages below. When some are missing it shows apt's
# plan (what it installs, upgrades and REMOVES, and the download size) and
# stops with the exact apt-get line; as root with --yes (or CI set in the
# environment) it runs that line, waiting up to 10 minutes for another apt
# to release the dpkg lock. Nothing is skipped: a suite whose toolchain is
# missing fails. The list conflicts with nothing in Debian 12 (the cross
# suites use clang and the libc6-dev-*-cross sysroots, not the cross gcc
# packages, which would remove gcc-multilib); keep it in sync with .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

yes=0
for arg in "$@"; do
  case "$arg" in
    --yes | -y) yes=1 ;;
    *) echo "usage: $0 [--yes]" >&2; exit 2 ;;
  esac
done
[ -n "${CI:-}" ] && yes=1

packages=(cmake make gcc g++ clang libclang-rt-14-dev valgrind pkg-config dpkg-dev
          gcc-multilib g++-multilib mingw-w64 wine64 wine
          binutils-aarch64-linux-gnu libc6-dev-arm64-cross
          libgcc-12-dev-arm64-cross libstdc++-12-dev-arm64-cross
          binutils-s390x-linux-gnu libc6-dev-s390x-cross
          libgcc-12-dev-s390x-cross libstdc++-12-dev-s390x-cross
          qemu-user musl-tools musl-dev
          python3-dev python3-setuptools python3-pip python3-pytest python3-smmap
          python3-gitdb python3-git python3-build python3-venv python3-wheel git lcov)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt_line="apt-get install -y -o DPkg::Lock::Timeout=600 ${missing[*]}"
  echo "smmap tests need Debian packages that are not installed: ${missing[*]}" >&2
  if [ "$(id -u)" != 0 ]; then
    echo "run as root:" >&2
    echo "  $apt_line" >&2
    exit 1
  fi
  # apt's plan, before anything changes.
  plan=$(apt-get install -s -o DPkg::Lock::Timeout=600 "${missing[@]}" 2>&1) ||
    { apt-get update -o DPkg::Lock::Timeout=600 >/dev/null &&
      plan=$(apt-get install -s -o DPkg::Lock::Timeout=600 "${missing[@]}" 2>&1); } ||
    { echo "$plan" >&2; echo "apt cannot install them (above)" >&2; exit 1; }
  removed=$(grep '^Remv ' <<<"$plan" | cut -d' ' -f2 | paste -sd' ' || true)
  upgraded=$(grep -E '^Inst [^ ]+ \[' <<<"$plan" | cut -d' ' -f2 | paste -sd' ' || true)
  echo "apt's plan: $(grep -E '^[0-9]+ upgraded' <<<"$plan" || true)" >&2
  [ -z "$upgraded" ] || echo "  it UPGRADES: $upgraded" >&2
  [ -z "$removed" ] || echo "  it REMOVES: $removed" >&2
  if [ "$yes" != 1 ]; then
    echo "nothing installed; to install, run (or rerun this with --yes):" >&2
    echo "  $apt_line" >&2
    exit 1
  fi
  if [ -n "$removed" ]; then
    echo "test-all: refusing to remove packages ($removed): install by hand if that is wanted" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086 # the line is words
  $apt_line
fi

# A stage is scripts/test-STAGE.sh, or SCRIPT:ARGUMENT for
# scripts/test-SCRIPT.sh ARGUMENT (the stage then takes the argument's name).
stages=(unit hardened granularity sanitizers m32 windows cross:aarch64 cross:s390x cross:musl python bench)
passed=0 failed=0 failed_names=()
for entry in "${stages[@]}"; do
  script=scripts/test-${entry%%:*}.sh stage=$entry args=()
  if [[ $entry == *:* ]]; then
    stage=${entry#*:} args=("$stage")
  fi
  echo "=== $stage ($script${args[*]:+ ${args[*]}}) ==="
  start=$(date +%s)
  if [ -x "$script" ] && "$script" ${args[@]+"${args[@]}"}; then
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
