#!/usr/bin/python3
"""plot.py - the two plots of BENCHMARKS.md, drawn as plain SVG from the CSV
files that `smmap-bench --csv DIR` writes (no plotting library needed).

usage: /usr/bin/python3 bench/plot.py CSV_DIR OUT_DIR
writes OUT_DIR/regions.svg (cost per operation against live regions) and
OUT_DIR/budget.svg (throughput against max_mapped for mmap, pread, smmap).
"""
import csv
import math
import os
import sys

W, H = 800, 440
LEFT, RIGHT, TOP, BOTTOM = 80, 300, 40, 60
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
          "#17becf"]


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_log_ticks(lo, hi):
    ticks = []
    e = math.floor(math.log10(lo))
    while 10 ** e <= hi * 1.0001:
        for m in (1, 2, 5):
            v = m * 10 ** e
            if lo / 1.0001 <= v <= hi * 1.0001:
                ticks.append(v)
        e += 1
    return ticks


def fmt(v):
    if v >= 1e6:
        return "%gM" % (v / 1e6)
    if v >= 1e3:
        return "%gk" % (v / 1e3)
    return "%g" % v


def chart(path, title, xlabel, ylabel, series, xlog, ylog, xticks=None):
    """series: list of (name, [(x, y)], dashed)"""
    xs = [x for _, pts, _ in series for x, _ in pts]
    ys = [y for _, pts, _ in series for _, y in pts]
    xlo, xhi = min(xs), max(xs)
    ylo, yhi = min(ys), max(ys)
    if ylog:
        ylo, yhi = 10 ** math.floor(math.log10(ylo)), 10 ** math.ceil(math.log10(yhi))
    else:
        ylo, yhi = 0, yhi * 1.1
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def sx(x):
        if xlog:
            return LEFT + pw * (math.log10(x) - math.log10(xlo)) / (math.log10(xhi) - math.log10(xlo))
        return LEFT + pw * (x - xlo) / (xhi - xlo)

    def sy(y):
        if ylog:
            return TOP + ph * (1 - (math.log10(y) - math.log10(ylo)) / (math.log10(yhi) - math.log10(ylo)))
        return TOP + ph * (1 - (y - ylo) / (yhi - ylo))

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>' % (LEFT, esc(title))]
    yt = nice_log_ticks(ylo, yhi) if ylog else [ylo + (yhi - ylo) * i / 5 for i in range(6)]
    for y in yt:
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (LEFT, LEFT + pw, sy(y), sy(y)))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (LEFT - 6, sy(y) + 4, fmt(y)))
    if xticks is None:
        xticks = nice_log_ticks(xlo, xhi) if xlog else sorted(set(xs))
    for x in xticks:
        out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ddd"/>' % (sx(x), sx(x), TOP, TOP + ph))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (sx(x), TOP + ph + 16, fmt(x)))
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>' % (LEFT, TOP, pw, ph))
    out.append('<text x="%d" y="%d" text-anchor="middle">%s</text>' % (LEFT + pw / 2, H - 18, esc(xlabel)))
    out.append('<text transform="translate(18,%d) rotate(-90)" text-anchor="middle">%s</text>' % (TOP + ph / 2, esc(ylabel)))
    for i, (name, pts, dashed) in enumerate(series):
        c = COLORS[i % len(COLORS)]
        pts = sorted(pts)
        d = " ".join("%.1f,%.1f" % (sx(x), sy(y)) for x, y in pts)
        out.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>'
                   % (d, c, ' stroke-dasharray="6,4"' if dashed else ""))
        for x, y in pts:
            out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (sx(x), sy(y), c))
        ly = TOP + 10 + 18 * i
        out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"%s/>'
                   % (LEFT + pw + 12, LEFT + pw + 36, ly, ly, c, ' stroke-dasharray="6,4"' if dashed else ""))
        out.append('<text x="%d" y="%d">%s</text>' % (LEFT + pw + 42, ly + 4, esc(name)))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py CSV_DIR OUT_DIR")
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)

    rows = list(csv.DictReader(open(os.path.join(src, "regions.csv"))))
    n = [int(r["regions"]) for r in rows]
    chart(os.path.join(dst, "regions.svg"),
          "Cost per read against live regions (workload 6)",
          "live regions (4 KiB windows over many files, log)", "ns per 8-byte read (log)",
          [("smmap, map with eviction", list(zip(n, [float(r["evict_ns"]) for r in rows])), False),
           ("smmap, reuse (switch)", list(zip(n, [float(r["reuse_ns"]) for r in rows])), False),
           ("raw mmap, same reads", list(zip(n, [float(r["mmap_ns"]) for r in rows])), True)]
          + ([("kernel floor: raw mmap/munmap", list(zip(n, [float(r["raw_evict_ns"]) for r in rows])), True)]
             if rows and "raw_evict_ns" in rows[0] else []),
          True, True)

    rows = list(csv.DictReader(open(os.path.join(src, "budget.csv"))))
    base = {r["strategy"]: float(r["ns_per_op"]) for r in rows if r["window"] == "-"}
    pcts = sorted({float(r["budget_pct"]) for r in rows if r["window"] != "-"})
    series = []
    for window in ("1 MiB", "64 KiB"):
        for strat in ("smmap_read", "smmap_cursor_at"):
            pts = [(float(r["budget_pct"]), 1e3 / float(r["ns_per_op"]))
                   for r in rows if r["window"] == window and r["strategy"] == strat]
            if pts:
                series.append(("%s, %s windows" % (strat, window), pts, False))
    for strat in ("mmap", "pread"):
        if strat in base:
            series.append(("%s (whole file)" % strat if strat == "mmap" else strat,
                           [(p, 1e3 / base[strat]) for p in pcts], True))
    chart(os.path.join(dst, "budget.svg"),
          "Throughput against the budget (random 64-byte reads)",
          "max_mapped, % of the file (log)", "million reads per second (log)",
          series, True, True, xticks=pcts)


if __name__ == "__main__":
    main()
