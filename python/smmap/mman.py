"""Module containing a memory memory manager which provides a sliding window on a number of memory mapped files

The managers keep smmap 5.0's interface; each owns a libsmmap manager
(smmap._csmmap.Manager) that maps, pins, evicts (true LRU) and counts. The
managers are safe to share between threads; give each thread its own cursor.
"""
import operator
import os
import sys

from . import _csmmap
from .util import (
    MapWindow,
    MapRegion,
    MapRegionList,
    is_64_bit,
)

__all__ = ["StaticWindowMapManager", "SlidingWindowMapManager", "WindowCursor"]

# force_map_handle_removal_win does its work on Windows only, as in smmap 5.0
# (tests set this to exercise it elsewhere).
_IS_WINDOWS = sys.platform == 'win32'

# Files without a cursor stay open (their unused regions are the cache) until
# this many files are known to a manager; then the idle ones are dropped.
_MAX_FILES_KEPT = 128


class WindowCursor(_csmmap.WindowCursor):

    """
    Pointer into the mapped region of the memory manager, keeping the map
    alive until it is destroyed and no other client uses it.

    Cursors should not be created manually, but are instead returned by the SlidingWindowMapManager

    The methods (use_region, unuse_region, buffer, map, is_valid, is_associated,
    ofs_begin, ofs_end, size, includes_ofs, file_size, path_or_fd, path, fd,
    assign, copy) are implemented in C. use_region() returns the cursor; an
    offset at or past the end of the file leaves it invalid. buffer() is a
    memoryview of the cursor's bytes and map() the region's bytes from its
    first byte; both keep their region mapped for as long as they live."""
    __slots__ = ()

    @property
    def _region(self):
        """smmap's private _region, read-only: region() (None while not
        valid); a new MapRegion each time, equal (==) to the last."""
        return self.region()

    def region(self):
        """:return: our mapped region, or None if nothing is mapped yet.
        Regions compare equal when they are the same mapping. This is only useful for debugging"""
        key = self._region_key()
        if key is None:
            return None
        addr, begin, size = key
        return MapRegion._reported(self._rlist, addr, begin, size)


def _int_arg(name, value):
    """value as an int (operator.index), or a TypeError naming the argument."""
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError("smmap: %s must be an int, not %s"
                        % (name, type(value).__name__)) from None


def _fd_identity(fd):
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


class StaticWindowMapManager:

    """Provides a manager which will produce single size cursors that are allowed
    to always map the whole file.

    Clients must be written to specifically know that they are accessing their data
    through a StaticWindowMapManager, as they otherwise have to deal with their window size.

    These clients would have to use a SlidingWindowMapBuffer to hide this fact.

    This type will always use a maximum window size, and optimize certain methods to
    accommodate this fact"""

    __slots__ = [
        '_fdict',            # mapping of path_or_fd -> _csmmap.File
        '_window_size',      # maximum size of a window
        '_max_memory_size',  # maximum amount of memory we may allocate
        '_max_handle_count',  # maximum amount of regions (smmap: handles)
        '_m',                # the libsmmap manager
        '__weakref__',
    ]

    #{ Configuration
    MapRegionListCls = MapRegionList
    MapWindowCls = MapWindow
    MapRegionCls = MapRegion
    WindowCursorCls = WindowCursor
    #} END configuration

    _MB_in_bytes = 1024 * 1024

    def __init__(self, window_size=0, max_memory_size=0, max_open_handles=sys.maxsize):
        """initialize the manager with the given parameters.
        :param window_size: if -1, a default window size will be chosen depending on
            the operating system's architecture. It will internally be quantified to a multiple of the page size
            If 0, the window may have any size, which basically results in mapping the whole file at one
            Any negative value selects the default, as in smmap 5.0; a window larger than half
            the address space (2**63 - 1 bytes on 64-bit) raises ValueError.
        :param max_memory_size: maximum amount of memory we may map at once before releasing mapped regions.
            If 0, a viable default will be set depending on the system's architecture.
            It is a soft limit that is tried to be kept, but nothing bad happens if we have to over-allocate
            A negative value raises ValueError.
        :param max_open_handles: if not maxint, limit the amount of mapped regions to the given number.
            Otherwise a quarter of the system's limit on mappings is used. Descriptors are
            budgeted separately (a quarter of the open-files limit)."""
        window_size = _int_arg("window_size", window_size)
        max_memory_size = _int_arg("max_memory_size", max_memory_size)
        max_open_handles = _int_arg("max_open_handles", max_open_handles)
        if window_size < 0:
            window_size = (1024 if is_64_bit() else 64) * self._MB_in_bytes
        if max_memory_size == 0:
            max_memory_size = (8192 if is_64_bit() else 1024) * self._MB_in_bytes
        if max_memory_size < 0:
            raise ValueError("smmap: max_memory_size=%r must not be negative (0 selects the default)"
                             % (max_memory_size,))
        if max_memory_size >= 2 ** 64:
            raise ValueError("smmap: max_memory_size=%r is too large (at most 2**64 - 1)"
                             % (max_memory_size,))
        if max_open_handles < 1:
            raise ValueError("smmap: max_open_handles=%r must be at least 1" % (max_open_handles,))
        self._fdict = dict()
        self._window_size = window_size
        self._max_memory_size = max_memory_size
        self._max_handle_count = max_open_handles
        regions = max_open_handles if max_open_handles < 2 ** 32 - 1 else 0
        self._m = _csmmap.Manager(window_size, max_memory_size, regions)

    #{ Internal Methods

    @property
    def _memory_size(self):
        return self._m.counts()[0]

    @property
    def _handle_count(self):
        return self._m.counts()[1]

    def _collect_lru_region(self, size):
        """Unmap unused regions if mapping size more bytes would exceed the budget
        :param size: size of the region we want to map next; if 0, free every unused region
        :return: Amount of freed regions

        The library evicts least-recently-used regions by itself before each
        mapping; this is kept for callers of smmap 5.0's private interface and
        frees every unused region when it has to free any."""
        if size == 0 or self._memory_size + size > self._max_memory_size:
            return self._m.collect()
        return 0

    def _prune_files(self):
        """Forget files no cursor uses once many are known, oldest first."""
        fdict = self._fdict
        for key, f in list(fdict.items()):
            if len(fdict) < _MAX_FILES_KEPT // 2:
                break
            if f.users() == 0:
                fdict.pop(key, None)

    #}END internal methods

    #{ Interface
    def make_cursor(self, path_or_fd):
        """
        :return: a cursor pointing to the given path or file descriptor.
            It can be used to map new regions of the file into memory

        **Note:** if a file descriptor is given, it is duplicated when the first
        window is mapped: you may close yours afterwards. A descriptor number
        that now refers to another file gets a new entry.

        **Note:** the same file reached through several paths or descriptors
        shares its mapped regions.

        **Note:** a path is opened once and then cached. Once a new window
        of it raised OSError(ESTALE) (the file was replaced by another one
        under the same name, or shrank), the cache forgets it: cursors made
        before keep the old file (its mapped windows, or ESTALE), never the
        new one's bytes, and cursors made after read the file at the path."""
        fdict = self._fdict
        f = fdict.get(path_or_fd)
        ident = None
        if isinstance(path_or_fd, int):
            if not -2 ** 31 <= path_or_fd < 2 ** 31:
                # os.fstat would raise OverflowError
                raise ValueError("smmap: file descriptor %r is out of range" % (path_or_fd,))
            ident = _fd_identity(path_or_fd)
            if f is not None and ident is not None and f.ident != ident:
                f = None
        elif f is not None and f.stale:
            # its path names another file now: open the one there
            f = None
        if f is None:
            f = _csmmap.File(self._m, path_or_fd)
            f.ident = ident
            if len(fdict) >= _MAX_FILES_KEPT:
                self._prune_files()
            fdict[path_or_fd] = f
        return self.WindowCursorCls(self, f)

    def _forget_stale_file(self, f):
        """Called by the extension when the path-opened File f gave ESTALE:
        stop handing it out; its cursors keep it alive until they go."""
        key = f.path_or_fd()
        if self._fdict.get(key) is f:
            del self._fdict[key]

    def collect(self):
        """Collect all available free-to-collect mapped regions
        :return: Amount of freed handles"""
        return self._m.collect()

    def num_file_handles(self):
        """:return: amount of file handles in use. Each mapped region uses one file handle"""
        return self._m.counts()[1]

    def num_open_files(self):
        """Amount of opened files in the system"""
        return self._m.counts()[2]

    def window_size(self):
        """:return: size of each window when allocating new regions"""
        return self._window_size

    def mapped_memory_size(self):
        """:return: amount of bytes currently mapped in total"""
        return self._m.counts()[0]

    def max_file_handles(self):
        """:return: maximium amount of handles we may have opened"""
        return self._max_handle_count

    def max_mapped_memory_size(self):
        """:return: maximum amount of memory we may allocate"""
        return self._max_memory_size

    def stats(self):
        """:return: a dict of the library's counters (mapped_bytes, regions,
        files_mapped, open_fds, maps, unmaps, evictions, reuses, ...)"""
        return self._m.stats()

    #} END interface

    #{ Special Purpose Interface

    def force_map_handle_removal_win(self, base_path):
        """ONLY AVAILABLE ON WINDOWS
        On windows removing files is not allowed if anybody still has it opened.
        This invalidates every cursor of a file whose path starts with base_path,
        unmaps the file's regions and closes its descriptor, and forgets the file,
        so the file can be deleted. A region still exported as a live buffer
        (memoryview or map()) is never unmapped; then nothing is released.
        :return: Amount of closed handles (regions)

        **Note:** does nothing on non-windows platforms"""
        if not _IS_WINDOWS:
            return
        return self._force_map_handle_removal(base_path)

    def _force_map_handle_removal(self, base_path):
        num_closed = self._m.release_path(base_path)
        for key in list(self._fdict):
            if isinstance(key, str) and key.startswith(base_path):
                self._fdict.pop(key, None)
        return num_closed
    #} END special purpose interface


class SlidingWindowMapManager(StaticWindowMapManager):

    """Maintains a list of ranges of mapped memory regions in one or more files and allows to easily
    obtain additional regions assuring there is no overlap.
    Once a certain memory limit is reached globally, or if there cannot be more open file handles
    which result from each mmap call, the least recently used, and currently unused mapped regions
    are unloaded automatically.

    **Note:** thread-safe: share the manager, not cursors."""

    __slots__ = tuple()

    def __init__(self, window_size=-1, max_memory_size=0, max_open_handles=sys.maxsize):
        """Adjusts the default window size to -1"""
        super().__init__(window_size, max_memory_size, max_open_handles)
