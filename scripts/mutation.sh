#!/usr/bin/env bash
# Mutation testing of src/ (issue 3, item 7): change one operator or one
# constant at a time in a copy of the tree (never the working tree), rebuild,
# run the C test suite with a timeout; a mutant is killed when a test fails.
#
# Mutations (in code, not in comments, strings, preprocessor lines or the
# conditions of assert(), which are the invariants the tests rely on):
#   < <= > >= == != swapped with their neighbours, && <-> ||, + <-> -,
#   ++ <-> --, unary minus dropped, integer constants 0 <-> 1 and N -> N+1.
# The mutants are sampled with a fixed seed (all of them with SAMPLE=0).
#
# A mutant whose object file, without debug information, is byte for byte
# the object of the unmutated source is equivalent by construction (Trivial
# Compiler Equivalence, Papadakis et al., ICSE 2015): the compiler folded
# the change away (e.g. `sizeof(void *) >= 8` -> `<= 8` on a 64-bit build) or
# the code is not compiled on this platform (the other side of an #if).
# Such mutants are listed apart and left out of the score; no test can kill
# them in this build.
#
# Usage: scripts/mutation.sh            (SAMPLE=100 SEED=1 by default)
# Environment: SAMPLE, SEED, JOBS, TEST_TIMEOUT (seconds per test, 120),
#   ONLY (comma-separated sources of src/ to mutate, e.g. ONLY=os_posix.c,
#   to check new tests against one file's mutants; default all),
#   FROM (a commit to test as committed, e.g. FROM=HEAD; default the
#   working tree with its uncommitted changes),
#   TESTS_EXCLUDE (ctest -E regex; default skips the tests that do not run
#   the C library directly: install, python, tool, README example, header).
# Output: the score over mutants that build to different code, each survivor
# and each same-code mutant as a diff line, in build-mutation/report.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
sample=${SAMPLE:-100}
seed=${SEED:-1}
jobs=${JOBS:-$(nproc)}
test_timeout=${TEST_TIMEOUT:-120}
exclude=${TESTS_EXCLUDE:-'install|python|tool|readme|header'}
out=$root/build-mutation
work=$(mktemp -d "${TMPDIR:-/tmp}/smmap-mutation-XXXXXX")
trap 'rm -rf "$work"' EXIT

mkdir -p "$out"
# The tree as it is now (tracked and new files), without build directories;
# or, with FROM=<commit>, that commit as committed.
if [ -n "${FROM:-}" ]; then
  git archive "$FROM" | tar -x -C "$work"
else
  git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$work"
fi
# Optimized, with assert() kept: the invariants are part of what kills.
cmake -S "$work" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g" \
  -DSMMAP_BUILD_BENCH=OFF -DSMMAP_WERROR=OFF \
  -DSMMAP_MODEL_ARGS="--seeds;100;--ops;500" \
  -DSMMAP_THREADS_ARGS="--iterations;5000;--timeout;100" >/dev/null
# The fault test injects at every fifth call (all sites, all errnos).
export SMMAP_TEST_QUICK=1
cmake --build "$work/build" -j "$jobs" >/dev/null
objdir=$work/build/CMakeFiles/smmap_static.dir/src
# The code each source compiles to unmutated, for the equivalence check.
mkdir -p "$work/code"
for o in "$objdir"/*.c.o; do
  objcopy --strip-debug "$o" "$work/code/$(basename "$o")"
done
echo "mutation: baseline suite"
if ! ctest --test-dir "$work/build" -j "$jobs" -E "$exclude" --timeout "$test_timeout" >"$out/baseline.log" 2>&1; then
  # A test that fails unmutated cannot kill anything: leave it out, say so.
  broken=$(sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (.*/\1/p' "$out/baseline.log" | paste -sd'|')
  [ -n "$broken" ] || { echo "mutation: the baseline suite fails; see $out/baseline.log" >&2; exit 1; }
  echo "mutation: WARNING: failing without a mutant, left out: $broken"
  exclude="$exclude|^($broken)\$"
  ctest --test-dir "$work/build" -j "$jobs" -E "$exclude" --timeout "$test_timeout" >"$out/baseline.log" 2>&1 ||
    { echo "mutation: the baseline suite fails; see $out/baseline.log" >&2; exit 1; }
fi

# List every mutation point, then sample.
/usr/bin/python3 - "$work" "$sample" "$seed" "${ONLY:-}" >"$out/mutants.tsv" <<'EOF'
import os, re, sys, random
work, sample, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
only = [f for f in sys.argv[4].split(",") if f]
files = sorted(f for f in os.listdir(os.path.join(work, "src"))
               if f.endswith(".c") and f != "os_win32.c" and (not only or f in only))
token = re.compile(r'''
    (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
  | (?P<op>\+\+|--|<<=|>>=|<<|>>|->|<=|>=|==|!=|&&|\|\||[-+<>])
  | (?P<num>\b(?:0[xX][0-9a-fA-F]+|\d+)(?:[uU]?[lL]{0,2}|[lL]{0,2}[uU]?)\b)
  | (?P<ident>[A-Za-z_]\w*)
  | (?P<punct>[][(){},;=?:!*/%&|^~.])
''', re.S | re.X)
swap = {"<": ["<=", ">"], "<=": ["<", ">="], ">": [">=", "<"],
        ">=": [">", "<="], "==": ["!="], "!=": ["=="], "&&": ["||"],
        "||": ["&&"], "+": ["-"], "-": ["+"], "++": ["--"], "--": ["++"]}
mutants = []
for name in files:
    text = open(os.path.join(work, "src", name)).read()
    # Offsets of preprocessor lines: never mutated.
    pre = [(m.start(), m.end()) for m in re.finditer(r"^[ \t]*#.*?(?<!\\)$", text, re.M | re.S)]
    # assert() conditions are the oracle (the invariants the tests rely
    # on), not code under test: a weakened assertion cannot fail a test.
    for m in re.finditer(r"\bassert\(", text):
        depth, j = 0, m.end() - 1
        while True:
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
            if depth == 0:
                break
        pre.append((m.start(), j))
    def in_pre(i):
        return any(a <= i < b for a, b in pre)
    prev = None
    for m in token.finditer(text):
        kind = m.lastgroup
        if kind in ("comment", "string"):
            continue
        if kind == "punct":
            prev = m.group()
            continue
        i, s = m.start(), m.group()
        if in_pre(i):
            prev = s
            continue
        line = text.count("\n", 0, i) + 1
        if kind == "op" and s in swap:
            unary = s == "-" and (prev is None or prev in
                     ("(", ",", "=", "return", "?", ":", "[", "{", "==", "!=", "<", ">", "<=", ">="))
            if unary:
                mutants.append((name, i, len(s), "", line, "drop unary -"))
            else:
                for r in swap[s]:
                    mutants.append((name, i, len(s), r, line, "%s -> %s" % (s, r)))
        elif kind == "num":
            digits = re.match(r"0[xX][0-9a-fA-F]+|\d+", s).group()
            suffix = s[len(digits):]
            v = int(digits, 0)
            repl = ["1"] if v == 0 else ["0"] if v == 1 else [str(v + 1)]
            for r in repl:
                mutants.append((name, i, len(s), r + suffix, line, "%s -> %s" % (s, r + suffix)))
        prev = s
# Sample with the seed.
random.seed(seed)
if 0 < sample < len(mutants):
    chosen = sorted(random.sample(range(len(mutants)), sample))
else:
    chosen = range(len(mutants))
print("#total\t%d" % len(mutants))
for k in chosen:
    name, i, n, r, line, what = mutants[k]
    # "@" stands for an empty replacement: read would merge empty fields.
    print("%s\t%d\t%d\t%s\t%d\t%s" % (name, i, n, r or "@", line, what))
EOF
total=$(sed -n 's/^#total\t//p' "$out/mutants.tsv")
count=$(grep -vc '^#' "$out/mutants.tsv" || true)
echo "mutation: $total mutation points in src/, testing $count (seed $seed)"

killed=0 survived=0 unbuilt=0 equivalent=0 n=0
: >"$out/survivors.txt"
: >"$out/equivalent.txt"
while IFS=$'\t' read -r file offset length repl line what; do
  [ "${file:0:1}" = "#" ] && continue
  n=$((n + 1))
  src="$work/src/$file"
  cp "$src" "$src.orig"
  /usr/bin/python3 - "$src" "$offset" "$length" "$repl" <<'EOF'
import sys
path, off, n, repl = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
repl = "" if repl == "@" else repl
text = open(path).read()
open(path, "w").write(text[:off] + repl + text[off + n:])
EOF
  if ! cmake --build "$work/build" -j "$jobs" >/dev/null 2>&1; then
    result=unbuilt; unbuilt=$((unbuilt + 1))
  elif objcopy --strip-debug "$objdir/$file.o" "$work/mutant.o" &&
       cmp -s "$work/mutant.o" "$work/code/$file.o"; then
    result=same-code; equivalent=$((equivalent + 1))
    printf '%s:%s: %s    | %s\n' "$file" "$line" "$what" \
      "$(sed -n "${line}p" "$src.orig" | sed 's/^ *//')" >>"$out/equivalent.txt"
  elif ctest --test-dir "$work/build" -j "$jobs" -E "$exclude" --timeout "$test_timeout" \
         --stop-on-failure >/dev/null 2>&1; then
    result=SURVIVED; survived=$((survived + 1))
    printf '%s:%s: %s    | %s\n' "$file" "$line" "$what" \
      "$(sed -n "${line}p" "$src.orig" | sed 's/^ *//')" >>"$out/survivors.txt"
  else
    result=killed; killed=$((killed + 1))
  fi
  mv "$src.orig" "$src"
  touch "$src"
  printf 'mutation %3d/%d %-9s %s:%s %s\n' "$n" "$count" "$result" "$file" "$line" "$what"
done <"$out/mutants.tsv"
cmake --build "$work/build" -j "$jobs" >/dev/null 2>&1 || true

built=$((killed + survived))
score=$(awk -v k="$killed" -v b="$built" 'BEGIN{printf "%.1f", b ? 100*k/b : 0}')
{
  echo "mutation: $count mutants of $total (seed $seed): $killed killed, $survived survived, $unbuilt did not build, $equivalent compile to the same code"
  echo "mutation: score $score% of the mutants that build to different code (target 90%)"
  echo "survivors:"
  cat "$out/survivors.txt"
  echo "same code as the original (left out of the score):"
  cat "$out/equivalent.txt"
} | tee "$out/report.txt"
awk -v s="$score" 'BEGIN{exit !(s>=90)}' && echo "1 passed, 0 failed" || { echo "0 passed, 1 failed"; exit 1; }
