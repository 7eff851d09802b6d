# toolchain-linux-cross.cmake - the part the Linux cross toolchains share
# (toolchain-aarch64-linux-gnu.cmake, toolchain-s390x-linux-gnu.cmake):
# clang --target=TRIPLE against Debian's cross sysroot /usr/TRIPLE
# (libc6-dev-ARCH-cross, libgcc-12-dev-ARCH-cross for crtbegin and libgcc,
# libstdc++-12-dev-ARCH-cross for the header's C++ test), linked by the
# target's GNU ld (binutils-TRIPLE), each test run under qemu-user with the
# sysroot as its loader prefix (qemu -L). No cross gcc: Debian 12's
# gcc-ARCH-linux-gnu packages conflict with gcc-multilib, which the 32-bit
# suite needs; clang and these packages do not.
#
# The including file sets SMMAP_CROSS_TRIPLE, SMMAP_CROSS_QEMU (qemu-user's
# program for the target) and SMMAP_CROSS_DEBARCH (Debian's name of the
# architecture in the package names).
set(CMAKE_SYSTEM_NAME Linux)

set(SMMAP_CROSS_SYSROOT /usr/${SMMAP_CROSS_TRIPLE})
set(SMMAP_CROSS_PACKAGES "clang binutils-${SMMAP_CROSS_TRIPLE} libc6-dev-${SMMAP_CROSS_DEBARCH}-cross libgcc-12-dev-${SMMAP_CROSS_DEBARCH}-cross libstdc++-12-dev-${SMMAP_CROSS_DEBARCH}-cross qemu-user")

find_program(SMMAP_CROSS_CLANG NAMES clang clang-14)
find_program(SMMAP_CROSS_CLANGXX NAMES clang++ clang++-14)
find_program(SMMAP_CROSS_LD NAMES ${SMMAP_CROSS_TRIPLE}-ld)
if(NOT SMMAP_CROSS_CLANG OR NOT SMMAP_CROSS_CLANGXX OR NOT SMMAP_CROSS_LD
   OR NOT EXISTS ${SMMAP_CROSS_SYSROOT}/include/stdio.h)
  message(FATAL_ERROR "no ${SMMAP_CROSS_TRIPLE} toolchain (clang, "
          "${SMMAP_CROSS_TRIPLE}-ld, ${SMMAP_CROSS_SYSROOT}/include): "
          "apt-get install -y ${SMMAP_CROSS_PACKAGES}")
endif()
set(CMAKE_C_COMPILER ${SMMAP_CROSS_CLANG})
set(CMAKE_C_COMPILER_TARGET ${SMMAP_CROSS_TRIPLE})
set(CMAKE_CXX_COMPILER ${SMMAP_CROSS_CLANGXX})
set(CMAKE_CXX_COMPILER_TARGET ${SMMAP_CROSS_TRIPLE})
# clang finds /usr/TRIPLE and /usr/lib/gcc-cross/TRIPLE/12 by itself (the
# Debian multiarch layout), and TRIPLE-ld on PATH.
# The archive index is written by the target's binutils.
find_program(CMAKE_AR NAMES ${SMMAP_CROSS_TRIPLE}-ar)
find_program(CMAKE_RANLIB NAMES ${SMMAP_CROSS_TRIPLE}-ranlib)

set(CMAKE_FIND_ROOT_PATH ${SMMAP_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest runs every test program through qemu-user; -L makes qemu load the
# target's dynamic loader and libraries from the sysroot. A caller may
# set CMAKE_CROSSCOMPILING_EMULATOR itself.
if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(SMMAP_CROSS_QEMU_PROGRAM NAMES ${SMMAP_CROSS_QEMU}
               ${SMMAP_CROSS_QEMU}-static)
  if(NOT SMMAP_CROSS_QEMU_PROGRAM)
    message(FATAL_ERROR "${SMMAP_CROSS_QEMU} not found: apt-get install -y qemu-user")
  endif()
  set(CMAKE_CROSSCOMPILING_EMULATOR
      ${SMMAP_CROSS_QEMU_PROGRAM} -L ${SMMAP_CROSS_SYSROOT})
endif()
