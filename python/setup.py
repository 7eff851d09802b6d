"""Build the drop-in `smmap` package: Python modules plus the C extension
smmap._csmmap, into which the library sources (../src) are compiled directly,
so the package needs no installed libsmmap and builds offline with Debian's
python3-dev and python3-setuptools:

    pip install --no-build-isolation ./python
    cd python && /usr/bin/python3 setup.py build_ext --inplace
"""
import os
import sys

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
# The library checkout: python/.. unless SMMAP_SOURCE_DIR names another one.
ROOT = os.environ.get("SMMAP_SOURCE_DIR") or os.path.dirname(HERE)


def src(*parts):
    # Absolute paths: setuptools names an object after its source path under
    # the build directory, and a relative "../src/x.c" would put x.o in
    # ../src, outside it.
    return os.path.abspath(os.path.join(*parts))


# Every library source except the other platform's OS layer, as CMake picks
# them (src/os_win32.c on Windows, src/*_posix.c elsewhere).
src_dir = os.path.join(ROOT, "src")
if not os.path.isdir(src_dir):
    sys.exit("smmap: library sources not found at %s "
             "(build from a checkout of the smmap repository)" % src_dir)
if sys.platform == "win32":
    lib_sources = sorted(f for f in os.listdir(src_dir)
                         if f.endswith(".c") and not f.endswith("_posix.c"))
else:
    lib_sources = sorted(f for f in os.listdir(src_dir)
                         if f.endswith(".c") and f != "os_win32.c")

# The library's sources get the defines CMake gives them (CMakeLists.txt):
# POSIX 2008, 64-bit off_t, and SMMAP_BUILDING. They apply to the whole
# extension, which only includes smmap.h and Python.h.
define_macros = [("SMMAP_BUILDING", "1")]
extra_compile_args = []
if sys.platform != "win32":
    define_macros += [("_POSIX_C_SOURCE", "200809L"), ("_FILE_OFFSET_BITS", "64")]
    extra_compile_args += ["-std=c11", "-fvisibility=hidden", "-Wall", "-Wextra"]

ext = Extension(
    "smmap._csmmap",
    sources=[src(HERE, "smmap", "_csmmap.c")] + [src(ROOT, "src", s) for s in lib_sources],
    include_dirs=[src(ROOT, "include")],  # the library's own headers sit beside its sources
    define_macros=define_macros,
    extra_compile_args=extra_compile_args,
    libraries=[] if sys.platform == "win32" else ["pthread"],
)

setup(
    name="smmap",
    version="5.0.1",
    description="A sliding window memory map manager (drop-in smmap API over the libsmmap C core)",
    license="BSD-3-Clause",
    packages=["smmap"],
    ext_modules=[ext],
    python_requires=">=3.7",
    zip_safe=False,
)
