"""gitdb and GitPython, unchanged (Debian's python3-gitdb, python3-git), on
our smmap: read every object of a real packed repository through gitdb's
GitDB and PackedDB with tiny windows and budgets, and through GitPython's
Repo(odbt=GitDB), and compare with `git cat-file`."""
import os
import random
import subprocess

import pytest

import smmap
import smmap.mman

import importlib

import gitdb            # after smmap: conftest put our package first
import gitdb.util
from gitdb import GitDB
from gitdb.db import PackedDB

import git

from conftest import PYTHON_DIR

# the module gitdb/pack.py (the attribute gitdb.pack is gitdb.db.pack)
gitdb_pack = importlib.import_module("gitdb.pack")

WINDOW = 64 * 1024


def run(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True).stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A repository of 6 commits, ~100 files of text (deltas) and random
    bytes, packed by git gc; returns (path, {hex sha: (type, bytes)})."""
    path = tmp_path_factory.mktemp("repo")
    run(path, "init", "-q")
    for key, value in (("user.name", "t"), ("user.email", "t@example.com"),
                       ("commit.gpgsign", "false"), ("gc.auto", "0")):
        run(path, "config", key, value)
    rnd = random.Random(11)
    words = ["%08x" % rnd.getrandbits(32) for _ in range(3000)]
    texts = {}
    for i in range(90):
        n = rnd.randint(20, 700)
        texts[i] = [" ".join(rnd.choice(words) for _ in range(6)) for _ in range(n)]
    for commit in range(6):
        for i, lines in texts.items():
            if commit and rnd.random() < 0.5:
                for _ in range(rnd.randint(1, 5)):
                    lines[rnd.randrange(len(lines))] = "changed %d %d" % (commit, rnd.getrandbits(40))
            sub = path / ("dir%d" % (i % 7))
            sub.mkdir(exist_ok=True)
            (sub / ("file%d.txt" % i)).write_text("\n".join(lines) + "\n")
        (path / ("bin%d.dat" % commit)).write_bytes(rnd.randbytes(30000))
        run(path, "add", "-A")
        run(path, "commit", "-q", "-m", "commit %d\n\nbody of commit %d" % (commit, commit))
    run(path, "gc", "-q")
    counts = dict(line.split(": ") for line in run(path, "count-objects", "-v").decode().splitlines())
    assert counts["count"] == "0" and counts["packs"] == "1"
    out = run(path, "cat-file", "--batch-all-objects", "--batch")
    objects = {}
    pos = 0
    while pos < len(out):
        nl = out.index(b"\n", pos)
        sha, typ, size = out[pos:nl].decode().split()
        start = nl + 1
        objects[sha] = (typ, out[start:start + int(size)])
        pos = start + int(size) + 1
    return path, objects


@pytest.fixture
def tiny_mman(monkeypatch):
    """gitdb's module-level manager replaced by one of ours with a 64 KiB
    window, a 128 KiB budget and at most 64 regions."""
    man = smmap.SlidingWindowMapManager(window_size=WINDOW, max_memory_size=2 * WINDOW,
                                        max_open_handles=64)
    monkeypatch.setattr(gitdb.util, "mman", man)
    monkeypatch.setattr(gitdb_pack, "mman", man)
    return man


def test_gitdb_uses_our_smmap():
    assert os.path.dirname(smmap.__file__) == os.path.join(PYTHON_DIR, "smmap")
    assert gitdb.util.SlidingWindowMapManager is smmap.mman.SlidingWindowMapManager
    assert type(gitdb.util.mman) is smmap.mman.SlidingWindowMapManager
    assert isinstance(gitdb.util.mman.make_cursor(__file__), smmap._csmmap.WindowCursor)


def pack_size(path):
    packdir = path / ".git" / "objects" / "pack"
    return sum(p.stat().st_size for p in packdir.iterdir() if p.suffix == ".pack")


def read_all(db, objects):
    for sha, (typ, content) in objects.items():
        binsha = bytes.fromhex(sha)
        info = db.info(binsha)
        assert (info.type, info.size) == (typ.encode(), len(content)), sha
        assert db.stream(binsha).read() == content, sha


def test_gitdb_reads_every_object_with_tiny_windows(repo, tiny_mman):
    path, objects = repo
    assert len(objects) > 300
    assert pack_size(path) > 10 * WINDOW
    db = GitDB(str(path / ".git" / "objects"))
    read_all(db, objects)
    st = tiny_mman.stats()
    assert st["maps"] > pack_size(path) // WINDOW
    assert st["evictions"] > 0
    assert st["peak_regions"] <= 64
    assert st["files"] == 2                     # the pack and its index


def test_packeddb_reads_every_object_twice_in_random_order(repo, tiny_mman):
    path, objects = repo
    db = PackedDB(str(path / ".git" / "objects" / "pack"))
    shas = list(objects)
    random.Random(5).shuffle(shas)
    for sha in shas + shas[::-1]:
        typ, content = objects[sha]
        assert db.stream(bytes.fromhex(sha)).read() == content, sha
    assert db.size() == len(objects)


def test_gitdb_with_the_default_manager(repo):
    path, objects = repo
    man = gitdb.util.mman                      # created by gitdb at import: ours
    before = man.stats()["maps"]
    read_all(GitDB(str(path / ".git" / "objects")), objects)
    assert man.stats()["maps"] > before


def test_gitpython_repo_on_gitdb(repo, tiny_mman):
    path, objects = repo
    r = git.Repo(str(path), odbt=git.GitDB)
    assert isinstance(r.odb, git.GitDB)
    seen = set()
    commits = list(r.iter_commits("--all"))
    assert len(commits) == 6
    for commit in commits:
        typ, raw = objects[commit.hexsha]
        assert typ == "commit"
        assert commit.message == raw.split(b"\n\n", 1)[1].decode()
        assert commit.tree.hexsha in objects
        for item in commit.tree.traverse():
            if item.type == "blob" and item.hexsha not in seen:
                seen.add(item.hexsha)
                assert item.data_stream.read() == objects[item.hexsha][1]
                assert item.size == len(objects[item.hexsha][1])
    blobs = {sha for sha, (typ, _) in objects.items() if typ == "blob"}
    assert seen == blobs
    assert tiny_mman.stats()["evictions"] > 0
