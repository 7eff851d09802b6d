"""Seeds `random` before each of smmap 5.0's tests.

scripts/test-python.sh copies upstream's test files, unmodified, next to
our smmap.test, and this file beside them as conftest.py.

Upstream's test_buf draws byte positions with randint(0, fsize). randint
includes its upper bound, so fsize itself, one past the last byte, can be
drawn: about once in 8 million draws, 600 draws a run, three runs per CI.
buf[fsize] then fails: IndexError under this package, as Python's own
sequences do (python/tests/test_fixes.py checks it), and AttributeError
under pure smmap 5.0. That is a fault of the test, and it failed a CI run
of ours once (2026-12-03).

A fixed seed per test makes every run draw the same positions, so the
verdict depends on the code and not on chance. SMMAP_UPSTREAM_SEED picks
another seed, to explore."""
import os
import random

import pytest

SEED = os.environ.get("SMMAP_UPSTREAM_SEED", "smmap-upstream")


@pytest.fixture(autouse=True)
def _seeded_random(request):
    random.seed("%s:%s" % (SEED, request.node.nodeid))
    yield
