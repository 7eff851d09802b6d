"""The bugs of smmap 5.0 that this package fixes (issue 5), each with exact
values on a file of random bytes, and where it is observable, the same steps
on Debian's smmap 5.0.0 showing the bug."""
import copy
import os
import struct
import subprocess
import sys
import threading
import random
import signal

import pytest

import smmap
import smmap.mman
from smmap import SlidingWindowMapBuffer, SlidingWindowMapManager, WindowCursor

from conftest import PAGE, PYTHON_DIR, write_file


# -------------------------- eviction order (CLOCK: here as exact LRU would)

def lru_steps(lib, path):
    man = lib.SlidingWindowMapManager(window_size=PAGE, max_memory_size=3 * PAGE)
    c = man.make_cursor(path)
    for k in (0, 2, 4):            # released in this order: 0, 2P, 4P
        c.use_region(k * PAGE, PAGE)
    c.unuse_region()
    c.use_region(0, PAGE)          # 0 becomes the most recently used
    c.unuse_region()
    c.use_region(6 * PAGE, PAGE)   # over budget: one region must go
    c.unuse_region()
    return man


def test_lru_evicts_the_least_recently_used(datafile):
    path, data = datafile
    man = lru_steps(smmap, path)
    st = man.stats()
    assert (st["maps"], st["evictions"], st["regions"]) == (4, 1, 3)
    c = man.make_cursor(path)
    for k in (0, 4, 6):            # still mapped: reused, no new map
        assert bytes(c.use_region(k * PAGE, PAGE).buffer()[:4]) == data[k * PAGE:k * PAGE + 4]
    assert man.stats()["maps"] == 4
    c.use_region(2 * PAGE, PAGE)   # the one evicted
    assert man.stats()["maps"] == 5


def test_debian_smmap_evicts_the_most_recently_used(datafile, debian_smmap):
    path, _ = datafile
    man = lru_steps(debian_smmap, path)
    # smmap 5.0 picks the first unused region it finds: the one just used
    assert [r.ofs_begin() for r in man._fdict[path]] == [2 * PAGE, 4 * PAGE, 6 * PAGE]


# ------------------------------------- live exported buffers pin their region

def test_live_buffer_and_map_keep_their_region(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=PAGE, max_memory_size=2 * PAGE, max_open_handles=4)
    c = man.make_cursor(path)
    view = c.use_region(PAGE, PAGE).buffer()
    whole = c.map()
    assert len(whole) == PAGE      # the rest of the file is over budget: the region
    for k in range(10, 40, 2):     # churn through the budget
        assert c.use_region(k * PAGE, PAGE).buffer()[0] == data[k * PAGE]
    c.unuse_region()
    assert man.collect() == 1      # the last region the cursor held
    assert man.num_file_handles() == 1
    assert man.mapped_memory_size() == PAGE
    assert bytes(view) == data[PAGE:2 * PAGE]
    assert whole[5:9] == data[PAGE + 5:PAGE + 9]
    assert struct.unpack_from(">L", whole, 16)[0] == int.from_bytes(data[PAGE + 16:PAGE + 20], "big")
    del view
    assert man.collect() == 0      # map() still holds it
    del whole
    assert man.collect() == 1
    assert man.num_file_handles() == 0


def test_region_of_a_memoryview_slice_stays_pinned(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=PAGE)
    c = man.make_cursor(path)
    part = c.use_region(3 * PAGE + 10, 100).buffer()[20:30]
    c.unuse_region()
    assert man.collect() == 0
    assert bytes(part) == data[3 * PAGE + 30:3 * PAGE + 40]
    part.release()
    assert man.collect() == 1


def test_debian_smmap_raises_buffererror_on_collect(datafile, debian_smmap):
    path, _ = datafile
    man = debian_smmap.SlidingWindowMapManager(window_size=PAGE)
    c = man.make_cursor(path)
    view = c.use_region(PAGE, PAGE).buffer()
    c.unuse_region()
    with pytest.raises(BufferError):      # GitPython #2065
        man.collect()
    del view


# ---------------------------------------------- copied and assigned cursors

def test_copied_and_assigned_cursors_can_map(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=4 * PAGE)
    c = man.make_cursor(path)
    c2 = copy.copy(c)
    assert type(c2) is WindowCursor
    assert c2.is_associated() and not c2.is_valid()
    assert bytes(c2.use_region(100, 50).buffer()) == data[100:150]
    c3 = WindowCursor(man)
    assert not c3.is_associated()
    c3.assign(c2)                   # shares c2's window
    assert c3.is_valid() and (c3.ofs_begin(), c3.size()) == (100, 50)
    assert bytes(c3.buffer()) == data[100:150]
    assert c3.region() == c2.region()
    assert c2.region().client_count() == 3        # manager + c2 + c3
    assert man.num_file_handles() == 1
    assert bytes(c3.use_region(20 * PAGE + 7, 10).buffer()) == data[20 * PAGE + 7:20 * PAGE + 17]
    assert c2.region().client_count() == 2
    c4 = copy.copy(c3)
    assert bytes(c4.buffer()) == data[20 * PAGE + 7:20 * PAGE + 17]
    assert c4.path() == path


def test_debian_smmap_copies_cannot_map(datafile, debian_smmap):
    path, _ = datafile
    man = debian_smmap.SlidingWindowMapManager(window_size=4 * PAGE)
    c2 = copy.copy(man.make_cursor(path))
    with pytest.raises(TypeError):        # its path became the region list
        c2.use_region(100, 50)


# ------------------------------------------------ force_map_handle_removal_win

def two_dirs(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    pa, da = write_file(tmp_path / "a", 16 * PAGE, seed=5, name="pack")
    pb, db = write_file(tmp_path / "b", 16 * PAGE, seed=6, name="pack")
    return pa, da, pb, db


def test_forced_removal_keeps_lists_and_counters(tmp_path, monkeypatch):
    pa, da, pb, db = two_dirs(tmp_path)
    monkeypatch.setattr(smmap.mman, "_IS_WINDOWS", True)
    man = SlidingWindowMapManager(window_size=PAGE)
    ca = man.make_cursor(pa)
    for k in (0, 2, 4):
        ca.use_region(k * PAGE, PAGE)
    cb = man.make_cursor(pb).use_region(0, PAGE)
    assert (man.num_file_handles(), man.num_open_files(), man.stats()["open_fds"]) == (4, 2, 2)
    assert man.force_map_handle_removal_win(str(tmp_path / "a")) == 3
    assert man.num_file_handles() == 1
    assert man.num_open_files() == 1
    assert man.mapped_memory_size() == PAGE
    assert man.stats()["open_fds"] == 1
    assert pa not in man._fdict and pb in man._fdict
    assert not ca.is_valid() and cb.is_valid()
    os.remove(pa)                   # nothing of ours keeps it (on Windows too)
    assert cb.buffer()[:8] == db[:8]


def test_forced_removal_never_unmaps_a_live_buffer(tmp_path, monkeypatch):
    pa, da, pb, db = two_dirs(tmp_path)
    monkeypatch.setattr(smmap.mman, "_IS_WINDOWS", True)
    man = SlidingWindowMapManager(window_size=PAGE)
    ca = man.make_cursor(pa)
    view = ca.use_region(2 * PAGE, PAGE).buffer()
    assert man.force_map_handle_removal_win(str(tmp_path / "a")) == 0
    assert not ca.is_valid()
    assert man.num_file_handles() == 1
    assert bytes(view[:16]) == da[2 * PAGE:2 * PAGE + 16]
    del view
    assert man.force_map_handle_removal_win(str(tmp_path / "a")) == 1
    assert man.num_file_handles() == 0


def test_forced_removal_is_a_no_op_elsewhere(datafile, monkeypatch):
    path, _ = datafile
    monkeypatch.setattr(smmap.mman, "_IS_WINDOWS", False)
    man = SlidingWindowMapManager(window_size=PAGE)
    c = man.make_cursor(path).use_region(0)
    assert man.force_map_handle_removal_win(os.path.dirname(path)) is None
    assert c.is_valid() and man.num_file_handles() == 1


def test_debian_smmap_forced_removal_leaves_counters(tmp_path, monkeypatch, debian_smmap):
    pa, da, pb, db = two_dirs(tmp_path)
    man = debian_smmap.SlidingWindowMapManager(window_size=PAGE)
    ca = man.make_cursor(pa)
    for k in (0, 2, 4):
        ca.use_region(k * PAGE, PAGE)
    ca.unuse_region()
    monkeypatch.setattr(sys, "platform", "win32")
    assert man.force_map_handle_removal_win(str(tmp_path / "a")) == 3
    monkeypatch.undo()
    # the maps are closed but still listed and counted
    assert man.num_file_handles() == 3
    assert man.mapped_memory_size() == 3 * PAGE
    assert len(man._fdict[pa]) == 3


# ------------------------------------------------ SlidingWindowMapBuffer

def test_buffer_indexes_relative_to_its_start(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=4 * PAGE)
    start = 1000
    buf = SlidingWindowMapBuffer(man.make_cursor(path), start)
    rest = data[start:]
    assert len(buf) == len(rest)
    assert buf[0] == rest[0] and buf[10] == rest[10] and buf[-1] == rest[-1]
    assert buf[:0] == b"" and type(buf[:0]) is bytes
    assert buf[5:10] == rest[5:10]
    assert buf[-5:] == rest[-5:]
    cross = slice(4 * PAGE - start - 100, 9 * PAGE)   # three windows
    assert buf[cross] == rest[cross] and type(buf[cross]) is bytes
    assert buf[::4097] == rest[::4097]
    assert buf[50:10:-7] == rest[50:10:-7]
    assert buf[len(buf) - 3:len(buf) + 100] == rest[-3:]
    assert buf.__getslice__(-10, -2) == rest[-10:-2]
    with pytest.raises(IndexError):
        buf[len(buf)]
    with pytest.raises(IndexError):
        buf[-len(buf) - 1]
    for k in range(0, len(rest), 3 * PAGE + 1):
        assert buf[k] == rest[k]


def test_buffer_with_size_and_iteration(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=PAGE)
    buf = SlidingWindowMapBuffer()
    assert buf.cursor() is None and len(buf) == 0
    assert buf.begin_access(man.make_cursor(path), PAGE - 50, 100) is True
    assert len(buf) == 100
    assert list(buf) == list(data[PAGE - 50:PAGE + 50])   # ends at len: IndexError
    assert buf[99] == data[PAGE + 49]
    with pytest.raises(IndexError):
        buf[100]
    assert buf.begin_access(offset=7) is True          # same cursor, new start
    assert buf[0] == data[7] and len(buf) == len(data) - 7
    buf.end_access()
    assert len(buf) == 0 and not buf.cursor().is_valid()


def test_buffer_slices_end_at_its_size(datafile):
    # smmap 5.0's SlidingWindowMapBuffer(c, 0, 5)[0:100] read 100 bytes of
    # the file, past the size it was given (and len() said 5)
    path, data = datafile
    man = SlidingWindowMapManager(window_size=PAGE)
    buf = SlidingWindowMapBuffer(man.make_cursor(path), PAGE - 2, 5)
    assert len(buf) == 5
    assert buf[0:100] == data[PAGE - 2:PAGE + 3]
    assert buf.__getslice__(0, 100) == data[PAGE - 2:PAGE + 3]
    assert buf[3:] == data[PAGE + 1:PAGE + 3] and buf[::2] == data[PAGE - 2:PAGE + 3:2]
    with pytest.raises(IndexError):
        buf[5]


def test_debian_smmap_buffer_ignores_its_start(datafile, debian_smmap):
    path, data = datafile
    man = debian_smmap.SlidingWindowMapManager(window_size=4 * PAGE)
    buf = debian_smmap.SlidingWindowMapBuffer(man.make_cursor(path), 1000)
    assert data[0] != data[1000]
    assert buf[0] == data[0]                           # not data[1000]
    assert len(buf[:0]) == len(data) - 1000            # not empty
    buf.end_access()


# ------------------------------------------------------------ threads

def test_manager_shared_between_threads(tmp_path):
    path, data = write_file(tmp_path, 256 * PAGE, seed=9)
    man = SlidingWindowMapManager(window_size=2 * PAGE, max_memory_size=16 * PAGE, max_open_handles=24)
    errors = []
    reads = []

    def worker(seed):
        rnd = random.Random(seed)
        c = man.make_cursor(path)
        buf = SlidingWindowMapBuffer(man.make_cursor(path))
        n = 0
        try:
            for _ in range(1500):
                ofs = rnd.randrange(len(data))
                size = rnd.randint(1, 3 * PAGE)
                c.use_region(ofs, size)
                got = bytes(c.buffer())
                assert got == data[ofs:ofs + len(got)] and len(got) >= 1
                a = rnd.randrange(len(data))
                b = min(len(data), a + rnd.randint(0, 5 * PAGE))
                assert buf[a:b] == data[a:b]
                assert buf[a] == data[a]
                if rnd.random() < 0.05:
                    man.collect()
                n += 1
        except Exception as exc:          # reported below with its thread
            errors.append((seed, repr(exc)))
        reads.append(n)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert reads == [1500] * 6
    st = man.stats()
    assert st["peak_regions"] <= 24
    assert man.num_file_handles() == st["regions"]
    assert man.collect() == st["regions"]
    assert man.num_file_handles() == 0 and man.mapped_memory_size() == 0


def test_one_cursor_used_by_two_threads_raises_not_crashes(tmp_path):
    """Misuse (one cursor, three threads) is an exception, never a crash,
    including the first use, which opens the file without the GIL."""
    path, data = write_file(tmp_path, 512 * PAGE, seed=10)
    outcomes = {"ok": 0, "busy": 0, "invalid": 0}
    lock = threading.Lock()
    rounds, per_thread = 40, 300

    def worker(c, barrier, seed):
        rnd = random.Random(seed)
        barrier.wait()
        for _ in range(per_thread):
            ofs = rnd.randrange(len(data))
            try:
                # another thread may move the cursor between these two calls:
                # the bytes are then of its window, but always mapped memory
                got = bytes(c.use_region(ofs, 64).buffer())
                assert 1 <= len(got) <= 64
                key = "ok"
            except RuntimeError:
                key = "busy"
            except ValueError:            # the other thread released it meanwhile
                key = "invalid"
            with lock:
                outcomes[key] += 1

    for r in range(rounds):
        man = SlidingWindowMapManager(window_size=PAGE)
        c = man.make_cursor(path)         # not opened yet: threads race to open
        barrier = threading.Barrier(3)
        threads = [threading.Thread(target=worker, args=(c, barrier, r * 3 + s)) for s in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        c.unuse_region()
        regions = man.stats()["regions"]
        assert regions >= 1
        assert man.collect() == regions
        assert man.num_file_handles() == 0
    assert sum(outcomes.values()) == rounds * 3 * per_thread
    assert outcomes["ok"] > 0


# ------------------------------------------------ finalizers at shutdown

SHUTDOWN_SCRIPT = r'''
import sys
sys.path.insert(0, {python_dir!r})
import smmap
man = smmap.SlidingWindowMapManager(window_size=4096)
c = man.make_cursor({path!r}).use_region(0)
view = c.buffer()
whole = c.map()
buf = smmap.SlidingWindowMapBuffer(man.make_cursor({path!r}), 10)
cycle = [c, buf]
cycle.append(cycle)
class Holder:
    pass
h = Holder()
h.me = h
h.cursor = man.make_cursor({path!r}).use_region(5000)
h.view = h.cursor.buffer()
del man
print(buf[0], view[1], whole[2], h.view[0])
'''


def test_finalizers_are_safe_at_shutdown(datafile):
    path, data = datafile
    script = SHUTDOWN_SCRIPT.format(python_dir=PYTHON_DIR, path=path)
    for _ in range(3):
        res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert res.stderr == ""
        assert res.stdout.split() == [str(data[10]), str(data[1]), str(data[2]), str(data[5000])]


# ------------------------------------------ a file larger than the window

def test_index_larger_than_window_maps_whole(datafile):
    path, data = datafile
    man = SlidingWindowMapManager(window_size=4 * PAGE)
    c = man.make_cursor(path).use_region()
    assert (c.ofs_begin(), c.size()) == (0, 4 * PAGE)
    m = c.map()
    assert len(m) == len(data)
    assert struct.unpack_from(">Q", m, len(data) - 8)[0] == int.from_bytes(data[-8:], "big")
    assert m[-40:-20] == data[-40:-20]
    # over the budget, map() is the region, as in smmap
    small = SlidingWindowMapManager(window_size=4 * PAGE, max_memory_size=8 * PAGE)
    m2 = small.make_cursor(path).use_region().map()
    assert len(m2) == 4 * PAGE and m2[-1] == data[4 * PAGE - 1]


def test_debian_smmap_map_is_one_window(datafile, debian_smmap):
    path, data = datafile
    man = debian_smmap.SlidingWindowMapManager(window_size=4 * PAGE)
    m = man.make_cursor(path).use_region().map()
    assert len(m) == 4 * PAGE
    with pytest.raises(struct.error):        # gitdb #6
        struct.unpack_from(">Q", m, len(data) - 8)


# ------------------------------------------- issue 12: truth under change
#
# Each test that truncates a mapped file runs in a subprocess: a fault that
# escaped the guard kills that process and fails the test with its exit
# status and stderr, instead of killing pytest.

def run_python(script, timeout=60):
    """Run script in a fresh interpreter (no faulthandler unless the script
    enables it; AddressSanitizer, when preloaded, leaves SIGBUS to us)."""
    env = dict(os.environ)
    env.pop("PYTHONFAULTHANDLER", None)
    if "ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] += ":handle_sigbus=0"
    return subprocess.run([sys.executable, "-c", script], capture_output=True,
                          text=True, timeout=timeout, env=env)


TRUNCATE_PRELUDE = r'''
import errno, os, sys
sys.path.insert(0, {python_dir!r})
import smmap
from smmap import SlidingWindowMapBuffer, SlidingWindowMapManager
PAGE = {page}
path = {path!r}
with open(path, "rb") as fp:
    data = fp.read()

def show(what, fn):
    try:
        res = fn()
    except OSError as e:
        print(what, "OSError", errno.errorcode.get(e.errno, e.errno), flush=True)
    else:
        print(what, "ok" if res == expected(what) else "WRONG %r" % (res,), flush=True)
'''


def test_touched_file_maps_new_windows(tmp_path, monkeypatch):
    # case 1: git freshens a pack with utime (same inode, size and bytes);
    # before, every new window of it gave OSError(ESTALE) for good
    path, data = write_file(tmp_path, 4 << 20, seed=12, name="pack")
    monkeypatch.setattr(smmap.mman, "_IS_WINDOWS", True)
    man = SlidingWindowMapManager(window_size=16 * PAGE)
    c = man.make_cursor(path).use_region(0, PAGE)
    assert bytes(c.buffer()) == data[:PAGE]
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))
    assert os.stat(path).st_mtime_ns == st.st_mtime_ns + 10 ** 9
    ofs = (3 << 20) + 1234                     # a window elsewhere
    assert c.use_region(ofs, PAGE).ofs_begin() == ofs
    assert bytes(c.buffer()) == data[ofs:ofs + PAGE]
    assert man.stats()["maps"] == 2
    # a new cursor and a buffer of the same file map windows too
    buf = SlidingWindowMapBuffer(man.make_cursor(path), 2 << 20)
    assert buf[:100] == data[2 << 20:(2 << 20) + 100]
    assert buf[len(buf) - 1] == data[-1]
    buf.end_access()
    # and so does the first cursor after its descriptor was closed: the
    # reopen checks the identity, which a touch does not change
    c.unuse_region()
    assert man.num_file_handles() == 4       # 0, 3 MiB, 2 MiB and the last window
    assert man._force_map_handle_removal(str(tmp_path)) == 4
    assert man.stats()["open_fds"] == 0 and not c.is_valid()
    assert c.use_region(PAGE + 7, 100).is_valid()
    assert bytes(c.buffer()) == data[PAGE + 7:PAGE + 107]
    assert man.stats()["open_fds"] == 1


TRUNCATED_READS = TRUNCATE_PRELUDE + r'''
man = SlidingWindowMapManager(window_size=16 * PAGE)
buf = SlidingWindowMapBuffer(man.make_cursor(path), PAGE)   # window [0, 16P)
c = man.make_cursor(path).use_region(0, 16 * PAGE)
m = c.map()
assert (buf[0], m[0]) == (data[PAGE], data[0])
os.truncate(path, 4 * PAGE)
# index i of buf is file byte PAGE + i; of m, file byte i
want = {{
    "buf[i] kept": data[3 * PAGE], "buf[a:b] kept": data[2 * PAGE:3 * PAGE + 5],
    "m[i] kept": data[4 * PAGE - 1], "m[a:b] kept": data[:4 * PAGE],
    "m[a:b:step] kept": data[0:4 * PAGE:4000],
}}
expected = want.get
show("buf[i] kept", lambda: buf[2 * PAGE])
show("buf[a:b] kept", lambda: buf[PAGE:2 * PAGE + 5])
show("buf[i] lost", lambda: buf[5 * PAGE])
print("faults", man.stats()["faults"])
show("buf[-1] lost", lambda: buf[-1])
show("buf[a:b] lost", lambda: buf[6 * PAGE:6 * PAGE + 64])
show("buf[a:b] across the end", lambda: buf[2 * PAGE:4 * PAGE])
show("buf[a:b:step] lost", lambda: buf[5 * PAGE:7 * PAGE:3])
show("m[i] kept", lambda: m[4 * PAGE - 1])
show("m[a:b] kept", lambda: m[:4 * PAGE])
show("m[a:b:step] kept", lambda: m[0:4 * PAGE:4000])
show("m[i] lost", lambda: m[10 * PAGE])
show("m[a:b] lost", lambda: m[9 * PAGE:10 * PAGE])
show("m[a:b:step] lost", lambda: m[16 * PAGE - 1:0:-5000])
show("m[a:b:2] lost", lambda: m[4 * PAGE - 2:4 * PAGE + 2:2])
'''


def test_truncated_file_slices_and_indexes_raise_eio(tmp_path):
    # case 8: slices and indexes of SlidingWindowMapBuffer and of map() are
    # guarded copies; before, they read the lost pages: "Bus error"
    path, data = write_file(tmp_path, 16 * PAGE, seed=8)
    script = TRUNCATED_READS.format(python_dir=PYTHON_DIR, page=PAGE, path=path)
    res = run_python(script)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert res.stdout.splitlines() == [
        "buf[i] kept ok",
        "buf[a:b] kept ok",
        "buf[i] lost OSError EIO",
        "faults 1",
        "buf[-1] lost OSError EIO",
        "buf[a:b] lost OSError EIO",
        "buf[a:b] across the end OSError EIO",
        "buf[a:b:step] lost OSError EIO",
        "m[i] kept ok",
        "m[a:b] kept ok",
        "m[a:b:step] kept ok",
        "m[i] lost OSError EIO",
        "m[a:b] lost OSError EIO",
        "m[a:b:step] lost OSError EIO",
        "m[a:b:2] lost OSError EIO",
    ]


RAW_VIEW_DIES = TRUNCATE_PRELUDE + r'''
man = SlidingWindowMapManager(window_size=16 * PAGE)
c = man.make_cursor(path).use_region(0, 16 * PAGE)
view = c.buffer()
print("before", view[PAGE] == data[PAGE], flush=True)
os.truncate(path, 4 * PAGE)
print("kept", view[PAGE] == data[PAGE], flush=True)
print("lost", view[10 * PAGE], flush=True)
print("not reached", flush=True)
'''


def test_truncated_file_raw_view_is_a_bus_error(tmp_path):
    # buffer() (and map()'s buffer protocol) are raw views of the map, as in
    # smmap 5.0: reading a lost page through one kills the process (SIGBUS),
    # which python/README.md says
    path, data = write_file(tmp_path, 16 * PAGE, seed=9)
    res = run_python(RAW_VIEW_DIES.format(python_dir=PYTHON_DIR, page=PAGE, path=path))
    assert res.returncode == -signal.SIGBUS, (res.returncode, res.stderr)
    assert res.stdout.splitlines() == ["before True", "kept True"]


FAULTHANDLER_AFTER = TRUNCATE_PRELUDE + r'''
import faulthandler
paths = [path + "." + k for k in "abc"]
for p in paths:
    with open(p, "wb") as fp:
        fp.write(data)
pa, pb, pc = paths
man = SlidingWindowMapManager(window_size=16 * PAGE)
# each stage truncates its own file: only the first read of a lost page
# faults, later ones are refused without touching the map

# a: the first window, then faulthandler, then a buffer over that window
first = man.make_cursor(pa).use_region(0, 16 * PAGE)
assert bytes(first.buffer()[:8]) == data[:8]
faulthandler.enable()            # installs its SIGBUS handler after ours
buf = SlidingWindowMapBuffer(man.make_cursor(pa), 0)    # reuses the window
assert man.stats()["maps"] == 1
os.truncate(pa, 4 * PAGE)
expected = {{"a: slice kept": data[PAGE:PAGE + 16]}}.get
show("a: slice kept", lambda: buf[PAGE:PAGE + 16])
show("a: slice lost", lambda: buf[8 * PAGE:8 * PAGE + 16])
show("a: index lost", lambda: buf[9 * PAGE])

# b: a buffer reading before faulthandler is enabled again: guard_install()
bufb = SlidingWindowMapBuffer(man.make_cursor(pb), 0)
assert bufb[5] == data[5] and man.stats()["maps"] == 2
faulthandler.disable()
faulthandler.enable()
smmap._csmmap.guard_install()
os.truncate(pb, 4 * PAGE)
show("b: slice lost", lambda: bufb[10 * PAGE:10 * PAGE + 16])

# c: use_region onto a window mapped before faulthandler was enabled again
holder = man.make_cursor(pc).use_region(0, 16 * PAGE)
third = man.make_cursor(pc)
faulthandler.disable()
faulthandler.enable()
third.use_region(0, PAGE)        # the cached window: no map
m = third.map()
print("maps", man.stats()["maps"], "map size", len(m))
os.truncate(pc, 4 * PAGE)
show("c: map index lost", lambda: m[11 * PAGE])
print("faults", man.stats()["faults"], "enabled", faulthandler.is_enabled())
'''


def test_guarded_reads_stay_guarded_after_faulthandler_enable(tmp_path):
    # case 9: a SIGBUS handler installed after smmap's (faulthandler, test
    # runners) re-raised a guarded read's fault without its address: the
    # process died with "Fatal Python error: Bus error"
    path, data = write_file(tmp_path, 16 * PAGE, seed=10)
    res = run_python(FAULTHANDLER_AFTER.format(python_dir=PYTHON_DIR, page=PAGE, path=path))
    assert "Fatal Python error" not in res.stderr
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert res.stdout.splitlines() == [
        "a: slice kept ok",
        "a: slice lost OSError EIO",
        "a: index lost OSError EIO",
        "b: slice lost OSError EIO",
        "maps 3 map size %d" % (16 * PAGE),
        "c: map index lost OSError EIO",
        "faults 3 enabled True",
    ]


ABSURD_SIZES = r'''
import sys
sys.path.insert(0, {python_dir!r})
import smmap
from smmap import SlidingWindowMapBuffer, SlidingWindowMapManager
from smmap._csmmap import Manager
path = {path!r}
with open(path, "rb") as fp:
    data = fp.read()

def show(what, fn):
    try:
        res = fn()
    except Exception as e:
        print(what, type(e).__name__, e, flush=True)
    else:
        print(what, res, flush=True)

def read(man, ofs=100, n=16):
    c = man.make_cursor(path).use_region(ofs, n)
    return bytes(c.buffer()) == data[ofs:ofs + n]

for w in (2 ** 63, 2 ** 63 + 4096, 2 ** 64 - 4097, 2 ** 64 - 1, 2 ** 64, 2 ** 64 + 5, 2 ** 100):
    show("window_size=%d" % w, lambda: SlidingWindowMapManager(window_size=w))
# below the binding's bound, but a whole page more once rounded up to one:
# the library's own -EINVAL, a ValueError naming the options
try:
    read(SlidingWindowMapManager(window_size=2 ** 63 - 1))
except ValueError as e:
    print("window_size=2**63-1 ValueError", str(e).startswith(
        "smmap: invalid manager options (invalid argument): window_size=9223372036854775807,"))
show("Manager(-5)", lambda: Manager(-5, 1 << 30))
show("Manager(2**64)", lambda: Manager(2 ** 64, 1 << 30))
show("Manager(max_mapped=-1)", lambda: Manager(4096, -1))
show("Manager(max_regions=-1)", lambda: Manager(4096, 1 << 30, -1))
show("Manager(max_open_files=2**64)", lambda: Manager(4096, 1 << 30, 0, 2 ** 64))
show("max_memory_size=-1", lambda: SlidingWindowMapManager(max_memory_size=-1))
show("max_memory_size=2**64", lambda: SlidingWindowMapManager(max_memory_size=2 ** 64))
# absurd but legal: no hang, the right bytes
show("window_size=2**62", lambda: read(SlidingWindowMapManager(window_size=2 ** 62)))
show("window_size=2**63-2**20", lambda: read(SlidingWindowMapManager(window_size=2 ** 63 - 2 ** 20)))
show("max_memory_size=2**64-1", lambda: read(SlidingWindowMapManager(window_size=4096, max_memory_size=2 ** 64 - 1)))
show("max_open_handles=2**70", lambda: read(SlidingWindowMapManager(window_size=4096, max_open_handles=2 ** 70)))
show("window_size=-5", lambda: SlidingWindowMapManager(window_size=-5).window_size() == {default_window})
man = SlidingWindowMapManager(window_size=4096)
c = man.make_cursor(path)
show("use_region(0, 2**64-1)", lambda: (c.use_region(0, 2 ** 64 - 1).is_valid(), c.size()))
show("use_region(2**64-1)", lambda: c.use_region(2 ** 64 - 1).is_valid())
show("use_region(-1)", lambda: c.use_region(-1))
show("use_region(0, -1)", lambda: c.use_region(0, -1))
show("use_region(2**64)", lambda: c.use_region(2 ** 64))
show("use_region(size=2**64)", lambda: c.use_region(0, size=2 ** 64))
show("buffer(size=2**64-1)", lambda: len(SlidingWindowMapBuffer(man.make_cursor(path), 5, 2 ** 64 - 1)))
show("buffer(offset=-1)", lambda: SlidingWindowMapBuffer(man.make_cursor(path), -1))
show("buffer(offset=2**64-1)", lambda: SlidingWindowMapBuffer(man.make_cursor(path), 2 ** 64 - 1))
'''


def test_absurd_sizes_raise_instead_of_hanging(datafile):
    # case 6: window_size in [2**63, 2**64 - 4097] hung forever; 2**64 and
    # above were taken modulo 2**64 (2**64 was the static mode)
    path, data = datafile
    default = (1024 if smmap.util.is_64_bit() else 64) << 20
    script = ABSURD_SIZES.format(python_dir=PYTHON_DIR, path=path, default_window=default)
    res = run_python(script, timeout=60)       # a hang fails here
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    big = "at most %d" % (sys.maxsize,)         # half the address space
    assert res.stdout.splitlines() == [
        "window_size=9223372036854775808 ValueError smmap: window_size=9223372036854775808 is too large (%s)" % big,
        "window_size=9223372036854779904 ValueError smmap: window_size=9223372036854779904 is too large (%s)" % big,
        "window_size=18446744073709547519 ValueError smmap: window_size=18446744073709547519 is too large (%s)" % big,
        "window_size=18446744073709551615 ValueError smmap: window_size=18446744073709551615 is too large (%s)" % big,
        "window_size=18446744073709551616 ValueError smmap: window_size=18446744073709551616 is too large (%s)" % big,
        "window_size=18446744073709551621 ValueError smmap: window_size=18446744073709551621 is too large (%s)" % big,
        "window_size=1267650600228229401496703205376 ValueError smmap: "
        "window_size=1267650600228229401496703205376 is too large (%s)" % big,
        "window_size=2**63-1 ValueError True",
        "Manager(-5) ValueError smmap: window_size=-5 must not be negative",
        "Manager(2**64) ValueError smmap: window_size=18446744073709551616 is too large (%s)" % big,
        "Manager(max_mapped=-1) ValueError smmap: max_mapped=-1 must not be negative",
        "Manager(max_regions=-1) ValueError smmap: max_regions=-1 must not be negative",
        "Manager(max_open_files=2**64) ValueError smmap: max_open_files=18446744073709551616 "
        "is too large (at most 18446744073709551615)",
        "max_memory_size=-1 ValueError smmap: max_memory_size=-1 must not be negative (0 selects the default)",
        "max_memory_size=2**64 ValueError smmap: max_memory_size=18446744073709551616 is too large (at most 2**64 - 1)",
        "window_size=2**62 True",
        "window_size=2**63-2**20 True",
        "max_memory_size=2**64-1 True",
        "max_open_handles=2**70 True",
        "window_size=-5 True",
        "use_region(0, 2**64-1) (True, 4096)",
        "use_region(2**64-1) False",
        "use_region(-1) ValueError smmap: offset=-1 must not be negative",
        "use_region(0, -1) ValueError smmap: size=-1 must not be negative",
        "use_region(2**64) ValueError smmap: offset=18446744073709551616 is too large "
        "(at most 18446744073709551615)",
        "use_region(size=2**64) ValueError smmap: size=18446744073709551616 is too large "
        "(at most 18446744073709551615)",
        "buffer(size=2**64-1) %d" % (len(data) - 5),
        "buffer(offset=-1) ValueError smmap: offset=-1 must not be negative",
        "buffer(offset=2**64-1) ValueError Failed to allocate the buffer - probably the given "
        "offset is out of bounds",
    ]


# ------------------------------ a file replaced under its name (rename-replace)
#
# The manager caches one handle per path. A handle sees the file it opened
# (issue 12): once its path names another file, its new windows raise
# OSError(ESTALE), never the new file's bytes. The first ESTALE makes the
# manager forget that handle, so that a cursor made afterwards reads the
# file at the path now, while the cursors made before keep the old one.

import errno
import gc

from smmap import _csmmap

KiB = 1024
MiB = 1024 * KiB
WIN = 64 * KiB


def replace_setup(tmp_path):
    """A 1 MiB file, and a manager of 64 KiB windows, a 128 KiB budget and
    ONE descriptor (the library's max_open_files; smmap's API has no such
    knob, so the test gives the manager a library manager of its own): a
    file's descriptor is closed when another file is opened, and a later
    window of it reopens the path, where the library checks the identity."""
    path, old = write_file(tmp_path, MiB, seed=121, name="pack")
    other, odata = write_file(tmp_path, MiB, seed=122, name="other")
    new = random.Random(123).randbytes(MiB)
    assert old != new
    man = SlidingWindowMapManager(window_size=WIN, max_memory_size=2 * WIN)
    man._m = _csmmap.Manager(WIN, 2 * WIN, 0, 1)
    return man, path, old, new, other, odata


def replace_file(path, data):
    """Rename a new file over path (git writes packs and indexes this way)."""
    st = os.stat(path)
    tmp = path + ".tmp"
    with open(tmp, "wb") as fp:
        fp.write(data)
    os.replace(tmp, path)
    assert os.stat(path).st_ino != st.st_ino


def close_descriptor(man, other, odata):
    """Open another file through the manager: with one descriptor allowed,
    the first file's is closed. Then unmap every unused window."""
    before = man.stats()["fd_closes"]
    c = man.make_cursor(other)
    assert bytes(c.use_region(0, 16).buffer()) == odata[:16]
    c.unuse_region()
    st = man.stats()
    assert st["open_fds"] == 1 and st["fd_closes"] == before + 1
    man.collect()


def raises_estale(fn):
    with pytest.raises(OSError) as ei:
        fn()
    assert ei.value.errno == errno.ESTALE, ei.value
    return ei.value


def test_replaced_file_new_cursor_reads_the_new_file(tmp_path):
    man, path, old, new, other, odata = replace_setup(tmp_path)
    c = man.make_cursor(path)
    assert bytes(c.use_region(0, 4096).buffer()) == old[:4096]
    hold = copy.copy(c)                      # keeps the window [0, 64K) mapped
    view = hold.buffer()
    c.unuse_region()
    close_descriptor(man, other, odata)
    oldf = man._fdict[path]
    files = man.stats()["files"]             # pack and other
    assert files == 2

    replace_file(path, new)

    # the old cursor: a new window is ESTALE, never the new bytes ...
    raises_estale(lambda: c.use_region(512 * KiB, 4096))
    assert oldf.stale == 1
    assert path not in man._fdict            # ... and the cache forgot it
    # ... while the window still mapped keeps the old bytes
    assert bytes(hold.buffer()) == old[:4096]
    assert bytes(view) == old[:4096]
    assert bytes(c.use_region(100, 200).buffer()) == old[100:300]
    raises_estale(lambda: c.use_region(3 * WIN + 5, 10))
    buf = SlidingWindowMapBuffer(copy.copy(hold))
    assert buf[:10] == old[:10]
    raises_estale(lambda: buf[WIN - 5:WIN + 5])    # a read across windows
    raises_estale(lambda: buf[700 * KiB])
    buf.end_access()

    # a new cursor of the path opens the file there now: new bytes, also
    # where the old file's window is still mapped
    n = man.make_cursor(path)
    assert n._rlist is not oldf and n._rlist.stale == 0
    assert man._fdict[path] is n._rlist
    assert bytes(n.use_region(512 * KiB, 4096).buffer()) == new[512 * KiB:512 * KiB + 4096]
    assert man.stats()["files"] == 3         # opened at first use
    assert bytes(n.use_region(0, 4096).buffer()) == new[:4096]
    assert bytes(n.use_region(MiB - 10, 10).buffer()) == new[-10:]
    nbuf = SlidingWindowMapBuffer(man.make_cursor(path), WIN - 5)
    assert nbuf[:10] == new[WIN - 5:WIN + 5]
    nbuf.end_access()
    assert man.make_cursor(path)._rlist is n._rlist       # cached again
    # old and new side by side, each its own bytes
    assert bytes(hold.buffer()) == old[:4096]
    assert bytes(view) == old[:4096]

    # the old handle lives while anything uses it: the view outlives every
    # cursor of it, and still reads the old bytes
    del c, hold, buf, oldf
    gc.collect()
    assert bytes(view) == old[:4096]
    assert man.stats()["files"] == 3
    del view
    gc.collect()
    assert man.stats()["files"] == 2         # the old handle is closed
    assert bytes(n.use_region(WIN, 8).buffer()) == new[WIN:WIN + 8]


def test_replaced_file_first_use_of_a_cached_handle(tmp_path):
    # the file is replaced while no cursor uses it: make_cursor still hands
    # out the cached handle, whose first new window gives ESTALE once; the
    # next make_cursor opens the new file
    man, path, old, new, other, odata = replace_setup(tmp_path)
    c = man.make_cursor(path)
    assert bytes(c.use_region(WIN + 3, 100).buffer()) == old[WIN + 3:WIN + 103]
    del c
    close_descriptor(man, other, odata)
    assert man.stats()["regions"] == 0
    replace_file(path, new)

    c = man.make_cursor(path)
    oldf = c._rlist
    raises_estale(lambda: c.use_region(5 * WIN, 4096))
    assert oldf.stale == 1 and path not in man._fdict
    raises_estale(lambda: c.use_region(0, 4096))   # never the new bytes
    del c
    gc.collect()
    c = man.make_cursor(path)
    assert c._rlist is not oldf
    assert bytes(c.use_region(5 * WIN, 4096).buffer()) == new[5 * WIN:5 * WIN + 4096]
    assert bytes(c.use_region(WIN + 3, 100).buffer()) == new[WIN + 3:WIN + 103]
    del oldf
    gc.collect()
    assert man.stats()["files"] == 2


def test_replaced_file_slice_of_a_new_buffer(tmp_path):
    # the ESTALE of a read across windows (not a use_region) also makes the
    # cache forget the handle; a handle opened from a descriptor is kept
    man, path, old, new, other, odata = replace_setup(tmp_path)
    hold = man.make_cursor(path).use_region(0, WIN)   # [0, 64K) stays mapped
    close_descriptor(man, other, odata)
    replace_file(path, new)
    # the cached handle: a buffer begins on the window still mapped
    buf = SlidingWindowMapBuffer(man.make_cursor(path))
    assert buf[:20] == old[:20]
    assert path in man._fdict
    raises_estale(lambda: buf[2 * WIN - 1:2 * WIN + 1])
    assert path not in man._fdict and hold._rlist.stale == 1
    assert buf[WIN - 20:WIN] == old[WIN - 20:WIN]
    buf.end_access()
    buf = SlidingWindowMapBuffer(man.make_cursor(path))
    assert buf[2 * WIN - 1:2 * WIN + 1] == new[2 * WIN - 1:2 * WIN + 1]
    assert buf[:20] == new[:20]
    buf.end_access()
    # a descriptor: the library keeps its own duplicate, so the handle reads
    # the file the descriptor was opened on, even after a rename-replace
    fd = os.open(path, os.O_RDONLY)
    try:
        c = man.make_cursor(fd)
        assert bytes(c.use_region(0, 8).buffer()) == new[:8]
        replace_file(path, old)
        assert bytes(c.use_region(3 * WIN, 8).buffer()) == new[3 * WIN:3 * WIN + 8]
        assert man._fdict[fd] is c._rlist and c._rlist.stale == 0
        c.unuse_region()
    finally:
        os.close(fd)
