"""smmap.test.lib, our own: the helpers smmap 5.0's test files import
(TestBase, FileCreator), with the behaviour they rely on."""
import gc
import os
import tempfile
import unittest

import pytest

import smmap.test.lib
from smmap.test.lib import FileCreator, TestBase

from conftest import PYTHON_DIR


def test_it_is_ours():
    assert smmap.test.lib.__file__ == os.path.join(PYTHON_DIR, "smmap", "test", "lib.py")
    assert smmap.test.lib.__all__ == ["TestBase", "FileCreator"]


def test_testbase_is_a_testcase_with_smmaps_window_test_size():
    assert issubclass(TestBase, unittest.TestCase)
    assert TestBase.k_window_test_size == 8005195


def test_filecreator_makes_smmaps_file_and_removes_it_at_exit():
    with FileCreator(10000, "prefix_here") as fc:
        path = fc.path
        assert fc.size == 10000
        assert os.path.basename(path).startswith("prefix_here")
        assert os.path.dirname(path) == tempfile.gettempdir()
        with open(path, "rb") as fp:
            assert fp.read() == b"\0" * 9999 + b"1"
    assert not os.path.exists(path)
    fc.remove()                     # a second removal does nothing


def test_filecreator_removes_its_file_when_collected():
    fc = FileCreator(1, "collected")
    path = fc.path
    with open(path, "rb") as fp:
        assert fp.read() == b"1"
    del fc
    gc.collect()
    assert not os.path.exists(path)


@pytest.mark.parametrize("size", [0, -1, 1.5])
def test_filecreator_refuses_sizes_that_are_not_positive_ints(size):
    prefix = "refused_%d_" % os.getpid()
    with pytest.raises(ValueError) as info:
        FileCreator(size, prefix)
    assert str(info.value) == "FileCreator: size must be a positive int, not %r" % (size,)
    assert [n for n in os.listdir(tempfile.gettempdir()) if n.startswith(prefix)] == []
