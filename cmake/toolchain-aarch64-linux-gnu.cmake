# toolchain-aarch64-linux-gnu.cmake - cross-compile smmap for 64-bit ARM
# Linux (glibc) with clang and run what is built under qemu-aarch64.
# Needs: apt-get install -y clang binutils-aarch64-linux-gnu
#   libc6-dev-arm64-cross libgcc-12-dev-arm64-cross
#   libstdc++-12-dev-arm64-cross qemu-user
#
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake
#   ctest --test-dir build-aarch64
#
# scripts/test-cross.sh aarch64 does that and counts the results.
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(SMMAP_CROSS_TRIPLE aarch64-linux-gnu)
set(SMMAP_CROSS_DEBARCH arm64)
set(SMMAP_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-linux-cross.cmake)
