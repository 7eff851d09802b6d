"""Helpers for tests of smmap and of code that uses it (smmap.test.lib).

smmap 5.0 ships this package with its own test files, which import
TestBase and FileCreator from smmap.test.lib; this drop-in ships the helpers
(written anew for it) so that those test files, copied beside lib.py, run
unmodified against this package."""
