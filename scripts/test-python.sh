#!/usr/bin/env bash
# test-python.sh - build, package and test the drop-in Python package
# (python/, issues 5 and 15).
#
# 1. checks the toolchain (Debian's /usr/bin/python3 with python3-dev,
#    python3-setuptools, python3-wheel, python3-build, python3-venv,
#    python3-pip, python3-pytest, python3-smmap, python3-gitdb, python3-git,
#    and git, gcc, clang); anything missing is a failure naming the apt line;
# 2. builds the extension in place (python/smmap/_csmmap*.so), warnings as
#    errors, and checks each file of python/csrc/ with clang -Werror;
# 3. builds the sdist and, from the unpacked sdist (away from the checkout,
#    with the library's sources it carries), the wheel: Debian's
#    `python3 -m build --no-isolation`, -Werror;
# 4. installs the wheel into a fresh venv (--system-site-packages), then runs
#    there smmap 5.0's own test files, unmodified (Debian's python3-smmap),
#    copied beside our own smmap.test (its __init__.py and lib.py, nothing
#    of upstream's) with scripts/upstream-conftest.py as their conftest.py
#    (`random` seeded per test: test_buf's randint(0, fsize) can draw one
#    past the end, a fault of the test), and python/tests (parity, fixes, the named argument
#    errors, gitdb and GitPython on a real repo, also after git freshens its
#    pack and after git repack -a -d: issue 12);
# 5. runs the install commands of README.md and python/README.md exactly as
#    written (the ```sh blocks after a "test-python.sh runs" marker), each in
#    a fresh copy of the checkout, and smmap 5.0's test files on what they
#    installed;
# 6. runs python/tests again on an extension built with AddressSanitizer and
#    UndefinedBehaviorSanitizer (libasan/libubsan preloaded into python3);
# 7. prints "N passed, N failed"; fails on any failure, error or skip.
#
# Environment: SMMAP_SOURCE_DIR builds the library from another checkout
# (default: this one). Runs in about two minutes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB="${SMMAP_SOURCE_DIR:-$ROOT}"
PY=/usr/bin/python3
BUILD="$ROOT/build-python"
UPSTREAM=/usr/lib/python3/dist-packages/smmap/test
APT="apt-get install -y python3 python3-dev python3-setuptools python3-wheel python3-build python3-venv python3-pip python3-pytest python3-smmap python3-gitdb python3-git git gcc clang"

missing=()
[ -x "$PY" ] || missing+=("/usr/bin/python3")
if [ -x "$PY" ]; then
    inc="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
    [ -f "$inc/Python.h" ] || missing+=("Python.h (python3-dev)")
    for mod in setuptools wheel build venv ensurepip pytest pip gitdb git; do
        "$PY" -c "import $mod" 2>/dev/null || missing+=("python module $mod")
    done
    # Debian's venv needs the pip wheel python3-venv brings in
    ls /usr/share/python-wheels/pip-*.whl >/dev/null 2>&1 || missing+=("pip's wheel for venv (python3-venv)")
    [ -f "$UPSTREAM/test_mman.py" ] || missing+=("smmap's test suite (python3-smmap)")
fi
command -v git >/dev/null || missing+=("git")
command -v gcc >/dev/null || missing+=("gcc")
command -v clang >/dev/null || missing+=("clang")
if [ ${#missing[@]} -gt 0 ]; then
    echo "test-python: missing: ${missing[*]}" >&2
    echo "test-python: install with: $APT" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

# A step that stops the script (a build that fails) still ends it with the
# count line.
summary_printed=0
trap 'rc=$?; if [ $rc -ne 0 ] && [ $summary_printed = 0 ]; then
    echo "test-python: stopped by the failure above"; echo "0 passed, 1 failed"; fi' EXIT

rm -rf "$BUILD"
mkdir -p "$BUILD"
REPORTS="$BUILD/reports"
mkdir -p "$REPORTS"

echo "== build: setup.py build_ext --inplace (-Werror)"
(cd "$ROOT/python" &&
    rm -f smmap/_csmmap*.so &&
    CFLAGS="-Werror" "$PY" setup.py -q build_ext --inplace --build-temp "$BUILD/temp")

echo "== clang -Wall -Wextra -Wmissing-prototypes -Werror on each file of python/csrc"
# -Wmissing-prototypes: what one file gives another is declared in csmmap.h
for f in "$ROOT"/python/csrc/*.c; do
    clang -std=c11 -Wall -Wextra -Wmissing-prototypes -Werror -fsyntax-only \
        -D_POSIX_C_SOURCE=200809L -D_FILE_OFFSET_BITS=64 -DSMMAP_BUILDING \
        -I"$LIB/include" -I"$ROOT/python/csrc" -I"$inc" "$f"
done

# A copy of what the package is built from (python/, the library's src/ and
# include/): builds write into their source tree (egg-info, build/), and the
# checkout is shared with other work.
copy_tree() {
    mkdir -p "$1"
    cp -r "$ROOT/python" "$1/python"
    cp -r "$LIB/src" "$LIB/include" "$1/"
    rm -rf "$1"/python/build "$1"/python/dist "$1"/python/*.egg-info \
        "$1"/python/smmap/_csmmap*.so
    find "$1" -name __pycache__ -prune -exec rm -rf {} +
}

# Copy smmap 5.0's test files, and nothing else of its test package, beside
# the smmap.test (our __init__.py and lib.py) of the package in SITE; check
# that smmap, smmap._csmmap and smmap.test.lib load from there with PYTHON
# (env: PYTHONPATH as the run will have it).
place_upstream_tests() {
    local site=$1 python=$2
    cmp -s "$ROOT/python/smmap/test/lib.py" "$site/smmap/test/lib.py" ||
        { echo "$site/smmap/test/lib.py is not ours" >&2; return 1; }
    if cmp -s "$UPSTREAM/lib.py" "$site/smmap/test/lib.py"; then
        echo "$site/smmap/test/lib.py is upstream's" >&2; return 1
    fi
    cp "$UPSTREAM"/test_*.py "$site/smmap/test/"
    # a fixed seed per test: upstream's test_buf can draw one past the end
    cp "$ROOT/scripts/upstream-conftest.py" "$site/smmap/test/conftest.py"
    (cd "$site" && "$python" - "$site" <<'PYEOF'
import os, sys
site = os.path.realpath(sys.argv[1])
import smmap, smmap._csmmap, smmap.mman, smmap.test.lib
for mod in (smmap, smmap._csmmap, smmap.test.lib):
    assert os.path.realpath(mod.__file__).startswith(os.path.join(site, "smmap") + os.sep), mod.__file__
assert issubclass(smmap.mman.WindowCursor, smmap._csmmap.WindowCursor)
print("smmap 5.0's tests run on", os.path.dirname(smmap.__file__), "with",
      os.path.basename(smmap._csmmap.__file__), "and our smmap.test.lib; random seeded per test")
PYEOF
    )
}

echo "== sdist, then the wheel from the unpacked sdist: python3 -m build --no-isolation (-Werror)"
copy_tree "$BUILD/tree"
build_rc=0
# (the copy holds $LIB's sources: the build must find them by itself)
(cd "$BUILD/tree/python" && unset SMMAP_SOURCE_DIR &&
    CFLAGS="-Werror" "$PY" -m build --no-isolation --outdir "$BUILD/dist" . \
        >"$BUILD/build.log" 2>&1) || build_rc=$?
if [ $build_rc -ne 0 ]; then
    tail -40 "$BUILD/build.log" >&2
    echo "python3 -m build failed" >&2
    exit 1
fi
sdist=$(ls "$BUILD"/dist/smmap-*.tar.gz)
wheel=$(ls "$BUILD"/dist/smmap-*.whl)
"$PY" - "$sdist" "$wheel" "$LIB" "$ROOT/python" "$BUILD/build.log" <<'PYEOF'
import glob, os, re, sys, tarfile, zipfile
sdist, wheel, lib, python, log = sys.argv[1:]
names = tarfile.open(sdist).getnames()
top = names[0].split("/")[0]
want = (["libsmmap/src/" + os.path.basename(p) for p in glob.glob(lib + "/src/*.[ch]")] +
        ["libsmmap/include/smmap.h", "pyproject.toml", "setup.py"] +
        ["csrc/" + os.path.basename(p) for p in glob.glob(python + "/csrc/*.[ch]")])
lacks = [n for n in want if top + "/" + n not in names]
assert not lacks, "the sdist lacks %s" % lacks
# the wheel was built from the sdist unpacked away from the checkout, with
# the library sources it carries
used = re.findall(r"^smmap: library sources from (.*)$", open(log).read(), re.M)
assert used and used[-1].endswith("/" + top + "/libsmmap") and "build-python/tree" not in used[-1], used
inside = zipfile.ZipFile(wheel).namelist()
assert any(re.match(r"smmap/_csmmap\..*\.so$", n) for n in inside), inside
assert "smmap/test/lib.py" in inside and not any("smmap/test/test_" in n for n in inside), inside
print("sdist: %d files, the library's %d sources; wheel from %s: %s" % (
    len(names), len(glob.glob(lib + "/src/*.[ch]")), used[-1], os.path.basename(wheel)))
PYEOF

echo "== the wheel in a fresh venv (--system-site-packages)"
VENV="$BUILD/venv-wheel"
"$PY" -m venv --system-site-packages "$VENV"
"$VENV/bin/pip" install -q --no-index --no-deps "$wheel"
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
place_upstream_tests "$site" "$VENV/bin/python"

echo "== smmap 5.0's test files, unmodified, on the wheel with our smmap.test"
suite_rc=0
(cd "$site" && "$VENV/bin/python" -m pytest -q -p no:cacheprovider -rs \
    --junitxml="$REPORTS/smmap-suite-wheel.xml" smmap/test) || suite_rc=$?

echo "== python/tests on the wheel: parity, fixes, arguments, smmap.test, gitdb and GitPython"
own_rc=0
# from a directory without smmap in it, so the venv's copy is the one imported
(cd "$BUILD" && SMMAP_TEST_SITE="$site" SMMAP_TEST_HEADER="$LIB/include/smmap.h" \
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider -rs \
    --junitxml="$REPORTS/python-tests.xml" "$ROOT/python/tests") || own_rc=$?

echo "== the README's install commands, as written, each in a fresh copy of the checkout"
readme_rc=0
"$PY" - "$ROOT/README.md" "$ROOT/python/README.md" "$BUILD/readme" <<'PYEOF' || readme_rc=$?
import os, sys
*readmes, out = sys.argv[1:]
MARK = "test-python.sh runs"
blocks, seen = [], {}
for path in readmes:
    lines = open(path).read().split("\n")
    found = 0
    for i, line in enumerate(lines):
        if MARK in line:
            j = i + 1
            assert lines[j].strip() == "```sh", "%s:%d: no ```sh block after the marker" % (path, j + 1)
            k = lines.index("```", j + 1)
            block = "\n".join(lines[j + 1:k]) + "\n"
            found += 1
            if block not in seen:
                seen[block] = len(blocks)
                blocks.append(block)
    assert found, "%s: no install commands marked '%s'" % (path, MARK)
    print("%s: %d marked block(s)" % (os.path.relpath(path), found))
os.makedirs(out, exist_ok=True)
for n, block in enumerate(blocks):
    with open(os.path.join(out, "block%d.sh" % n), "w") as fp:
        fp.write(block)
PYEOF
readme_reports=()
for block in "$BUILD"/readme/block*.sh; do
    [ -f "$block" ] || continue
    name=$(basename "$block" .sh)
    readme_reports+=("$REPORTS/smmap-suite-readme-$name.xml")
    copy_tree "$BUILD/readme/$name"
    echo "-- $name (in $BUILD/readme/$name):"
    sed 's/^/   /' "$block"
    # as a user types them: any failing command fails the block
    if ! (cd "$BUILD/readme/$name" && unset SMMAP_SOURCE_DIR && bash -euo pipefail "$block" >"$BUILD/readme/$name.log" 2>&1); then
        tail -20 "$BUILD/readme/$name.log" >&2
        echo "README commands failed: $block" >&2
        readme_rc=1
        continue
    fi
    # what they installed: a venv's site-packages or a --target directory
    cd "$BUILD/readme/$name"
    if [ -d .venv ]; then
        python=$PWD/.venv/bin/python
        site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        pythonpath=
    else
        python=$PY
        site=
        for d in */; do
            [ "$d" != python/ ] && [ -f "$d/smmap/__init__.py" ] && site=$PWD/${d%/}
        done
        [ -n "$site" ] || { echo "$name installed no smmap" >&2; readme_rc=1; cd "$ROOT"; continue; }
        pythonpath=$site
    fi
    cd "$ROOT"
    if ! PYTHONPATH=$pythonpath place_upstream_tests "$site" "$python"; then
        readme_rc=1
        continue
    fi
    (cd "$site" && PYTHONPATH=$pythonpath "$python" -m pytest -q -p no:cacheprovider -rs \
        --junitxml="$REPORTS/smmap-suite-readme-$name.xml" smmap/test) || readme_rc=1
done

echo "== python/tests on an ASan+UBSan build of the extension"
asan_rc=0
mkdir -p "$BUILD/asan"
cp -r "$ROOT/python/smmap" "$ROOT/python/csrc" "$ROOT/python/tests" "$ROOT/python/setup.py" \
    "$ROOT/python/pyproject.toml" "$ROOT/python/README.md" "$BUILD/asan/"
rm -f "$BUILD/asan/smmap/"_csmmap*.so
(cd "$BUILD/asan" &&
    SMMAP_SOURCE_DIR="$LIB" \
    CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -O1" \
    LDFLAGS="-fsanitize=address,undefined" \
    "$PY" setup.py -q build_ext --inplace --build-temp "$BUILD/asan-temp") || asan_rc=$?
[ $asan_rc -ne 0 ] || (cd "$BUILD/asan" &&
    LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    SMMAP_TEST_HEADER="$LIB/include/smmap.h" \
    PYTHONPATH="$BUILD/asan" "$PY" -m pytest -q -p no:cacheprovider -rs \
    --junitxml="$REPORTS/python-tests-asan.xml" tests) || asan_rc=$?

# no marked block found: a missing report, counted as a failure
[ ${#readme_reports[@]} -gt 0 ] || readme_reports+=("$REPORTS/smmap-suite-readme-none.xml")
count_rc=0
"$PY" - "$REPORTS/smmap-suite-wheel.xml" ${readme_reports[@]+"${readme_reports[@]}"} \
    "$REPORTS/python-tests.xml" "$REPORTS/python-tests-asan.xml" <<'PYEOF' || count_rc=$?
import sys
import xml.etree.ElementTree as ET
total = {"passed": 0, "failed": 0, "skipped": 0}
for path in sys.argv[1:]:
    name = path.rsplit("/", 1)[-1][:-4]
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        print("%-26s no report (did pytest run?)" % name)
        total["failed"] += 1
        continue
    suites = root.iter("testsuite")
    t = f = s = 0
    for suite in suites:
        t += int(suite.get("tests", 0))
        f += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        s += int(suite.get("skipped", 0))
    p = t - f - s
    if t == 0:
        print("%-26s ran no tests" % name)
        f += 1
    print("%-26s %d passed, %d failed, %d skipped" % (name, p, f, s))
    if name.startswith("smmap-suite"):
        # every file of smmap 5.0's suite ran, test_tutorial (which imports
        # smmap.test.lib) included
        for mod in ("test_buf", "test_mman", "test_tutorial", "test_util"):
            ok = [tc for tc in root.iter("testcase")
                  if tc.get("classname", "").split(".")[-2:-1] == [mod]
                  and not any(c.tag in ("failure", "error", "skipped") for c in tc)]
            if not ok:
                print("%-26s   no test of %s passed" % ("", mod))
                f += 1
    if name.startswith("python-tests"):
        # issue 12: gitdb and GitPython after git freshens and repacks a pack
        for word in ("freshen", "os_utime", "repack"):
            cases = [tc for tc in root.iter("testcase")
                     if tc.get("classname", "").endswith("test_gitdb") and word in tc.get("name", "")]
            ok = [tc for tc in cases
                  if not any(c.tag in ("failure", "error", "skipped") for c in tc)]
            print("%-26s   gitdb after %s: %d of %d passed" % ("", word, len(ok), len(cases)))
            if not cases:
                print("%-26s   no gitdb %s test ran" % ("", word))
                f += 1
    total["passed"] += p
    total["failed"] += f + s           # a skip is not a pass
    total["skipped"] += s
if total["skipped"]:
    print("skipped tests count as failures here")
print("%d passed, %d failed" % (total["passed"], total["failed"]))
sys.exit(1 if total["failed"] else 0)
PYEOF
summary_printed=1
[ $suite_rc -eq 0 ] && [ $own_rc -eq 0 ] && [ $readme_rc -eq 0 ] && [ $asan_rc -eq 0 ] &&
    [ $count_rc -eq 0 ]
