"""gitdb and GitPython, unchanged (Debian's python3-gitdb, python3-git), on
our smmap: read every object of a real packed repository through gitdb's
GitDB and PackedDB with tiny windows and budgets, and through GitPython's
Repo(odbt=GitDB), and compare with `git cat-file`; also after git freshens
the pack (utime) and after `git repack -a -d` (issue 12)."""
import os
import random
import shutil
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


# --- issue 12: git freshens a pack (utime), git repack -a -d replaces it ------
#
# git bumps a pack's mtime (utime: same inode, same size, same bytes) whenever
# it is asked to write an object the pack already holds, and `git repack -a -d`
# writes a new pack and deletes the old one. gitdb and GitPython must read
# every object correctly after either, through the database they already had
# and through a new lookup (a new GitDB, update_cache, a new Repo). The
# repository here has multi-MiB packs and the manager 64 KiB windows in a
# 128 KiB budget, so the reads after the change map hundreds of new windows.

def cat_file_all(path):
    """Every object of the repository per `git cat-file --batch`:
    {hex sha: (type, bytes)}."""
    out = run(path, "cat-file", "--batch-all-objects", "--batch")
    objects = {}
    pos = 0
    while pos < len(out):
        nl = out.index(b"\n", pos)
        sha, typ, size = out[pos:nl].decode().split()
        start = nl + 1
        objects[sha] = (typ, out[start:start + int(size)])
        assert out[start + int(size):start + int(size) + 1] == b"\n"
        pos = start + int(size) + 1
    return objects


def packs(path):
    """The repository's .pack files, sorted."""
    return sorted((path / ".git" / "objects" / "pack").glob("pack-*.pack"))


def count_objects(path):
    return dict(line.split(": ") for line in run(path, "count-objects", "-v").decode().splitlines())


OLD_NS = 1_600_000_000 * 10 ** 9          # 2020-09-13: a pack mtime git never writes now


def age_packs(path):
    """Set every pack's and index's mtime far in the past, so that a later
    freshen (git sets "now") is seen."""
    for p in (path / ".git" / "objects" / "pack").iterdir():
        os.utime(p, ns=(OLD_NS, OLD_NS))


def max_packed_size(pack):
    """The largest object in the pack, as stored (`git verify-pack -v`)."""
    out = subprocess.run(["git", "verify-pack", "-v", str(pack.with_suffix(".idx"))],
                         check=True, capture_output=True).stdout.decode()
    sizes = [int(line.split()[3]) for line in out.splitlines()
             if len(line.split()) >= 5 and len(line.split()[0]) == 40]
    assert sizes
    return max(sizes)


def random_text(rnd, words, lines):
    return [" ".join(rnd.choice(words) for _ in range(7)) for _ in range(lines)]


@pytest.fixture(scope="module")
def big_template(tmp_path_factory):
    """A repository of 5 commits: 60 text files edited in every commit (delta
    chains) and 50 new random files of 24-28 KiB per commit, packed by git gc
    into one pack of several MiB whose index fits in one window (gitdb maps
    the index as one region). gitdb reads an object's compressed data through
    one window (a buffer from its offset to the window's end), so no object
    may be larger than a window: the fixture checks that with verify-pack.
    Returns (path, cat-file objects)."""
    path = tmp_path_factory.mktemp("big") / "repo"
    path.mkdir()
    run(path, "init", "-q")
    for key, value in (("user.name", "t"), ("user.email", "t@example.com"),
                       ("commit.gpgsign", "false"), ("gc.auto", "0")):
        run(path, "config", key, value)
    rnd = random.Random(12)
    words = ["%08x" % rnd.getrandbits(32) for _ in range(4000)]
    texts = {i: random_text(rnd, words, rnd.randint(50, 600)) for i in range(60)}
    for commit in range(5):
        for i, lines in texts.items():
            if commit:
                for _ in range(rnd.randint(1, 6)):
                    lines[rnd.randrange(len(lines))] = "commit %d %x" % (commit, rnd.getrandbits(48))
            sub = path / ("text%d" % (i % 6))
            sub.mkdir(exist_ok=True)
            (sub / ("t%02d.txt" % i)).write_text("\n".join(lines) + "\n")
        bins = path / ("bin%d" % commit)
        bins.mkdir()
        for j in range(50):
            (bins / ("b%02d.dat" % j)).write_bytes(rnd.randbytes(24 * 1024 + rnd.randrange(4096)))
        run(path, "add", "-A")
        run(path, "commit", "-q", "-m", "commit %d\n\nbody %d" % (commit, commit))
    run(path, "gc", "-q")
    counts = count_objects(path)
    assert counts["count"] == "0" and counts["packs"] == "1", counts
    (pack,) = packs(path)
    assert pack.stat().st_size > 6 * 1024 * 1024, pack.stat().st_size
    assert pack.with_suffix(".idx").stat().st_size <= WINDOW
    assert max_packed_size(pack) < WINDOW // 2
    objects = cat_file_all(path)
    # 5 commits, 5 x (1 + 6 + 1) trees, 250 random files, 60 texts x 5 versions
    assert len(objects) == 5 + 40 + 250 + 300, len(objects)
    return path, objects


@pytest.fixture
def big_repo(big_template, tmp_path):
    """A private copy of the template (tests change its packs), packs aged."""
    template, objects = big_template
    path = tmp_path / "repo"
    shutil.copytree(template, path, symlinks=True)
    age_packs(path)
    return path, objects


def read_every_object(db, objects):
    """Read every object's header and bytes through a gitdb database.
    :return: (number right, [sha of wrong bytes], {errno: count} of OSErrors,
        first OSError)"""
    right, wrong, errors, first = 0, [], {}, None
    for sha, (typ, content) in objects.items():
        binsha = bytes.fromhex(sha)
        try:
            info = db.info(binsha)
            data = db.stream(binsha).read()
        except OSError as e:
            errors[e.errno] = errors.get(e.errno, 0) + 1
            first = first or "%s: %r" % (sha, e)
            continue
        if (info.type, info.size) == (typ.encode(), len(content)) and data == content:
            right += 1
        else:
            wrong.append(sha)
    return right, wrong, errors, first


def assert_reads_all(db, objects, what):
    right, wrong, errors, first = read_every_object(db, objects)
    assert (right, wrong, errors) == (len(objects), [], {}), \
        "%s: %d of %d objects right, %d wrong, OSErrors by errno %s, first: %s" % (
            what, right, len(objects), len(wrong), errors, first)
    return right


def assert_repo_reads_all(path, objects, what):
    """GitPython's Repo(odbt=GitDB), a new one: every object through its odb,
    and every commit, tree and blob through the object model."""
    r = git.Repo(str(path), odbt=git.GitDB)
    assert isinstance(r.odb, git.GitDB)
    checked = assert_reads_all(r.odb, objects, what + " (Repo.odb)")
    seen = {"commit": set(), "tree": set(), "blob": set()}
    try:
        for commit in r.iter_commits("--all"):
            typ, raw = objects[commit.hexsha]
            assert typ == "commit"
            seen["commit"].add(commit.hexsha)
            assert commit.message == raw.split(b"\n\n", 1)[1].decode()
            seen["tree"].add(commit.tree.hexsha)
            for item in commit.tree.traverse():
                if item.type == "tree":
                    seen["tree"].add(item.hexsha)
                elif item.type == "blob" and item.hexsha not in seen["blob"]:
                    seen["blob"].add(item.hexsha)
                    assert item.size == len(objects[item.hexsha][1]), item.path
                    assert item.data_stream.read() == objects[item.hexsha][1], item.path
    except OSError as e:
        pytest.fail("%s (Repo objects): %r" % (what, e))
    finally:
        r.close()
    for typ, shas in seen.items():
        assert shas == {sha for sha, (t, _) in objects.items() if t == typ}, (what, typ)
    return checked


def mapped(man):
    st = man.stats()
    return st["maps"], st["evictions"]


def freshen_with_git(path, objects):
    """`git hash-object -w` of the largest blob, which the pack already holds:
    git only bumps the pack's mtime (utime). Checks that this is all it did."""
    (pack,) = packs(path)
    before = pack.stat()
    data = pack.read_bytes()
    sha = max((s for s, (t, _) in objects.items() if t == "blob"), key=lambda s: len(objects[s][1]))
    src = path.parent / "object.dat"
    src.write_bytes(objects[sha][1])
    assert run(path, "hash-object", "-w", str(src)).decode().strip() == sha
    after = pack.stat()
    assert after.st_mtime_ns > before.st_mtime_ns == OLD_NS, "git did not freshen the pack"
    assert (after.st_ino, after.st_dev, after.st_size) == (before.st_ino, before.st_dev, before.st_size)
    assert pack.read_bytes() == data
    assert count_objects(path)["count"] == "0"          # no loose object was written
    assert packs(path) == [pack]


def test_gitdb_and_gitpython_read_every_object_after_git_freshens_the_pack(big_repo, tiny_mman):
    path, objects = big_repo
    pack_bytes = packs(path)[0].stat().st_size
    db = GitDB(str(path / ".git" / "objects"))
    assert_reads_all(db, objects, "before the freshen")
    maps0, evictions0 = mapped(tiny_mman)
    assert maps0 > pack_bytes // WINDOW and evictions0 > 0

    freshen_with_git(path, objects)

    assert_reads_all(db, objects, "the same GitDB after the freshen")
    maps1, evictions1 = mapped(tiny_mman)
    # every object read again: windows evicted and mapped anew after the utime
    assert maps1 - maps0 > pack_bytes // WINDOW and evictions1 > evictions0
    assert_reads_all(GitDB(str(path / ".git" / "objects")), objects, "a new GitDB after the freshen")
    entities = db.databases()[0].entities()
    db.update_cache(force=True)                 # a rescan: the same pack, the same entity
    assert db.databases()[0].entities() == entities and len(entities) == 1
    assert_reads_all(db, objects, "the same GitDB after update_cache")
    assert assert_repo_reads_all(path, objects, "Repo(odbt=GitDB) after the freshen") == len(objects)
    assert mapped(tiny_mman)[0] - maps1 > 3 * (pack_bytes // WINDOW)
    assert cat_file_all(path) == objects


@pytest.mark.parametrize("touched", [("pack",), ("pack", "idx")])
def test_gitdb_reads_every_object_after_os_utime_of_the_pack(big_repo, tiny_mman, touched):
    """The freshen without git: os.utime one second later, between windows."""
    path, objects = big_repo
    (pack,) = packs(path)
    pack_bytes = pack.stat().st_size
    db = GitDB(str(path / ".git" / "objects"))
    shas = list(objects)
    half = {sha: objects[sha] for sha in shas[:len(shas) // 2]}
    assert_reads_all(db, half, "half of the objects before the utime")
    maps0, _ = mapped(tiny_mman)
    assert maps0 > 0
    for suffix in touched:
        p = pack.with_suffix("." + suffix)
        st = p.stat()
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))
        assert p.stat().st_mtime_ns == OLD_NS + 10 ** 9
    assert_reads_all(db, objects, "the same GitDB after os.utime of the %s" % "+".join(touched))
    maps1, _ = mapped(tiny_mman)
    assert maps1 - maps0 > pack_bytes // WINDOW
    assert_reads_all(GitDB(str(path / ".git" / "objects")), objects, "a new GitDB after os.utime")
    assert_repo_reads_all(path, objects, "Repo(odbt=GitDB) after os.utime")


def test_gitpython_repo_reads_every_object_after_git_freshens_the_pack(big_repo, tiny_mman):
    """The Repo already in use when git freshens, as in GitPython's own tests."""
    path, objects = big_repo
    r = git.Repo(str(path), odbt=git.GitDB)
    assert_reads_all(r.odb, objects, "Repo.odb before the freshen")
    head = r.head.commit
    assert head.message == "commit 4\n\nbody 4\n"
    freshen_with_git(path, objects)
    assert_reads_all(r.odb, objects, "the same Repo.odb after the freshen")
    for item in head.tree.traverse():
        if item.type == "blob":
            assert item.data_stream.read() == objects[item.hexsha][1], item.path
    r.close()


def add_commit_and_repack(path, round_):
    """A new commit (loose objects: edited texts, 30 new random files), then
    `git repack -a -d`: one new pack holds everything, the old pack and the
    loose objects are deleted. :return: (old pack, new pack)"""
    (old,) = packs(path)
    rnd = random.Random(100 + round_)
    for txt in sorted(path.glob("text*/t*.txt"))[round_::3]:
        lines = txt.read_text().splitlines()
        lines[rnd.randrange(len(lines))] = "repack %d %x" % (round_, rnd.getrandbits(48))
        txt.write_text("\n".join(lines) + "\n")
    new = path / ("new%d" % round_)
    new.mkdir()
    for j in range(30):
        (new / ("n%02d.dat" % j)).write_bytes(rnd.randbytes(20 * 1024 + rnd.randrange(8192)))
    run(path, "add", "-A")
    run(path, "commit", "-q", "-m", "repack round %d\n\nbody" % round_)
    assert count_objects(path)["count"] != "0"
    run(path, "repack", "-a", "-d", "-q")
    (new,) = packs(path)
    assert new != old
    assert not old.exists() and not old.with_suffix(".idx").exists()
    assert count_objects(path)["count"] == "0"
    return old, new


def test_gitdb_and_gitpython_read_every_object_after_git_repack_a_d(big_repo, tiny_mman):
    path, objects = big_repo
    objdir = str(path / ".git" / "objects")
    db = GitDB(objdir)
    assert_reads_all(db, objects, "before the repack")
    checked = len(objects)
    for round_ in range(2):
        old_pack, new_pack = add_commit_and_repack(path, round_)
        new_objects = cat_file_all(path)
        assert set(objects) < set(new_objects)
        assert all(new_objects[sha] == objects[sha] for sha in objects)
        # the database from before the repack, not updated: its pack is
        # deleted; whatever it returns must be right (bytes or OSError)
        right, wrong, errors, first = read_every_object(db, objects)
        assert wrong == [] and right + sum(errors.values()) == len(objects), (right, errors, first)
        # a new lookup: update_cache, a new GitDB, a new Repo
        assert db.update_cache(force=True) is True
        assert [e.pack().path() for e in db.databases()[0].entities()] == [str(new_pack)]
        checked += assert_reads_all(db, new_objects, "GitDB.update_cache after repack %d" % round_)
        checked += assert_reads_all(GitDB(objdir), new_objects, "a new GitDB after repack %d" % round_)
        checked += assert_repo_reads_all(path, new_objects, "Repo(odbt=GitDB) after repack %d" % round_)
        objects = new_objects
    assert tiny_mman.stats()["evictions"] > 0
    assert checked > 6 * len(objects) - 100
