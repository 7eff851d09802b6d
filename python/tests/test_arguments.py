"""Issue 15: bad numbers give ValueError or TypeError naming the argument
(never OverflowError, never silent acceptance), and stats() has every field
of the library's smmap_stats as include/smmap.h declares it."""
import os
import re

import pytest

import smmap
from smmap import SlidingWindowMapBuffer, SlidingWindowMapManager, StaticWindowMapManager

from conftest import PAGE

HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "include", "smmap.h")


def stats_fields(header):
    """The field names of struct smmap_stats, in order."""
    with open(header) as fp:
        text = fp.read()
    body = re.search(r"typedef struct smmap_stats \{(.*?)\} smmap_stats;", text, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    names = []
    for decl in body.split(";"):
        decl = decl.strip()
        if decl:
            ctype, rest = decl.split(None, 1)
            assert ctype in ("uint64_t", "uint32_t"), decl
            names += [n.strip() for n in rest.split(",")]
    return names


def test_stats_has_every_field_of_smmap_stats(datafile):
    path, data = datafile
    fields = stats_fields(os.environ.get("SMMAP_TEST_HEADER", HEADER))
    assert len(fields) == 18 and fields[0] == "mapped_bytes"   # the parse found them
    man = SlidingWindowMapManager(window_size=4 * PAGE)
    c = man.make_cursor(path).use_region(PAGE, 10)
    assert bytes(c.buffer()) == data[PAGE:PAGE + 10]
    s = man.stats()
    assert sorted(s) == sorted(fields)
    assert all(type(v) is int and v >= 0 for v in s.values()), s
    assert (s["maps"], s["regions"], s["peak_regions"], s["files"], s["files_mapped"]) == (1, 1, 1, 1, 1)
    assert s["mapped_bytes"] == s["peak_mapped_bytes"] == 4 * PAGE


@pytest.mark.parametrize("cls", [SlidingWindowMapManager, StaticWindowMapManager])
@pytest.mark.parametrize("kw, exc, message", [
    ({"max_memory_size": -5}, ValueError,
     "smmap: max_memory_size=-5 must not be negative (0 selects the default)"),
    ({"max_memory_size": 2 ** 64}, ValueError,
     "smmap: max_memory_size=18446744073709551616 is too large (at most 2**64 - 1)"),
    ({"max_open_handles": -5}, ValueError, "smmap: max_open_handles=-5 must be at least 1"),
    ({"max_open_handles": 0}, ValueError, "smmap: max_open_handles=0 must be at least 1"),
    ({"window_size": 1.5}, TypeError, "smmap: window_size must be an int, not float"),
    ({"window_size": "4096"}, TypeError, "smmap: window_size must be an int, not str"),
    ({"max_memory_size": 1.5}, TypeError, "smmap: max_memory_size must be an int, not float"),
    ({"max_memory_size": None}, TypeError, "smmap: max_memory_size must be an int, not NoneType"),
    ({"max_open_handles": 2.0}, TypeError, "smmap: max_open_handles must be an int, not float"),
])
def test_manager_arguments_are_named_in_errors(cls, kw, exc, message):
    with pytest.raises(exc) as info:
        cls(**kw)
    assert str(info.value) == message


def test_huge_window_is_a_value_error_naming_it():
    with pytest.raises(ValueError) as info:
        SlidingWindowMapManager(window_size=2 ** 64)
    assert str(info.value).startswith("smmap: window_size=18446744073709551616 is too large (at most ")


class Index:
    """An int-like object (numpy's integers are such): accepted everywhere."""

    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v


def test_int_like_arguments_are_taken(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=Index(4 * PAGE), max_memory_size=Index(64 * PAGE),
                                  max_open_handles=Index(8))
    assert man.window_size() == 4 * PAGE and man.max_file_handles() == 8
    c = man.make_cursor(path).use_region(Index(PAGE + 3), Index(5))
    assert (c.ofs_begin(), c.size(), bytes(c.buffer())) == (PAGE + 3, 5, data[PAGE + 3:PAGE + 8])
    assert c.includes_ofs(Index(PAGE + 4)) and not c.includes_ofs(Index(PAGE + 8))
    buf = SlidingWindowMapBuffer(man.make_cursor(path), Index(7), Index(9))
    assert (len(buf), buf[0:9]) == (9, data[7:16])


def test_cursor_and_buffer_arguments_are_named_in_errors(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=4 * PAGE)
    c = man.make_cursor(path)
    cases = [
        (lambda: c.use_region(1.5), TypeError, "smmap: offset must be an int, not float"),
        (lambda: c.use_region(0, "8"), TypeError, "smmap: size must be an int, not str"),
        (lambda: c.use_region(-1), ValueError, "smmap: offset=-1 must not be negative"),
        (lambda: c.use_region(0, -8), ValueError, "smmap: size=-8 must not be negative"),
        (lambda: c.use_region(2 ** 64), ValueError,
         "smmap: offset=18446744073709551616 is too large (at most 18446744073709551615)"),
        (lambda: c.use_region(0).includes_ofs(1.0), TypeError, "smmap: ofs must be an int, not float"),
        (lambda: SlidingWindowMapBuffer(man.make_cursor(path), 1.5), TypeError,
         "smmap: offset must be an int, not float"),
        (lambda: SlidingWindowMapBuffer(man.make_cursor(path), 0, -1), ValueError,
         "smmap: size=-1 must not be negative"),
        (lambda: SlidingWindowMapBuffer(man.make_cursor(path)).begin_access(offset=-3), ValueError,
         "smmap: offset=-3 must not be negative"),
        (lambda: SlidingWindowMapBuffer(man.make_cursor(path)).__getslice__(0.5, 4), TypeError,
         "smmap: i must be an int, not float"),
        (lambda: man.make_cursor(2 ** 70), ValueError,
         "smmap: file descriptor 1180591620717411303424 is out of range"),
        (lambda: smmap._csmmap.File(man._m, 2 ** 40).file_size(), ValueError,
         "smmap: file descriptor 1099511627776 is out of range"),
    ]
    for call, exc, message in cases:
        with pytest.raises(exc) as info:
            call()
        assert str(info.value) == message
    # offsets far beyond any file are simply not in the window
    assert c.use_region(0).includes_ofs(2 ** 70) is False
    assert c.includes_ofs(-1) is False


def test_getslice_bounds_clamp_like_a_slice(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=4 * PAGE)
    buf = SlidingWindowMapBuffer(man.make_cursor(path), 10)
    # smmap 5.0's __getslice__(i, j); bounds beyond Py_ssize_t clamp as
    # buf[i:j] does (they raised OverflowError)
    assert buf.__getslice__(len(buf) - 5, 2 ** 70) == data[-5:]
    assert buf.__getslice__(-(2 ** 70), 3) == data[10:13]
    assert buf[len(buf) - 5:2 ** 70] == data[-5:]
