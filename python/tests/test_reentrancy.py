"""Python code that runs inside our calls, and objects used from two
threads, must not free what a call is using.

A path-like's __fspath__ runs when a file is first opened (lazily, inside a
buffer index or use_region) and when force_map_handle_removal compares
paths; a path's __del__ runs when the last reference to its File goes; a
buffer's slow read runs without the GIL. Each could drop the last
reference to an object the C code was in the middle of using (found by an
outside-style test, 2026-12-03: segfaults and use-after-free under ASan,
where smmap 5.0 raises at most an exception). Each case runs in its own
interpreter, so that a crash fails the test instead of killing pytest;
under test-python.sh's ASan+UBSan run, a use-after-free fails it too.
"""
import textwrap

from conftest import PYTHON_DIR, write_file
from test_fixes import run_python

PRELUDE = '''
import gc, sys, threading, time
sys.path.insert(0, {python_dir!r})
import smmap
from smmap import SlidingWindowMapBuffer, SlidingWindowMapManager
BIG, SMALL = {big!r}, {small!r}
data = open(BIG, "rb").read()

class Path:
    """A path-like for BIG whose __fspath__ calls hook once, when armed."""
    def __init__(self):
        self.hook = None
    def __fspath__(self):
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()
        return BIG
'''


def run_case(tmp_path, body, timeout=60):
    big, _ = write_file(tmp_path, 3 * 1024 * 1024, seed=3, name="big")
    small, _ = write_file(tmp_path, 4096, seed=4, name="small")
    script = PRELUDE.format(python_dir=PYTHON_DIR, big=big, small=small)
    res = run_python(script + textwrap.dedent(body) + '\nprint("survived")\n',
                     timeout=timeout)
    assert res.returncode == 0 and "survived" in res.stdout, (
        res.returncode, res.stdout[-2000:], res.stderr[-4000:])
    return res.stdout


def test_fspath_that_gives_the_buffer_another_cursor(tmp_path):
    # the buffer's cursor is opened lazily by buf[5]; __fspath__ gives the
    # buffer another cursor, dropping its last reference to this one
    out = run_case(tmp_path, '''
        mgr = SlidingWindowMapManager(window_size=64 * 1024)
        p = Path()
        c1 = mgr.make_cursor(BIG)
        buf = SlidingWindowMapBuffer(c1, 0)
        c1.assign(mgr.make_cursor(p))
        del c1
        p.hook = lambda: buf.begin_access(mgr.make_cursor(SMALL), 0)
        print("item", buf[5] == data[5])
        print("now", len(buf) == 4096)
    ''')
    assert "item True" in out and "now True" in out


def test_buffer_shared_by_two_threads(tmp_path):
    # one thread slices across windows (without the GIL), the other gives
    # the buffer new cursors: exceptions at most, and never wrong bytes
    out = run_case(tmp_path, '''
        mgr = SlidingWindowMapManager(window_size=4096, max_memory_size=64 * 1024)
        buf = SlidingWindowMapBuffer(mgr.make_cursor(BIG), 0)
        stop = time.time() + 3
        wrong = []
        def reader():
            i = 0
            while time.time() < stop:
                a = (i * 40961) % (len(data) - 70000)
                try:
                    b = buf[a:a + 65536]
                    if b and b != data[a:a + len(b)]:
                        wrong.append(a)
                except RuntimeError:
                    pass
                i += 1
        def swapper():
            while time.time() < stop:
                buf.begin_access(mgr.make_cursor(BIG), 0)
        ts = [threading.Thread(target=reader), threading.Thread(target=swapper)]
        for t in ts: t.start()
        for t in ts: t.join()
        print("wrong", len(wrong))
    ''')
    assert "wrong 0" in out


def test_fspath_that_drops_a_cursor_during_release_path(tmp_path):
    # force_map_handle_removal's worker converts each cursor's path; the
    # conversion drops the last reference to the cursor it examines
    out = run_case(tmp_path, '''
        mgr = SlidingWindowMapManager(window_size=64 * 1024)
        keep, junk = [], []
        def drop():
            keep.clear()
            junk.extend(bytes([0x41]) * 140 for i in range(200))
        p = Path()
        c = mgr.make_cursor(p).use_region(0, 100)
        keep.append(c)
        del c
        p.hook = drop
        import os
        print("removed", mgr._force_map_handle_removal(os.path.dirname(BIG)))
    ''')
    assert "removed" in out


def test_path_del_that_reenters_assign(tmp_path):
    # assign() drops the cursor's File, whose path's __del__ assigns the
    # same cursor again: it must stay linked once, not twice
    out = run_case(tmp_path, '''
        m = SlidingWindowMapManager(window_size=4096)
        third = m.make_cursor(SMALL)
        class P(Path):
            def __del__(self):
                c.assign(third)
        c = m.make_cursor(P()).use_region(0, 10)
        m._fdict.clear()
        other = m.make_cursor(BIG).use_region(100, 10)
        c.assign(other)
        print("clients", other.region().client_count() >= 1)
        del c
        gc.collect()
        junk = [bytes([0x41]) * 140 for i in range(300)]
        cs = [m.make_cursor(BIG).use_region(i * 4096, 10) for i in range(20)]
        print("valid", all(x.is_valid() for x in cs))
    ''')
    assert "clients True" in out and "valid True" in out


def test_file_made_without_init(tmp_path):
    out = run_case(tmp_path, '''
        from smmap import _csmmap
        f = _csmmap.File.__new__(_csmmap.File)
        for what, fn in (("region_clients", lambda: f.region_clients(0)),
                         ("cursor", lambda: smmap.WindowCursor(None, f))):
            try:
                fn()
                print(what, "no error")
            except ValueError as e:
                print(what, "ValueError", e)
    ''')
    assert "region_clients ValueError" in out and "cursor ValueError" in out


def test_cursor_made_without_init_copied(tmp_path):
    # assign() and copy.copy() from a cursor whose __init__ never ran took
    # its NULL manager for an object: a segfault (an outside crash hunt).
    # It is a cursor of no manager and no file, as WindowCursor() is.
    out = run_case(tmp_path, '''
        import copy
        u = smmap.WindowCursor.__new__(smmap.WindowCursor)
        c = smmap.WindowCursor()
        c.assign(u)
        print("assign", c.is_valid(), c._manager)
        d = copy.copy(u)
        print("copy", d.is_valid(), d._manager)
    ''')
    assert "assign False None" in out and "copy False None" in out
