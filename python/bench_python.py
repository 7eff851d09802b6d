#!/usr/bin/env python3
"""Benchmark: Debian's pure-Python smmap 5.0 against this package, same
operations, one run. Prints medians (ns per operation) and ratios.

    /usr/bin/python3 python/bench_python.py [--quick]

Operations (file of random bytes, regions kept mapped by a large budget):
  held      use_region(ofs, 4096) + buffer() inside the held window
  byte      SlidingWindowMapBuffer[i], i random inside one window
  byte-far  SlidingWindowMapBuffer[i], i random over the whole file (window switches)
  slices    SlidingWindowMapBuffer[a:b], 1..8 KiB slices that straddle window boundaries
Targets (issue 5): held >= 5x, byte >= 5x, slices >= 3x.
"""
import importlib.util
import os
import random
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEBIAN_SMMAP = "/usr/lib/python3/dist-packages/smmap/__init__.py"


def load_debian_smmap():
    """Debian's smmap as package 'debian_smmap', next to ours."""
    spec = importlib.util.spec_from_file_location(
        "debian_smmap", DEBIAN_SMMAP,
        submodule_search_locations=[os.path.dirname(DEBIAN_SMMAP)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["debian_smmap"] = mod
    spec.loader.exec_module(mod)
    return mod


def load_ours():
    sys.path.insert(0, HERE)
    import smmap
    import smmap._csmmap
    assert os.path.dirname(smmap.__file__) == os.path.join(HERE, "smmap"), smmap.__file__
    return smmap


def timeit(fn, n, repeat):
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(n)
        out.append((time.perf_counter() - t0) / n * 1e9)
    return statistics.median(out)


def make_ops(lib, path, fsize, window):
    man = lib.SlidingWindowMapManager(window_size=window, max_memory_size=4 * fsize)
    rnd = random.Random(7)
    held_ofs = [rnd.randrange(0, window - 8192) for _ in range(4096)]
    near = [rnd.randrange(0, window) for _ in range(4096)]
    far = [rnd.randrange(0, fsize) for _ in range(4096)]
    slices = []
    nwin = fsize // window
    for _ in range(4096):
        length = rnd.randint(1024, 8192)
        boundary = rnd.randrange(1, nwin) * window
        a = boundary - rnd.randint(1, length - 1)
        slices.append((a, a + length))

    c = man.make_cursor(path)
    c.use_region(0, window)
    buf = lib.SlidingWindowMapBuffer(man.make_cursor(path))
    # warm every window so both libraries time their hit paths, not mmap
    for a, b in slices:
        buf[a:b]
    for i in far:
        buf[i]

    # Each timed loop walks a prepared list, so the harness costs one list
    # iteration per operation, the same for both libraries.
    def repeat_over(items, n, body):
        rounds, rest = divmod(n, len(items))
        for _ in range(rounds):
            body(items)
        body(items[:rest])

    def held(n):
        use = c.use_region

        def body(items):
            for o in items:
                use(o, 4096).buffer()
        repeat_over(held_ofs, n, body)

    def byte(n):
        def body(items):
            for i in items:
                buf[i]
        repeat_over(near, n, body)

    def byte_far(n):
        def body(items):
            for i in items:
                buf[i]
        repeat_over(far, n, body)

    def slices_op(n):
        def body(items):
            for a, b in items:
                buf[a:b]
        repeat_over(slices, n, body)

    return man, c, buf, {"held": held, "byte": byte, "byte-far": byte_far,
                         "slices": slices_op}


def check_same_bytes(theirs, ours, data):
    """Both libraries give the file's bytes for the slices timed."""
    rnd = random.Random(3)
    for _ in range(200):
        a = rnd.randrange(0, len(data) - 9000)
        b = a + rnd.randint(1, 9000)
        assert bytes(ours[2][a:b]) == data[a:b]
        assert bytes(theirs[2][a:b]) == data[a:b]


def main():
    quick = "--quick" in sys.argv
    debian = load_debian_smmap()
    ours = load_ours()
    fsize = (4 if quick else 16) * 1024 * 1024
    window = 64 * 1024
    repeat = 5 if quick else 9
    counts = {"held": 100000, "byte": 200000, "byte-far": 50000, "slices": 20000}
    if quick:
        counts = {k: v // 10 for k, v in counts.items()}
    targets = {"held": 5.0, "byte": 5.0, "slices": 3.0}
    data = random.Random(1).randbytes(fsize)
    fd, path = tempfile.mkstemp(prefix="smmap-bench-")
    try:
        with os.fdopen(fd, "wb") as fp:
            fp.write(data)
        theirs = make_ops(debian, path, fsize, window)
        mine = make_ops(ours, path, fsize, window)
        check_same_bytes(theirs, mine, data)
        print("smmap %s (%s) vs Debian smmap %s; file %d MiB, window %d KiB; "
              "median of %d runs, ns/op" % (ours.__version__, os.path.dirname(ours.__file__),
                                            debian.__version__, fsize >> 20, window >> 10, repeat))
        print("%-10s %12s %12s %9s %8s" % ("operation", "debian", "ours", "ratio", "target"))
        failed = 0
        for name in ("held", "byte", "byte-far", "slices"):
            t_theirs = timeit(theirs[3][name], counts[name], repeat)
            t_ours = timeit(mine[3][name], counts[name], repeat)
            ratio = t_theirs / t_ours
            target = targets.get(name)
            mark = ""
            if target is not None:
                mark = ">=%.0fx %s" % (target, "ok" if ratio >= target else "MISSED")
                failed += ratio < target
            print("%-10s %12.0f %12.0f %8.1fx %8s" % (name, t_theirs, t_ours, ratio, mark))
        return 1 if failed and "--check" in sys.argv else 0
    finally:
        os.unlink(path)


if __name__ == "__main__":
    sys.exit(main())
