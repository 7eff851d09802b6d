#!/usr/bin/env bash
# The C suite in the default configuration (gcc, RelWithDebInfo, asserts on):
# every ctest test, including the tool's, the README example and the
# install/consumer check. Builds into build-test/.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-test -j"$(nproc)" >/dev/null
cd build-test
ctest --output-on-failure -j"$(nproc)"
