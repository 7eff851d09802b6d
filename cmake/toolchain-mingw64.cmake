# toolchain-mingw64.cmake - cross-compile smmap for 64-bit Windows with
# Debian's mingw-w64 (package gcc-mingw-w64-x86-64) and run what is built
# under wine64.
#
#   cmake -S . -B build-win64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw64.cmake
#
# The library uses no pthreads on Windows (SRWLOCKs), so the "win32" thread
# model of the compiler is enough; it also needs no winpthread DLL.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(SMMAP_MINGW_TRIPLE x86_64-w64-mingw32)
find_program(SMMAP_MINGW_CC NAMES ${SMMAP_MINGW_TRIPLE}-gcc-win32
             ${SMMAP_MINGW_TRIPLE}-gcc-posix ${SMMAP_MINGW_TRIPLE}-gcc)
find_program(SMMAP_MINGW_CXX NAMES ${SMMAP_MINGW_TRIPLE}-g++-win32
             ${SMMAP_MINGW_TRIPLE}-g++-posix ${SMMAP_MINGW_TRIPLE}-g++)
if(NOT SMMAP_MINGW_CC)
  message(FATAL_ERROR "${SMMAP_MINGW_TRIPLE}-gcc not found: "
          "apt-get install -y gcc-mingw-w64-x86-64")
endif()
set(CMAKE_C_COMPILER ${SMMAP_MINGW_CC})
if(SMMAP_MINGW_CXX)
  set(CMAKE_CXX_COMPILER ${SMMAP_MINGW_CXX})
endif()
find_program(CMAKE_RC_COMPILER NAMES ${SMMAP_MINGW_TRIPLE}-windres)

set(CMAKE_FIND_ROOT_PATH /usr/${SMMAP_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# The compiler's runtimes go into each .exe and .dll (the C++ one only
# matters for the header's C++ test), so that nothing needs a mingw DLL on
# the wine or Windows search path.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static-libgcc -static-libstdc++")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc -static-libstdc++")

# ctest runs every test .exe through wine64. Debian does not put the 64-bit
# loader on PATH (dpkg -L wine64). A caller may override SMMAP_WINE.
if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(SMMAP_WINE NAMES wine64
               PATHS /usr/lib/wine /usr/lib/x86_64-linux-gnu/wine
               NO_DEFAULT_PATH)
  find_program(SMMAP_WINE NAMES wine64 wine)
  if(SMMAP_WINE)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${SMMAP_WINE})
  endif()
endif()
