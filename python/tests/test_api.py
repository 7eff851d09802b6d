"""smmap 5.0's interface and visible behaviour, on our package, with exact
values on a file of random bytes."""
import copy
import errno
import os
import struct
import sys

import pytest

import smmap
from smmap import SlidingWindowMapBuffer, SlidingWindowMapManager, StaticWindowMapManager, WindowCursor
from smmap.util import ALLOCATIONGRANULARITY, MapRegion, MapRegionList, MapWindow, align_to_mmap, is_64_bit

from conftest import PAGE, write_file

MB = 1024 * 1024


def test_package_is_ours_with_c_extension():
    assert issubclass(WindowCursor, smmap._csmmap.WindowCursor)
    assert SlidingWindowMapBuffer is smmap._csmmap.SlidingWindowMapBuffer
    assert smmap.version_info == (5, 0, 1)
    assert smmap.__version__ == "5.0.1"
    # gitdb requires smmap>=3.0.1,<6
    assert (3, 0, 1) <= smmap.version_info < (6,)


def test_same_names_as_smmap_5(debian_smmap):
    import debian_smmap.buf
    import debian_smmap.mman
    import debian_smmap.util
    for ours, theirs in ((smmap.mman, debian_smmap.mman), (smmap.buf, debian_smmap.buf),
                         (smmap.util, debian_smmap.util)):
        assert ours.__all__ == theirs.__all__
        for name in theirs.__all__:
            assert hasattr(ours, name), name
            their_obj = getattr(theirs, name)
            if isinstance(their_obj, type):
                public = {a for a in dir(their_obj) if not a.startswith("_")}
                missing = public - set(dir(getattr(ours, name)))
                assert missing == set(), (name, missing)
    public = {a for a in dir(debian_smmap) if not a.startswith("_")}
    assert public - set(dir(smmap)) == set()
    for attr in ("__author__", "__contact__", "__homepage__", "__version__", "version_info"):
        assert hasattr(smmap, attr)


def test_defaults():
    mib = 1024 * 1024
    sliding = SlidingWindowMapManager()
    static = StaticWindowMapManager()
    assert sliding.window_size() == (1024 if is_64_bit() else 64) * mib
    assert static.window_size() == 0
    for man in (sliding, static):
        assert man.max_mapped_memory_size() == (8192 if is_64_bit() else 1024) * mib
        assert man.max_file_handles() == sys.maxsize
        assert man.num_file_handles() == 0
        assert man.num_open_files() == 0
        assert man.mapped_memory_size() == 0
        assert man.collect() == 0
    # window_size keeps the value given, unaligned, as smmap does
    assert SlidingWindowMapManager(window_size=80051).window_size() == 80051


def test_negative_window_size_is_the_default_as_in_smmap(debian_smmap):
    # smmap 5.0 takes any negative window_size for its default (-1 is
    # SlidingWindowMapManager's own default); other absurd sizes raise
    # ValueError (test_fixes: test_absurd_sizes_raise_instead_of_hanging)
    for w in (-1, -2, -(2 ** 70)):
        ours = SlidingWindowMapManager(window_size=w).window_size()
        theirs = debian_smmap.SlidingWindowMapManager(window_size=w).window_size()
        assert ours == theirs == (1024 if is_64_bit() else 64) * MB
    with pytest.raises(ValueError) as info:
        SlidingWindowMapManager(max_memory_size=-(2 ** 70))
    assert str(info.value) == ("smmap: max_memory_size=%d must not be negative (0 selects the default)"
                               % -(2 ** 70))


def test_stats_has_every_counter_of_the_library(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=4 * PAGE)
    buf = SlidingWindowMapBuffer(man.make_cursor(path), 0)
    assert buf[3:8] == data[3:8]
    s = man.stats()
    assert sorted(s) == sorted([
        "mapped_bytes", "peak_mapped_bytes", "regions", "peak_regions", "files",
        "files_mapped", "open_fds", "maps", "unmaps", "evictions", "reuses",
        "retries", "fd_closes", "fd_reopens", "files_no_mmap", "read_windows",
        "faults", "direct_reads"])
    assert (s["mapped_bytes"], s["regions"], s["files"], s["maps"]) == (4 * PAGE, 1, 1, 1)
    assert (s["faults"], s["files_no_mmap"], s["read_windows"], s["direct_reads"]) == (0, 0, 0, 0)


def test_util_functions():
    assert ALLOCATIONGRANULARITY == PAGE
    assert align_to_mmap(PAGE + 1, False) == PAGE
    assert align_to_mmap(PAGE + 1, True) == 2 * PAGE
    assert align_to_mmap(2 * PAGE, True) == 2 * PAGE
    assert align_to_mmap(0, True) == 0
    w = MapWindow(5000, 100)
    w.align()
    assert (w.ofs, w.size) == (PAGE, PAGE)
    w = MapWindow(8000, 50)
    w.extend_left_to(MapWindow(10, 5), 100)
    assert (w.ofs, w.size) == (7950, 100)
    assert repr(w) == "MapWindow(7950, 100)"


def test_use_region_returns_cursor_and_past_end_is_invalid(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=4 * PAGE)
    c = man.make_cursor(path)
    assert c.is_associated() and not c.is_valid()
    assert c.use_region(100, 50) is c
    assert c.is_valid()
    assert (c.ofs_begin(), c.ofs_end(), c.size()) == (100, 150, 50)
    assert c.includes_ofs(100) and c.includes_ofs(149) and not c.includes_ofs(150)
    assert c.file_size() == len(data)
    assert c.use_region(len(data)) is c          # no exception
    assert not c.is_valid()
    assert c.use_region(len(data) + 12345, 10) is c
    assert not c.is_valid()
    assert c.use_region(len(data) - 1).is_valid()
    assert bytes(c.buffer()) == data[-1:]


def test_request_is_clamped_to_window(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=4 * PAGE)
    c = man.make_cursor(path).use_region(PAGE + 10)
    assert c.size() == 4 * PAGE
    assert bytes(c.buffer()) == data[PAGE + 10:5 * PAGE + 10]
    c.use_region(PAGE + 10, 100 * PAGE)
    assert c.size() == 4 * PAGE


def test_buffer_is_readonly_memoryview_from_offset(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=4 * PAGE)
    c = man.make_cursor(path).use_region(3 * PAGE + 7, 300)
    b = c.buffer()
    assert type(b) is memoryview
    assert b.readonly and b.format == "B" and len(b) == 300
    assert b[0] == data[3 * PAGE + 7]
    assert b[:] == data[3 * PAGE + 7:3 * PAGE + 307]
    assert struct.unpack_from(">L", b, 4)[0] == int.from_bytes(data[3 * PAGE + 11:3 * PAGE + 15], "big")
    with pytest.raises(TypeError):
        b[0] = 1


def test_map_behaves_like_the_regions_mmap(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=4 * PAGE, max_memory_size=8 * PAGE)
    c = man.make_cursor(path).use_region(5 * PAGE + 100, 10)
    region = c.region()
    m = c.map()
    begin = region.ofs_begin()
    assert begin == c.ofs_begin() - (c.ofs_begin() - begin)
    assert len(m) == region.size()
    assert m[0] == data[begin]
    assert m[-1] == data[begin + len(m) - 1]
    assert m[10:20] == data[begin + 10:begin + 20]
    assert type(m[10:20]) is bytes
    assert m[-20:] == data[begin + len(m) - 20:begin + len(m)]
    assert struct.unpack_from(">Q", m, 8)[0] == int.from_bytes(data[begin + 8:begin + 16], "big")
    assert bytes(memoryview(m)[:4]) == data[begin:begin + 4]
    with pytest.raises(IndexError):
        m[len(m)]
    assert c.map() is m                            # cached while the window is held


def test_counters_and_collect(tmp_path):
    pa, _ = write_file(tmp_path, 32 * PAGE, seed=2, name="a")
    pb, _ = write_file(tmp_path, 32 * PAGE, seed=3, name="b")
    man = SlidingWindowMapManager(window_size=2 * PAGE)
    ca = man.make_cursor(pa)
    for k in (0, 4, 8):
        ca.use_region(k * PAGE, 2 * PAGE)
    assert man.num_file_handles() == 3         # smmap counts regions
    assert man.num_open_files() == 1           # files with a region
    assert man.mapped_memory_size() == 6 * PAGE
    cb = man.make_cursor(pb).use_region(0, 2 * PAGE)
    assert man.num_file_handles() == 4
    assert man.num_open_files() == 2
    assert man.collect() == 2                  # ca and cb each hold one
    assert man.num_file_handles() == 2
    ca.unuse_region()
    cb.unuse_region()
    assert man.collect() == 2
    assert man.num_file_handles() == 0
    assert man.num_open_files() == 0
    assert man.mapped_memory_size() == 0
    assert man._collect_lru_region(0) == 0
    assert man._collect_lru_region(sys.maxsize) == 0


def test_value_errors_and_paths(datafile, tmp_path):
    path, data = datafile
    man = SlidingWindowMapManager()
    c = man.make_cursor(path)
    assert c.path() == path and c.path_or_fd() is path
    with pytest.raises(ValueError):
        c.fd()
    fd = os.open(path, os.O_RDONLY)
    try:
        cfd = man.make_cursor(fd)
        assert cfd.fd() == fd and cfd.path_or_fd() is fd
        with pytest.raises(ValueError):
            cfd.path()
        with pytest.raises(ValueError):
            SlidingWindowMapBuffer(type(c)())         # not associated
        with pytest.raises(ValueError):
            SlidingWindowMapBuffer(c, len(data))      # offset too large
        with pytest.raises(ValueError):
            StaticWindowMapManager(max_open_handles=0)
    finally:
        os.close(fd)


def test_context_managers(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=4 * PAGE)
    with man.make_cursor(path) as c:
        assert c.use_region(10, 10).is_valid()
        assert bytes(c.buffer()) == data[10:20]
    assert not c.is_valid()
    with SlidingWindowMapBuffer(man.make_cursor(path), 20) as buf:
        assert buf[0] == data[20]
    assert len(buf) == 0 and not buf.cursor().is_valid()
    # the buffer's cursor reused the first cursor's cached region, as in smmap
    assert man.stats()["maps"] == 1
    assert man.collect() == 1
    assert man.num_file_handles() == 0


def test_descriptor_may_be_closed_after_first_use(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=PAGE)
    fd = os.open(path, os.O_RDONLY)
    c = man.make_cursor(fd)
    assert c.use_region(0, 10).is_valid()
    os.close(fd)
    # smmap 5.0 could not map new windows once the descriptor was closed
    assert c.use_region(40 * PAGE + 3, 10).is_valid()
    assert bytes(c.buffer()) == data[40 * PAGE + 3:40 * PAGE + 13]


def test_static_manager_maps_whole_files(datafile):
    path, data = datafile
    man = StaticWindowMapManager()
    c = man.make_cursor(path).use_region(5000)
    r = c.region()
    assert (r.ofs_begin(), r.size()) == (0, len(data))
    assert c.size() == len(data) - 5000
    assert r.client_count() == 2
    assert man.num_file_handles() == 1
    assert man.mapped_memory_size() == len(data)
    c2 = man.make_cursor(path).use_region(len(data) - 1)
    assert c2.region() == r
    assert r.client_count() == 3
    assert man.num_file_handles() == 1


def test_region_list_and_standalone_region(datafile):
    path, data = datafile
    ml = MapRegionList(path)
    assert len(ml) == 0 and ml.path_or_fd() is path and ml.file_size() == len(data)
    r = MapRegion(path, PAGE, 3 * PAGE)
    assert (r.ofs_begin(), r.size(), r.ofs_end()) == (PAGE, 3 * PAGE, 4 * PAGE)
    assert r.client_count() == 1
    assert r.buffer()[:5] == data[PAGE:PAGE + 5]
    assert r.map()[3 * PAGE - 1] == data[4 * PAGE - 1]
    r2 = MapRegion(path, 60 * PAGE, 100 * PAGE)      # clipped to the file
    assert r2.size() == 4 * PAGE
    assert r2.increment_client_count(-1) is True     # released at zero
    assert repr(r) == "MapRegion<%d, %d>" % (PAGE, 3 * PAGE)


def test_region_limit_is_hard_with_everything_pinned(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=PAGE, max_open_handles=2)
    c = man.make_cursor(path)
    v1 = c.use_region(0).buffer()
    v2 = c.use_region(2 * PAGE).buffer()
    with pytest.raises(OSError) as info:
        c.use_region(4 * PAGE)
    assert info.value.errno == errno.EMFILE
    assert not c.is_valid()
    del v1
    assert c.use_region(4 * PAGE).is_valid()
    assert bytes(c.buffer()[:3]) == data[4 * PAGE:4 * PAGE + 3]
    assert bytes(v2[:3]) == data[2 * PAGE:2 * PAGE + 3]


def test_cached_regions_are_reused_like_smmap(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=4 * PAGE)
    a = man.make_cursor(path).use_region(PAGE, 4 * PAGE)      # maps [P, 5P)
    assert (a.region().ofs_begin(), a.region().size()) == (PAGE, 4 * PAGE)
    # inside [P, 5P) with at least half a window left: reused
    b = man.make_cursor(path).use_region(2 * PAGE + 5)
    assert b.region() == a.region()
    assert b.size() == 3 * PAGE - 5                            # to the region's end
    assert bytes(b.buffer()) == data[2 * PAGE + 5:5 * PAGE]
    assert man.stats()["maps"] == 1
    c = man.make_cursor(path).use_region(4 * PAGE + 100, 3 * PAGE)   # not half a window left
    assert c.region() != a.region()
    assert bytes(c.buffer()) == data[4 * PAGE + 100:7 * PAGE + 100]
    assert man.stats()["maps"] == 2


def test_descriptor_number_naming_another_file_gets_a_new_entry(tmp_path):
    pa, da = write_file(tmp_path, 8 * PAGE, seed=21, name="a")
    pb, db = write_file(tmp_path, 8 * PAGE, seed=22, name="b")
    man = SlidingWindowMapManager(window_size=PAGE)
    fd = os.open(pa, os.O_RDONLY)
    try:
        ca = man.make_cursor(fd)
        assert bytes(ca.use_region(0, 16).buffer()) == da[:16]
        other = os.open(pb, os.O_RDONLY)
        os.dup2(other, fd)              # the same number now names b
        os.close(other)
        cb = man.make_cursor(fd)
        assert bytes(cb.use_region(0, 16).buffer()) == db[:16]
        assert bytes(ca.use_region(PAGE, 16).buffer()) == da[PAGE:PAGE + 16]   # a's own duplicate
        assert man.num_open_files() == 2
    finally:
        os.close(fd)


def test_files_without_cursors_are_forgotten_past_the_cap(tmp_path):
    man = SlidingWindowMapManager(window_size=PAGE)
    keep = []
    datas = {}
    for i in range(300):
        path, data = write_file(tmp_path, 2 * PAGE, seed=100 + i, name="f%d" % i)
        datas[path] = data
        c = man.make_cursor(path).use_region(0, 8)
        assert bytes(c.buffer()) == data[:8]
        if i % 50 == 0:
            keep.append(c)              # these stay in use
    assert len(man._fdict) <= smmap.mman._MAX_FILES_KEPT
    for c in keep:
        assert c.path() in man._fdict
        assert bytes(c.buffer()) == datas[c.path()][:8]
    assert man.num_file_handles() == man.stats()["regions"]
    assert man.num_open_files() <= smmap.mman._MAX_FILES_KEPT


# ---- details an outside tester compared with smmap 5.0 (none used by gitdb)

def test_copy_of_a_buffer_shares_its_cursor_as_in_smmap(datafile):
    # smmap 5.0's copy.copy(buf) copied the slots: the very cursor, the length
    path, data = datafile
    man = SlidingWindowMapManager(window_size=4 * PAGE)
    c = man.make_cursor(path)
    buf = SlidingWindowMapBuffer(c, 1000, 5000)
    dup = copy.copy(buf)
    assert type(dup) is SlidingWindowMapBuffer and dup is not buf
    assert dup.cursor() is c and dup._c is c
    assert len(dup) == 5000 and dup._size == 5000
    assert dup[0] == data[1000] and dup[:] == data[1000:6000]
    dup.end_access()            # releases the shared cursor's window, as in smmap
    assert len(dup) == 0 and not c.is_valid()
    # the original still reads (smmap: AssertionError, its cursor invalid)
    assert len(buf) == 5000 and buf[4999] == data[5999]
    # an instance dict of a subclass is copied, as copy.copy does
    class Tagged(SlidingWindowMapBuffer):
        pass
    tagged = Tagged(c, 7)
    tagged.tag = ["x"]
    tdup = copy.copy(tagged)
    assert type(tdup) is Tagged and tdup.tag is tagged.tag and tdup[0] == data[7]
    # and its __slots__, and a __setstate__ of its own is used (smmap 5.0's
    # copy went through __reduce_ex__: slots were lost here, found by an
    # outside crash hunt)
    class Slotted(SlidingWindowMapBuffer):
        __slots__ = ("a", "__dict__")
    slotted = Slotted(c, 7)
    slotted.a, slotted.x = 1, 2
    sdup = copy.copy(slotted)
    assert (sdup.a, sdup.x) == (1, 2) and sdup[0] == data[7]
    class Restoring(SlidingWindowMapBuffer):
        def __setstate__(self, state):
            self.restored = state
    restoring = Restoring(c, 7)
    restoring.y = 3
    assert copy.copy(restoring).restored == {"y": 3}
    empty = copy.copy(SlidingWindowMapBuffer())
    assert empty.cursor() is None and len(empty) == 0
    # deep copies are a TypeError, as in smmap 5.0
    with pytest.raises(TypeError):
        copy.deepcopy(buf)
    with pytest.raises(TypeError):
        copy.deepcopy(c)


def test_map_closed_by_an_index_is_a_value_error(datafile):
    # an index whose __index__ releases the region (closing the map) gave
    # SystemError; smmap 5.0's mmap segfaulted there (Python 3.11)
    path, _ = datafile
    for make_key in (lambda e: e, lambda e: slice(e, 5), lambda e: slice(0, 5, e)):
        r = MapRegion(path, 0, 100)
        m = r.map()

        class Closing:
            def __index__(self):
                r.release()
                return 1
        with pytest.raises(ValueError, match="mmap closed or invalid"):
            m[make_key(Closing())]


def test_map_iterates_bytes_of_one_as_mmap(datafile):
    # smmap 5.0's map() was an mmap: iteration and `in` give 1-byte bytes
    # (m[i] gives an int); ours raised TypeError
    path, data = datafile
    m = SlidingWindowMapManager().make_cursor(path).use_region(0, 100).map()
    assert list(m) == [data[i:i + 1] for i in range(len(m))]
    assert data[5:6] in m and data[0] not in m and data[0:2] not in m
    r = MapRegion(path, 0, 10)
    assert b"".join(r.map()) == data[:10]
    r.release()
    with pytest.raises(ValueError, match="mmap closed or invalid"):
        list(r.map())


def test_standalone_region_of_size_zero_maps_to_the_end(datafile):
    # smmap 5.0 passed size 0 to mmap as length 0: from ofs to the end
    path, data = datafile
    r = MapRegion(path, 0, 0)
    assert (r.ofs_begin(), r.size(), r.ofs_end()) == (0, len(data), len(data))
    assert len(r.map()) == len(data) and r.map()[len(data) - 1] == data[-1]
    r = MapRegion(path, 60 * PAGE, 0)
    assert (r.size(), r.ofs_end()) == (4 * PAGE, len(data))
    assert r.buffer()[:5] == data[60 * PAGE:60 * PAGE + 5]
    fd = os.open(path, os.O_RDONLY)
    try:
        assert MapRegion(fd, PAGE, 0).size() == len(data) - PAGE
    finally:
        os.close(fd)
    # smmap: OverflowError from mmap; here a ValueError naming the argument
    # (a negative size was taken modulo 2**64: the whole file)
    with pytest.raises(ValueError, match="smmap: size=-1 must not be negative"):
        MapRegion(path, 0, -1)
    with pytest.raises(ValueError, match="smmap: ofs=-4096 must not be negative"):
        MapRegion(path, -PAGE, 10)


def test_released_region_gives_a_closed_map_as_in_smmap(datafile):
    # smmap 5.0: release() closed the mmap; buffer() and map() still returned
    # it, and using it raised ValueError("mmap closed or invalid")
    path, data = datafile
    r = MapRegion(path, PAGE, 100)
    before = r.map()
    assert r.release() is None
    m = r.buffer()
    assert m is before and r.map() is m and m.closed
    for use in (len, lambda m: m[0], lambda m: m[0:2], memoryview):
        with pytest.raises(ValueError, match="mmap closed or invalid"):
            use(m)
    assert (r.ofs_begin(), r.size(), r.ofs_end(), r.client_count()) == (PAGE, 100, PAGE + 100, 1)
    assert r.includes_ofs(PAGE + 99) and r.release() is None
    r2 = MapRegion(path, 0, 10)
    assert r2.increment_client_count(-1) is True
    with pytest.raises(ValueError, match="mmap closed or invalid"):
        r2.buffer()[0]
    # a region a cursor reports, released before it was ever mapped: closed
    # too; the cursor keeps its window (smmap closed the cursor's mmap)
    man = SlidingWindowMapManager(window_size=4 * PAGE)
    c = man.make_cursor(path).use_region(PAGE, 10)
    reported = c.region()
    reported.release()
    assert reported.map().closed
    with pytest.raises(ValueError, match="mmap closed or invalid"):
        len(reported.buffer())
    assert bytes(c.buffer()) == data[PAGE:PAGE + 10]
    with pytest.raises(TypeError):
        smmap._csmmap.RegionMap(1)


def _first_uses(man, src):
    """The three calls that open src first: its size, a region, a buffer."""
    return (lambda: man.make_cursor(src).file_size(),
            lambda: man.make_cursor(src).use_region(0, 10),
            lambda: SlidingWindowMapBuffer(man.make_cursor(src)))


def test_a_file_that_cannot_be_mapped_is_an_error(datafile, tmp_path):
    # A pipe, a FIFO or a device has no size to map. smmap 5.0 took
    # os.stat's 0 (file_size() 0, use_region() an invalid cursor,
    # SlidingWindowMapBuffer ValueError): "empty", wrong for a pipe holding
    # data or /dev/zero. Here the first use raises OSError(EINVAL) naming it.
    path, data = datafile
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    rfd, wfd = os.pipe()
    try:
        os.write(wfd, b"hello")
        for src in (rfd, fifo, "/dev/zero"):
            man = SlidingWindowMapManager()
            for use in _first_uses(man, src):
                with pytest.raises(OSError) as info:
                    use()
                assert type(info.value) is OSError and info.value.errno == errno.EINVAL
                assert info.value.strerror == "not a regular file (smmap maps only regular files)"
                assert info.value.filename == src
            assert man.num_open_files() == 0 and man.num_file_handles() == 0
            assert bytes(man.make_cursor(path).use_region(5, 3).buffer()) == data[5:8]
    finally:
        os.close(rfd)
        os.close(wfd)


def test_a_directory_is_an_oserror_as_in_smmap(tmp_path):
    # smmap 5.0: file_size() is the directory's st_size (4096 here), and
    # use_region() raises OSError(ENODEV) from mmap. Here both raise
    # IsADirectoryError, an OSError too, so `except OSError` catches both.
    dfd = os.open(str(tmp_path), os.O_RDONLY)
    try:
        for src in (str(tmp_path), dfd):
            man = SlidingWindowMapManager()
            for use in _first_uses(man, src):
                with pytest.raises(OSError) as info:
                    use()
                assert type(info.value) is IsADirectoryError and info.value.errno == errno.EISDIR
                assert info.value.filename == src
            assert man.num_open_files() == 0
    finally:
        os.close(dfd)


def test_a_write_only_descriptor_is_a_permission_error_as_in_smmap(datafile):
    # smmap 5.0: file_size() works (fstat), mapping raises PermissionError
    # (EACCES from mmap); it was OSError(EBADF) here
    path, data = datafile
    fd = os.open(path, os.O_WRONLY)
    try:
        man = SlidingWindowMapManager(window_size=4 * PAGE)
        c = man.make_cursor(fd)
        assert c.file_size() == len(data)
        for use in (lambda: c.use_region(0, 10),
                    lambda: SlidingWindowMapBuffer(man.make_cursor(fd), PAGE),
                    lambda: MapRegion(fd, 0, 10)):
            with pytest.raises(PermissionError) as info:
                use()
            assert info.value.errno == errno.EACCES
        assert not c.is_valid() and man.num_file_handles() == 0
    finally:
        os.close(fd)


def test_cursor_private_attributes_of_smmap_read_only(datafile):
    # smmap 5.0's WindowCursor slots _region, _ofs, _size (and the buffer's
    # _c, _size), as read-only views: the region held (None while not
    # valid), the offset into it, and size()
    path, data = datafile
    man = SlidingWindowMapManager(window_size=4 * PAGE)
    c = man.make_cursor(path)
    assert c._region is None and c._ofs == 0 and c._size == 0
    c.use_region(5 * PAGE + 100, 10)
    begin = c.region().ofs_begin()
    assert c._region == c.region() and c._region._b == begin <= 5 * PAGE
    assert c._ofs == 5 * PAGE + 100 - begin and c._ofs > 0
    assert c._region._b + c._ofs == c.ofs_begin()
    assert c._size == c.size() == 10
    for name in ("_region", "_ofs", "_size"):
        with pytest.raises(AttributeError):
            setattr(c, name, 0)
    c.unuse_region()
    assert c._region is None and c._ofs == 0
    buf = SlidingWindowMapBuffer(c, 7, 20)
    assert buf._c is c and buf._size == 20
