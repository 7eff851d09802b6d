#!/usr/bin/python3
"""stat_json.py - reads the JSON report of `smmap stat --json` for test_tool.sh.

  stat_json.py REPORT get KEY[.KEY...]   print one value: numbers and
                                         strings as they are, true/false/
                                         null as JSON spells them
  stat_json.py REPORT check SMMAP_H      check the report's shape: exactly
                                         one object, stats holding exactly
                                         the fields of smmap.h's smmap_stats,
                                         every count a non-negative integer,
                                         the counters consistent with each
                                         other and throughput equal to
                                         bytes_read / 10^6 / elapsed_seconds;
                                         prints "ok" or each problem
"""
import json
import re
import sys


def load(path):
    with open(path, "rb") as f:
        # json.loads refuses trailing garbage: one object and nothing else.
        return json.loads(f.read().decode("utf-8"))


def stats_fields(header):
    """The field names of struct smmap_stats, from the header itself."""
    with open(header, encoding="utf-8") as f:
        text = f.read()
    body = re.search(r"typedef struct smmap_stats \{(.*?)\} smmap_stats;",
                     text, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    names = []
    for decl in body.split(";"):
        decl = decl.strip()
        if not decl:
            continue
        m = re.match(r"(?:const\s+)?\w+\s+(.*)$", decl, re.S)
        names += [n.strip() for n in m.group(1).split(",")]
    return names


def check(report, header):
    problems = []
    want = stats_fields(header)
    stats = report.get("stats", {})
    if sorted(stats) != sorted(want):
        problems.append("stats fields %s, smmap.h has %s" %
                        (sorted(stats), sorted(want)))
    counts = dict(stats)
    for k in ("files_read", "streamed_files", "reads", "bytes_read"):
        counts[k] = report.get(k)
    for k, v in counts.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            problems.append("%s is %r, not a count" % (k, v))
    if problems:
        return problems
    if not re.fullmatch(r"[0-9a-f]{16}", str(report.get("fnv1a64"))):
        problems.append("fnv1a64 %r" % report.get("fnv1a64"))
    if stats["peak_mapped_bytes"] < stats["mapped_bytes"]:
        problems.append("peak_mapped_bytes < mapped_bytes")
    if stats["peak_regions"] < stats["regions"]:
        problems.append("peak_regions < regions")
    if stats["maps"] - stats["unmaps"] != stats["regions"]:
        problems.append("maps - unmaps != regions")
    if stats["files_mapped"] > stats["files"]:
        problems.append("files_mapped > files")
    if report["streamed_files"] > report["files_read"]:
        problems.append("streamed_files > files_read")
    opts = report.get("options", {})
    if report["reads"] > 0 and report["bytes_read"] > report["reads"] * opts.get("read_length", 0):
        problems.append("bytes_read > reads * read_length")
    elapsed, mbs = report.get("elapsed_seconds"), report.get("throughput_mb_s")
    if not isinstance(elapsed, float) or elapsed < 0:
        problems.append("elapsed_seconds %r" % elapsed)
    elif mbs is None:
        if elapsed != 0:
            problems.append("throughput_mb_s null with elapsed %r" % elapsed)
    elif elapsed > 0:
        # Both are printed rounded (6 and 3 decimals): compare within that.
        low = report["bytes_read"] / 1e6 / (elapsed + 5e-7)
        high = report["bytes_read"] / 1e6 / max(elapsed - 5e-7, 1e-9)
        if not (low - 5e-4 <= mbs <= high + 5e-4):
            problems.append("throughput_mb_s %r, bytes_read / elapsed in "
                            "[%r, %r]" % (mbs, low, high))
    if not isinstance(report.get("interrupted"), bool):
        problems.append("interrupted %r" % report.get("interrupted"))
    return problems


def main():
    report = load(sys.argv[1])
    if sys.argv[2] == "get":
        value = report
        for key in sys.argv[3].split("."):
            value = value[key]
        print(value if isinstance(value, str) else json.dumps(value))
    elif sys.argv[2] == "check":
        problems = check(report, sys.argv[3])
        print("\n".join(problems) if problems else "ok")
    else:
        sys.exit("unknown action %s" % sys.argv[2])


if __name__ == "__main__":
    main()
