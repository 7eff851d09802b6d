"""Shared fixtures: make sure the package under test is OUR smmap (python/,
or the installed copy in the directory SMMAP_TEST_SITE names), with its C
extension, not Debian's pure-Python one, and give tests a file whose bytes
are not all zeros."""
import importlib.util
import os
import random
import sys

import pytest

# The directory holding the smmap package under test: python/ (built in
# place), or an installed one (a venv's site-packages, a pip --target).
PYTHON_DIR = os.path.abspath(os.environ.get("SMMAP_TEST_SITE") or
                             os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if sys.path[0] != PYTHON_DIR:
    sys.path.insert(0, PYTHON_DIR)

import smmap  # noqa: E402
import smmap._csmmap  # noqa: E402

assert os.path.dirname(smmap.__file__) == os.path.join(PYTHON_DIR, "smmap"), smmap.__file__
assert smmap._csmmap.__file__.startswith(os.path.join(PYTHON_DIR, "smmap")), smmap._csmmap.__file__

PAGE = smmap.util.ALLOCATIONGRANULARITY


def load_debian_smmap():
    """Debian's smmap 5.0.0 as package 'debian_smmap', to show its bugs."""
    if "debian_smmap" in sys.modules:
        return sys.modules["debian_smmap"]
    init = "/usr/lib/python3/dist-packages/smmap/__init__.py"
    spec = importlib.util.spec_from_file_location(
        "debian_smmap", init, submodule_search_locations=[os.path.dirname(init)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["debian_smmap"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def debian_smmap():
    return load_debian_smmap()


def write_file(dirpath, size, seed=1, name="data"):
    data = random.Random(seed).randbytes(size)
    path = os.path.join(str(dirpath), name)
    with open(path, "wb") as fp:
        fp.write(data)
    return path, data


@pytest.fixture
def datafile(tmp_path):
    """A 64-page file of random bytes: (path, bytes)."""
    return write_file(tmp_path, 64 * PAGE)
