"""Base class and temporary files for tests, as smmap 5.0's tests use them:

    from smmap.test.lib import TestBase, FileCreator

    class TestMine(TestBase):
        def test_read(self):
            with FileCreator(self.k_window_test_size, "mine") as fc:
                ...  # fc.path names a file of fc.size bytes

FileCreator's file is what smmap 5.0's was: size - 1 zero bytes (a hole
where the file system allows) and a final b'1'. Its tests rely on that:
test_buf compares byte 100 of the file with byte 0 of a buffer that starts
at offset 0, which holds only while both are zeros. Tests that must catch
a read from the wrong offset write their own bytes."""
import os
import tempfile
import unittest

__all__ = ["TestBase", "FileCreator"]


class FileCreator:

    """A temporary file of `size` bytes whose name starts with `prefix`.

    It is removed when the `with` block ends, by remove(), or when the
    object is collected, whichever comes first."""

    __slots__ = ("_path", "_size")

    def __init__(self, size, prefix=""):
        if not isinstance(size, int) or size <= 0:
            raise ValueError("FileCreator: size must be a positive int, not %r" % (size,))
        fd, self._path = tempfile.mkstemp(prefix=prefix)
        self._size = size
        try:
            with os.fdopen(fd, "wb") as fp:
                fp.seek(size - 1)
                fp.write(b"1")
        except BaseException:
            self.remove()
            raise

    @property
    def path(self):
        """The file's path."""
        return self._path

    @property
    def size(self):
        """The file's size in bytes."""
        return self._size

    def remove(self):
        """Delete the file; a second call, or a file already gone, does nothing."""
        try:
            os.remove(self._path)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.remove()

    def __del__(self):
        # __init__ may have failed before the path was set
        if getattr(self, "_path", None) is not None:
            self.remove()


class TestBase(unittest.TestCase):

    """Base of smmap's test cases.

    k_window_test_size is the file size smmap's tests derive their windows
    and budgets from (a hundredth and a third of it): about 8 MB, not a
    multiple of the page size, so that the last window is a partial one."""

    k_window_test_size = 1000 * 1000 * 8 + 5195
