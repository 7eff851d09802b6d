"""Build the drop-in `smmap` package: Python modules plus the C extension
smmap._csmmap (csrc/*.c), into which the library's sources are compiled
directly, so the package needs no installed libsmmap and builds offline with
Debian's python3-dev, python3-setuptools and python3-wheel. The metadata is
in pyproject.toml; this file names the extension and finds the library:

- in a checkout of the repository: ../src and ../include (or the checkout
  SMMAP_SOURCE_DIR names);
- in an unpacked sdist: libsmmap/src and libsmmap/include, which the sdist
  command below copies from the checkout into the sdist (they are not kept
  in git: src/ has one home).

    python3 -m build --no-isolation ./python       # sdist, then a wheel from it
    cd python && python3 setup.py build_ext --inplace
"""
import glob
import os
import shutil
import sys

from setuptools import Extension, setup
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLED = os.path.join(HERE, "libsmmap")   # the copy inside an sdist


def is_library(root):
    return (os.path.isfile(os.path.join(root, "include", "smmap.h")) and
            os.path.isfile(os.path.join(root, "src", "manager.c")))


def library_root():
    """The directory holding the library's src/ and include/."""
    named = os.environ.get("SMMAP_SOURCE_DIR")
    if named:
        if not is_library(named):
            sys.exit("smmap: SMMAP_SOURCE_DIR=%s holds no include/smmap.h and src/" % named)
        return os.path.abspath(named)
    # A checkout first: a stray libsmmap/ left in one never shadows ../src.
    for root in (os.path.dirname(HERE), BUNDLED):
        if is_library(root):
            return root
    sys.exit("smmap: the library's sources are in neither %s nor %s "
             "(build from a checkout of the smmap repository or from its sdist)"
             % (os.path.dirname(HERE), BUNDLED))


ROOT = library_root()


def src(*parts):
    # Absolute paths: setuptools names an object after its source path under
    # the build directory, and a relative "../src/x.c" would put x.o in
    # ../src, outside it.
    return os.path.abspath(os.path.join(*parts))


# Every library source except the other platform's OS layer, as CMake picks
# them (src/os_win32.c on Windows, src/*_posix.c elsewhere).
src_dir = os.path.join(ROOT, "src")
if sys.platform == "win32":
    lib_sources = sorted(f for f in os.listdir(src_dir)
                         if f.endswith(".c") and not f.endswith("_posix.c"))
else:
    lib_sources = sorted(f for f in os.listdir(src_dir)
                         if f.endswith(".c") and f != "os_win32.c")
binding_sources = sorted(glob.glob(os.path.join(HERE, "csrc", "*.c")))

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
    sources=[src(s) for s in binding_sources] + [src(ROOT, "src", s) for s in lib_sources],
    # the library's own headers sit beside its sources; csmmap.h in csrc/
    include_dirs=[src(ROOT, "include"), src(HERE, "csrc")],
    depends=[src(HERE, "csrc", "csmmap.h"), src(ROOT, "include", "smmap.h")],
    define_macros=define_macros,
    extra_compile_args=extra_compile_args,
    libraries=[] if sys.platform == "win32" else ["pthread"],
)


class sdist_with_library(sdist):
    """An sdist that builds on its own: the library's sources and headers
    (all platforms) are copied into libsmmap/ of the release tree."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        for sub, patterns in (("src", ("*.c", "*.h")), ("include", ("*.h",))):
            dest = os.path.join(base_dir, "libsmmap", sub)
            os.makedirs(dest, exist_ok=True)
            for pattern in patterns:
                for path in sorted(glob.glob(os.path.join(ROOT, sub, pattern))):
                    shutil.copy2(path, dest)
        print("smmap: sdist carries the library from %s" % ROOT)


print("smmap: library sources from %s" % ROOT)
# The packages are named here: pyproject.toml's [tool.setuptools] table is
# "beta" (a warning) in Debian 12's setuptools 66. No package data: with it
# (pyproject's default) build_py reads the manifest, which lists the
# extension's sources, and refuses their absolute paths.
setup(packages=["smmap", "smmap.test"], include_package_data=False, zip_safe=False,
      ext_modules=[ext], cmdclass={"sdist": sdist_with_library})
