# toolchain-s390x-linux-gnu.cmake - cross-compile smmap for IBM Z (s390x,
# 64-bit big-endian) Linux (glibc) with clang and run what is built under
# qemu-s390x. This is the project's big-endian target.
# Needs: apt-get install -y clang binutils-s390x-linux-gnu
#   libc6-dev-s390x-cross libgcc-12-dev-s390x-cross
#   libstdc++-12-dev-s390x-cross qemu-user
#
#   cmake -S . -B build-s390x -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-s390x-linux-gnu.cmake
#   ctest --test-dir build-s390x
#
# scripts/test-cross.sh s390x does that, and first checks qemu's fault
# addresses (Debian's qemu 7.2 swaps the halves of si_addr on big-endian
# targets; see the script).
set(CMAKE_SYSTEM_PROCESSOR s390x)
set(SMMAP_CROSS_TRIPLE s390x-linux-gnu)
set(SMMAP_CROSS_DEBARCH s390x)
set(SMMAP_CROSS_QEMU qemu-s390x)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-linux-cross.cmake)
