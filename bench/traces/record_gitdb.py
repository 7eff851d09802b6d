#!/usr/bin/python3
"""Record a trace of gitdb reading a pack through our smmap package (issue
13's "recorded trace of gitdb reading a pack"), for bench/trace_replay.c.

1. Extracts the library and the Python binding of one commit (--commit,
   default HEAD) with `git archive`, and builds the binding's extension in
   its own directory (--build) with the binding's C sources force-including
   record_rename.h and linked with record_shim.c: every library call the
   binding makes (open, cursor init/use/use_range/copy/release, smmap_read,
   close) is written to the trace as it happens. python/ is not touched.
2. Builds a git repository offline: 480 C headers from /usr/include and 300
   gzipped files from /usr/share/doc (which do not compress: they make the
   pack several MiB), 6 commits that each edit a quarter of the headers
   (delta chains), add 20 headers and replace 24 gzipped files (the same
   paths, other bytes); `git gc` packs it
   into one pack. Checked as gitdb needs it with 64 KiB windows: its index
   fits in one window and no object takes more than half a window in the
   pack (gitdb reads an object's compressed bytes through one window).
3. With gitdb's module-level manager replaced by one of ours (64 KiB
   windows, a budget of 16 windows, 16384 regions; SMMAP_ALWAYS_MAP, set by
   the shim), reads, recording:
     a. every object through gitdb's GitDB, in SHA order: info() and
        stream().read() (random access over the pack, delta chains
        resolved);
     b. every commit, and every tree and blob of every commit, through
        GitPython's Repo(odbt=GitDB), newest commit first (what a history
        walk does);
     c. the pack from first to last object through gitdb's PackEntity
        (stream_iter, a sequential scan);
   and compares every object's bytes with `git cat-file --batch`.
4. Writes the trace (gzip) with its "# replay" budgets (4, 16 and 64
   windows of 64 KiB) and the "# recorded" options and counters, builds
   trace_replay against the same library sources and replays the trace
   under the recorded options: the counters must come out the same (exit 1
   otherwise).

usage: record_gitdb.py [--commit SHA] [--out PATH] [--build DIR] [--keep]
"""
import argparse
import ctypes
import gc
import glob
import gzip
import importlib
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WINDOW = 64 * 1024
RECORD_WINDOWS = 16
MAX_REGIONS = 16384
BUDGETS = (4, 16, 64)


def run(cwd, *args, env=None):
    return subprocess.run(list(args), cwd=cwd, check=True, capture_output=True,
                          env=env).stdout


def git(cwd, *args):
    env = dict(os.environ, GIT_AUTHOR_DATE="2024-01-01T00:00:00Z",
               GIT_COMMITTER_DATE="2024-01-01T00:00:00Z",
               GIT_CONFIG_NOSYSTEM="1", HOME=cwd)
    return run(cwd, "git", *args, env=env)


def build(commit, bdir):
    """Extract commit's tree into bdir/src and build the recording extension
    into bdir/pkg/smmap. Returns (source dir, package dir, extension path)."""
    src = os.path.join(bdir, "src")
    pkg = os.path.join(bdir, "pkg")
    objs = os.path.join(bdir, "obj")
    for d in (src, pkg, objs):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    archive = subprocess.run(["git", "-C", ROOT, "archive", commit], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", src], input=archive, check=True)
    binding = sorted(glob.glob(os.path.join(src, "python", "csrc", "*.c")))
    if not binding:
        binding = [os.path.join(src, "python", "smmap", "_csmmap.c")]
    library = sorted(f for f in glob.glob(os.path.join(src, "src", "*.c"))
                     if not f.endswith("os_win32.c"))
    common = ["gcc", "-c", "-fPIC", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror",
              "-fvisibility=hidden", "-D_POSIX_C_SOURCE=200809L",
              "-D_FILE_OFFSET_BITS=64", "-DSMMAP_BUILDING=1",
              "-I" + os.path.join(src, "include"), "-I" + os.path.join(src, "src")]
    pyinc = "-I" + sysconfig.get_paths()["include"]
    out = []
    for i, f in enumerate(binding):
        o = os.path.join(objs, "binding%d.o" % i)
        subprocess.run(common + [pyinc, "-I" + os.path.dirname(f), "-include",
                                 os.path.join(HERE, "record_rename.h"), f, "-o", o],
                       check=True)
        out.append(o)
    for f in library + [os.path.join(HERE, "record_shim.c")]:
        o = os.path.join(objs, os.path.basename(f)[:-2] + ".o")
        subprocess.run(common + [f, "-o", o], check=True)
        out.append(o)
    os.makedirs(os.path.join(pkg, "smmap"))
    for f in glob.glob(os.path.join(src, "python", "smmap", "*.py")):
        shutil.copy(f, os.path.join(pkg, "smmap"))
    ext = os.path.join(pkg, "smmap", "_csmmap" + sysconfig.get_config_var("EXT_SUFFIX"))
    subprocess.run(["gcc", "-shared", "-o", ext] + out + ["-lpthread"], check=True)
    return src, pkg, ext


def pick(paths, count):
    """count paths spread evenly over the sorted list (deterministic for a
    given set of installed files)."""
    paths = sorted(paths)
    if len(paths) < count:
        sys.exit("record_gitdb: only %d candidate files, need %d" % (len(paths), count))
    step = len(paths) / count
    return [paths[int(i * step)] for i in range(count)]


def sized(pattern, lo, hi):
    out = []
    for p in glob.glob(pattern, recursive=True):
        if os.path.isfile(p) and not os.path.islink(p) and lo <= os.path.getsize(p) <= hi:
            out.append(p)
    return out


def make_repo(path):
    """The repository of the module docstring; returns its description."""
    os.makedirs(path)
    git(path, "init", "-q")
    for key, value in (("user.name", "t"), ("user.email", "t@example.com"),
                       ("commit.gpgsign", "false"), ("gc.auto", "0")):
        git(path, "config", key, value)
    headers = pick(sized("/usr/include/**/*.h", 1536, 40 * 1024), 600)
    gzs = pick(sized("/usr/share/doc/**/*.gz", 4096, 24 * 1024), 420)
    rnd = random.Random(13)
    rnd.shuffle(headers)
    rnd.shuffle(gzs)
    live_h, spare_h = headers[:480], headers[480:]
    live_g, spare_g = gzs[:300], gzs[300:]
    texts = {}

    def name(src, kind, i):
        return os.path.join(kind, "d%d" % (i % 10), "%03d-%s" % (i, os.path.basename(src)))

    hnames = {}
    for i, h in enumerate(live_h):
        with open(h, "rb") as f:
            texts[h] = f.read().split(b"\n")
        hnames[h] = name(h, "inc", i)
    gnames = {g: name(g, "doc", i) for i, g in enumerate(live_g)}
    for commit in range(6):
        if commit:
            for h in rnd.sample(live_h, len(live_h) // 4):
                lines = texts[h]
                for _ in range(rnd.randint(1, 6)):
                    k = rnd.randrange(len(lines))
                    lines[k] = b"/* revision %d: %x */ " % (commit, rnd.getrandbits(40)) + lines[k]
            for _ in range(20):
                h = spare_h.pop()
                with open(h, "rb") as f:
                    texts[h] = f.read().split(b"\n")
                hnames[h] = name(h, "inc", len(hnames))
                live_h.append(h)
            for _ in range(24):
                old = live_g.pop(rnd.randrange(len(live_g)))
                g = spare_g.pop()
                gnames[g] = gnames.pop(old)   # the same path, another blob
                live_g.append(g)
                if os.path.exists(os.path.join(path, gnames[g])):
                    os.unlink(os.path.join(path, gnames[g]))
        for h in live_h:
            p = os.path.join(path, hnames[h])
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(b"\n".join(texts[h]))
        for g in live_g:
            p = os.path.join(path, gnames[g])
            os.makedirs(os.path.dirname(p), exist_ok=True)
            if not os.path.exists(p):
                shutil.copy(g, p)
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "revision %d\n\nheaders and docs" % commit)
    git(path, "gc", "-q")
    counts = dict(l.split(": ") for l in git(path, "count-objects", "-v").decode().splitlines())
    if counts["count"] != "0" or counts["packs"] != "1":
        sys.exit("record_gitdb: expected one pack and no loose object: %r" % counts)
    (pack,) = glob.glob(os.path.join(path, ".git", "objects", "pack", "*.pack"))
    idx = pack[:-5] + ".idx"
    verify = git(path, "verify-pack", "-v", idx).decode().splitlines()
    sizes, chain = [], 0
    for l in verify:
        f = l.split()
        if len(f) >= 5 and len(f[0]) == 40 and f[1] in ("commit", "tree", "blob", "tag"):
            sizes.append(int(f[3]))
            if len(f) >= 7:
                chain = max(chain, int(f[5]))
    if os.path.getsize(idx) > WINDOW:
        sys.exit("record_gitdb: the index (%d bytes) must fit in one window" % os.path.getsize(idx))
    if max(sizes) >= WINDOW // 2:
        sys.exit("record_gitdb: an object takes %d bytes in the pack, over half a window"
                 % max(sizes))
    return {"pack": pack, "idx": idx, "pack_bytes": os.path.getsize(pack),
            "idx_bytes": os.path.getsize(idx), "objects": len(sizes),
            "max_packed": max(sizes), "max_chain": chain,
            "deltas": sum(1 for l in verify if len(l.split()) >= 7 and len(l.split()[0]) == 40)}


def cat_file_all(path):
    out = git(path, "cat-file", "--batch-all-objects", "--batch")
    objects, pos = {}, 0
    while pos < len(out):
        nl = out.index(b"\n", pos)
        sha, typ, size = out[pos:nl].decode().split()
        start = nl + 1
        objects[sha] = (typ, out[start:start + int(size)])
        pos = start + int(size) + 1
    return objects


def read_phases(path, info, objects):
    """The three phases of the module docstring; returns what each read."""
    import gitdb
    import gitdb.util
    from gitdb import GitDB
    from gitdb.pack import PackEntity
    import git as gitpython

    done = {}
    db = GitDB(os.path.join(path, ".git", "objects"))
    for sha in sorted(objects):
        typ, content = objects[sha]
        binsha = bytes.fromhex(sha)
        oinfo = db.info(binsha)
        if (oinfo.type, oinfo.size) != (typ.encode(), len(content)):
            sys.exit("record_gitdb: GitDB info of %s differs" % sha)
        if db.stream(binsha).read() != content:
            sys.exit("record_gitdb: GitDB bytes of %s differ" % sha)
    done["gitdb_objects"] = len(objects)
    del db, oinfo

    repo = gitpython.Repo(path, odbt=gitpython.GitDB)
    blobs = trees = 0
    commits = list(repo.iter_commits("HEAD"))
    for c in commits:
        if c.message.encode() != objects[c.hexsha][1].split(b"\n\n", 1)[1]:
            sys.exit("record_gitdb: the message of %s differs" % c.hexsha)
        for item in c.tree.traverse():
            if item.type == "blob":
                if item.data_stream.read() != objects[item.hexsha][1]:
                    sys.exit("record_gitdb: GitPython bytes of %s differ" % item.hexsha)
                blobs += 1
            else:
                trees += 1
    done["gitpython_commits"] = len(commits)
    done["gitpython_blob_reads"] = blobs
    done["gitpython_tree_visits"] = trees
    repo.close()
    del repo, commits, c, item

    entity = PackEntity(info["pack"])
    n = 0
    for ostream in entity.stream_iter():
        n += 1
    if n != info["objects"]:
        sys.exit("record_gitdb: stream_iter gave %d objects, the pack has %d" % (n, info["objects"]))
    done["scan_objects"] = n
    del entity, ostream
    return done


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--commit", default="HEAD")
    ap.add_argument("--out", default=os.path.join(HERE, "gitdb-pack.trace.gz"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build-evq", "record"))
    ap.add_argument("--keep", action="store_true", help="keep the repository")
    a = ap.parse_args()
    if sys.executable != "/usr/bin/python3":
        sys.exit("record_gitdb: run with /usr/bin/python3 (Debian's gitdb and GitPython)")
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--verify", a.commit + "^{commit}"],
                            check=True, capture_output=True, text=True).stdout.strip()
    os.makedirs(a.build, exist_ok=True)
    src, pkg, ext = build(commit, os.path.abspath(a.build))
    sys.path.insert(0, pkg)
    import smmap
    import smmap.mman
    if os.path.dirname(smmap.__file__) != os.path.join(pkg, "smmap"):
        sys.exit("record_gitdb: smmap loaded from %s" % smmap.__file__)
    import gitdb.util
    gitdb_pack = importlib.import_module("gitdb.pack")
    import git as gitpython
    rec = ctypes.CDLL(ext)
    rec.smmap_rec_start.argtypes = [ctypes.c_char_p]
    rec.smmap_rec_stop.restype = ctypes.c_longlong
    rec.smmap_rec_lines.restype = ctypes.c_ulonglong

    work = tempfile.mkdtemp(prefix="record_gitdb.")
    try:
        path = os.path.join(work, "repo")
        info = make_repo(path)
        objects = cat_file_all(path)
        raw = os.path.join(work, "body.trace")
        if rec.smmap_rec_start(raw.encode()) != 0:
            sys.exit("record_gitdb: cannot write %s" % raw)
        man = smmap.SlidingWindowMapManager(window_size=WINDOW,
                                            max_memory_size=RECORD_WINDOWS * WINDOW,
                                            max_open_handles=MAX_REGIONS)
        gitdb.util.mman = man
        gitdb_pack.mman = man
        done = read_phases(path, info, objects)
        gc.collect()
        stats = man.stats()
        errors = rec.smmap_rec_stop()
        lines = rec.smmap_rec_lines()
        if errors != 0:
            sys.exit("record_gitdb: %d errors while recording (see %s)" % (errors, raw))

        def v(cmd):
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
        head = [
            "# gitdb reading a pack through smmap's Python binding: every library call",
            "# the binding made, recorded by bench/traces/record_gitdb.py (see",
            "# bench/traces/README.md; format: bench/trace_replay.c)",
            "# library and binding: commit %s" % commit,
            "# gitdb %s, GitPython %s, %s, Python %s" % (
                gitdb.__version__, gitpython.__version__, v(["git", "--version"]),
                sys.version.split()[0]),
            "# repository: %d objects (%d deltas, longest chain %d) in one pack of %d bytes"
            % (info["objects"], info["deltas"], info["max_chain"], info["pack_bytes"]),
            "#   (largest object %d bytes in the pack), index %d bytes"
            % (info["max_packed"], info["idx_bytes"]),
            "# reads: %s" % " ".join("%s=%d" % kv for kv in sorted(done.items())),
            "# recording manager: window %d, budget %d windows, %d regions, SMMAP_ALWAYS_MAP;"
            % (WINDOW, RECORD_WINDOWS, MAX_REGIONS),
            "#   its stats: %s" % " ".join("%s=%s" % (k, stats[k]) for k in
                                           ("maps", "reuses", "evictions", "unmaps",
                                            "peak_regions", "peak_mapped_bytes")),
            "# %d trace lines" % lines,
        ]
        for n in BUDGETS:
            head.append("# replay %dw window_size=%d max_mapped=%d max_regions=%d"
                        % (n, WINDOW, n * WINDOW, MAX_REGIONS))
        out = a.out + ".tmp"
        with open(raw, "rb") as body, gzip.GzipFile(out, "wb", mtime=0) as z:
            z.write(("\n".join(head) + "\n").encode())
            shutil.copyfileobj(body, z)

        # the replay under the recorded options must give the recorded counters
        replay = os.path.join(os.path.abspath(a.build), "trace_replay")
        library = sorted(f for f in glob.glob(os.path.join(src, "src", "*.c"))
                         if not f.endswith("os_win32.c"))
        subprocess.run(["gcc", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror",
                        "-D_POSIX_C_SOURCE=200809L", "-D_FILE_OFFSET_BITS=64",
                        "-I" + os.path.join(src, "include"), "-I" + os.path.join(src, "src"),
                        os.path.join(ROOT, "bench", "trace_replay.c")] + library +
                       ["-lpthread", "-o", replay], check=True)
        with gzip.open(out, "rb") as z:
            r = subprocess.run([replay, "--verify", "-"], input=z.read(),
                               capture_output=True)
        sys.stdout.write(r.stdout.decode())
        sys.stderr.write(r.stderr.decode())
        if r.returncode != 0:
            sys.exit("record_gitdb: the replay does not reproduce the recording")
        os.replace(out, a.out)
        for l in head:
            print(l)
        print("wrote %s (%d bytes)" % (a.out, os.path.getsize(a.out)))
    finally:
        if a.keep:
            print("repository kept in", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
