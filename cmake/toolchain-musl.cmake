# toolchain-musl.cmake - build smmap for x86-64 Linux with musl libc
# (Debian's musl-gcc wrapper, package musl-tools), every program linked
# statically. Not a cross build: the programs run on the build machine, so
# ctest runs them directly and the README example and the install test are
# part of the suite (the install test builds its consumers with this
# compiler, dynamically against musl's /lib/ld-musl-x86_64.so.1).
#
#   cmake -S . -B build-musl -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-musl.cmake
#   ctest --test-dir build-musl
#
# scripts/test-cross.sh musl does that and counts the results.
find_program(SMMAP_MUSL_GCC NAMES musl-gcc)
set(SMMAP_MUSL_SPECS /usr/lib/x86_64-linux-musl/musl-gcc.specs)
if(NOT SMMAP_MUSL_GCC OR NOT EXISTS ${SMMAP_MUSL_SPECS})
  message(FATAL_ERROR "musl-gcc not found: apt-get install -y musl-tools musl-dev")
endif()
set(CMAKE_C_COMPILER ${SMMAP_MUSL_GCC})
# musl has no C++ library; the header's C++ test needs none (it only
# compiles smmap.h as C++ and calls the C library), so g++ compiles it
# against musl's headers and startup files through the same specs file.
find_program(SMMAP_MUSL_GXX NAMES g++)
if(SMMAP_MUSL_GXX)
  set(CMAKE_CXX_COMPILER ${SMMAP_MUSL_GXX})
  set(CMAKE_CXX_FLAGS_INIT "-specs ${SMMAP_MUSL_SPECS}")
endif()
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
