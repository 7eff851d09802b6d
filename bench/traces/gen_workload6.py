#!/usr/bin/python3
"""Write workload 6's access pattern (bench/bench.c, workload_regions) as a
trace for bench/trace_replay.c (format: see the top of trace_replay.c).

Workload 6: 500 files of 2 MiB, 4 KiB windows, random 8-byte reads through
one cursor moved across files (release and init on a change of file, then
smmap_cursor_at). A read at x < 4088 bytes into page 2k+1 of a file gets the
region of pages [2k, 2k+2), so "slots" (file, k) map one to one onto
regions. All slots are put in one random order; the eviction case reads the
first 2N uniformly at random with a budget of N regions (max_regions N,
max_mapped 4N pages, as the benchmark), after filling the budget with slots
N..2N-1. About half the reads hit whatever the eviction order, so this
pattern checks that an approximation loses nothing on it, not that it keeps
what recency says.

Two skewed patterns, where the order matters (budget N regions):
  zipf        reads of the first 8N slots, the slot of rank r with
              probability proportional to 1/r^s (s = 1.0): frequency and
              recency agree, a good order keeps the head;
  zipf-shift  the same distribution over ranks, but rank r is the slot
              (r + shift) of the order, and shift advances by N/10 every
              10,000 reads: the popular set drifts, and only recency says
              which slots are popular now.

Deterministic: the same arguments write the same trace (random.Random's
random() keeps its sequence across Python versions for an integer seed).

usage: gen_workload6.py --pattern uniform|zipf|zipf-shift --n N
                        [--ops 1000000] [--seed 6] [--page 4096] > TRACE
"""
import argparse
import bisect
import random
import sys

FILES = 500
FILE_SIZE = 2 * 1024 * 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pattern", choices=("uniform", "zipf", "zipf-shift"),
                    required=True)
    ap.add_argument("--n", type=int, required=True,
                    help="the budget in regions (N)")
    ap.add_argument("--ops", type=int, default=1000000,
                    help="reads after the budget is filled")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--page", type=int, default=4096,
                    help="the window size (the allocation granularity)")
    ap.add_argument("--zipf-s", type=float, default=1.0)
    a = ap.parse_args()

    page, n = a.page, a.n
    per_file = FILE_SIZE // page // 2
    nslots = per_file * FILES
    span = 2 * n if a.pattern == "uniform" else 8 * n
    if span > nslots or n < 10:
        sys.exit("gen_workload6: N=%d needs 10 <= N and %d slots; there are %d"
                 % (n, span, nslots))
    rnd = random.Random(a.seed)

    def below(k):
        return int(rnd.random() * k)

    slot = list(range(nslots))
    for i in range(nslots - 1, 0, -1):
        j = below(i + 1)
        slot[i], slot[j] = slot[j], slot[i]

    out = sys.stdout
    w = out.write
    w("# workload 6 (bench/bench.c): pattern=%s N=%d ops=%d seed=%d page=%d\n"
      % (a.pattern, n, a.ops, a.seed, page))
    w("# written by bench/traces/gen_workload6.py %s\n" % " ".join(sys.argv[1:]))
    w("# replay N=%d window_size=%d max_mapped=%d max_regions=%d\n"
      % (n, page, 4 * n * page, n))
    for f in range(FILES):
        w("F %d %d\n" % (f, FILE_SIZE))
    for f in range(FILES):
        w("O %d %d\n" % (f, f))

    # fill the budget with slots N..2N-1, as the benchmark's warm_slot
    for k in range(n):
        s = slot[n + k]
        f = s // per_file
        w("L 0\nI 0 %d\nA 0 %d %d 8\n" % (f, f, (2 * (s % per_file) + 1) * page))
    w("L 0\n")

    if a.pattern == "uniform":
        def pick(i):
            return slot[below(span)]
    else:
        cdf, acc = [], 0.0
        for r in range(span):
            acc += 1.0 / (r + 1) ** a.zipf_s
            cdf.append(acc)
        total = cdf[-1]
        shift_every, shift_by = 10000, max(1, n // 10)

        def pick(i):
            r = bisect.bisect_left(cdf, rnd.random() * total)
            if r >= span:
                r = span - 1
            if a.pattern == "zipf-shift":
                r = (r + (i // shift_every) * shift_by) % nslots
            return slot[r]

    current = -1
    for i in range(a.ops):
        s = pick(i)
        f = s // per_file
        off = (2 * (s % per_file) + 1) * page + below(page - 8)
        if f != current:
            w("L 0\nI 0 %d\n" % f)
            current = f
        w("A 0 %d %d 8\n" % (f, off))
    w("L 0\n")
    for f in range(FILES):
        w("X %d\n" % f)


if __name__ == "__main__":
    main()
