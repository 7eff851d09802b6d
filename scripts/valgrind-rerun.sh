#!/usr/bin/env bash
# valgrind-rerun.sh ARGS...: `valgrind ARGS...`, run once more when
# valgrind itself failed ("Valgrind: FATAL", its own assertion, e.g.
# aspacem's at aspacemgr-segnames.c:221, seen once in CI under
# stress_versions' churn of file maps): that is no finding about the
# program, and the rerun is said on stderr. A report of valgrind about the
# program (--error-exitcode) is never rerun. test-sanitizers.sh's memcheck
# stage runs stress_versions through it. Not for programs whose stderr must
# stay a terminal or that take signals: valgrind's stderr goes through tee,
# and a signal sent to this script alone does not reach valgrind.
set -u
log=$(mktemp "${TMPDIR:-/tmp}/valgrind-rerun.XXXXXX")
trap 'rm -f "$log"' EXIT
# valgrind's stderr through tee (kept in the log and passed on); its
# stdout straight to ours (fd 3).
{ valgrind "$@" 2>&1 1>&3 3>&- | tee "$log" >&2; rc=${PIPESTATUS[0]}; } 3>&1
if grep -q 'Valgrind: FATAL' "$log"; then
    echo "valgrind-rerun: valgrind itself failed (above); run again" >&2
    valgrind "$@"
    rc=$?
fi
exit "$rc"
