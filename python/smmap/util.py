"""Utilities of the smmap package: alignment helpers and the classes that
describe windows, regions and region lists (smmap 5.0's smmap.util).

MapWindow and align_to_mmap are plain arithmetic. MapRegion maps through the
C extension instead of Python's mmap module: a standalone MapRegion pins its
bytes in a small private manager; the MapRegion a cursor reports
(WindowCursor.region()) describes a region of the cursor's manager without
pinning it.
"""
import os
import sys

from mmap import ALLOCATIONGRANULARITY

from . import _csmmap

__all__ = ["align_to_mmap", "is_64_bit",
           "MapWindow", "MapRegion", "MapRegionList", "ALLOCATIONGRANULARITY"]

#{ Utilities


def align_to_mmap(num, round_up):
    """
    Align the given integer number to the closest page offset, which usually is 4096 bytes.

    :param round_up: if True, the next higher multiple of page size is used, otherwise
        the lower page_size will be used (i.e. if True, 1 becomes 4096, otherwise it becomes 0)
    :return: num rounded to closest page"""
    below = num - num % ALLOCATIONGRANULARITY
    if round_up and below != num:
        return below + ALLOCATIONGRANULARITY
    return below


def is_64_bit():
    """:return: True if the system is 64 bit. Otherwise it can be assumed to be 32 bit"""
    return sys.maxsize > 0xFFFFFFFF

#}END utilities


#{ Utility Classes

class MapWindow:

    """Utility type which is used to snap windows towards each other, and to adjust their size"""
    __slots__ = ('ofs', 'size')

    def __init__(self, offset, size):
        self.ofs = offset
        self.size = size

    def __repr__(self):
        return "MapWindow(%i, %i)" % (self.ofs, self.size)

    @classmethod
    def from_region(cls, region):
        """:return: new window from a region"""
        return cls(region.ofs_begin(), region.size())

    def ofs_end(self):
        return self.ofs + self.size

    def align(self):
        """Assures the previous window area is contained in the new one"""
        start = align_to_mmap(self.ofs, False)
        end = self.ofs + self.size
        self.ofs = start
        self.size = align_to_mmap(end - start, True)

    def extend_left_to(self, window, max_size):
        """Adjust the offset to start where the given window on our left ends if possible,
        but don't make yourself larger than max_size.
        The resize will assure that the new window still contains the old window area"""
        gap = self.ofs - window.ofs_end()
        # grow by the gap, minus whatever would take us past max_size
        grow = gap - max(gap + self.size - max_size, 0)
        self.ofs -= grow
        self.size += grow

    def extend_right_to(self, window, max_size):
        """Adjust the size to make our window end where the right window begins, but don't
        get larger than max_size"""
        self.size = min(window.ofs - self.ofs, max_size)


_standalone = None

# A standalone region's size 0: everything from its offset (clipped to EOF).
_TO_EOF = 2 ** 64 - 1


def _standalone_manager():
    """The private manager standalone MapRegions map through: one-page
    windows, so a region maps what it was asked for, not more."""
    global _standalone
    if _standalone is None:
        _standalone = _csmmap.Manager(ALLOCATIONGRANULARITY,
                                      _csmmap.options_default()["max_mapped"])
    return _standalone


class MapRegion:

    """Defines a mapped region of memory, aligned to pagesizes

    **Note:** deallocates used region automatically on destruction"""
    __slots__ = [
        '_b',     # beginning of mapping
        '_mf',    # the mapped bytes (a RegionMap, closed once released), or None until needed
        '_uc',    # usage count of a standalone region
        '_size',  # size of the mapping
        '_file',  # the cursor's File a reported region belongs to, else None
        '_addr',  # the region's address in memory: its identity
        '__weakref__'
    ]

    def __init__(self, path_or_fd, ofs, size, flags=0):
        """Initialize a region, allocate the memory map
        :param path_or_fd: path to the file to map, or the opened file descriptor
        :param ofs: **aligned** offset into the file to be mapped
        :param size: if size is larger then the file on disk, the whole file will be
            allocated the the size automatically adjusted. 0 maps from ofs to the
            end of the file (mmap's length 0, which smmap passed on).
            A negative ofs or size raises ValueError naming it.
        :param flags: accepted for compatibility; files are opened read-only
        :raise Exception: if no memory can be allocated"""
        self._b = ofs
        self._uc = 0
        self._file = None
        self._addr = None
        f = _csmmap.File(_standalone_manager(), path_or_fd)
        self._mf = f.map_range(ofs, size if size != 0 else _TO_EOF)
        self._size = len(self._mf)
        self.increment_client_count()

    @classmethod
    def _reported(cls, file, addr, begin, size):
        """The region a cursor holds, described without pinning it."""
        self = cls.__new__(cls)
        self._b = begin
        self._size = size
        self._uc = 0
        self._mf = None
        self._file = file
        self._addr = addr
        return self

    def __repr__(self):
        return "MapRegion<%i, %i>" % (self._b, self.size())

    def __eq__(self, other):
        if not isinstance(other, MapRegion):
            return NotImplemented
        if self._addr is None or other._addr is None:
            return self is other
        return (self._addr, self._b, self._size) == (other._addr, other._b, other._size)

    def __hash__(self):
        if self._addr is None:
            return id(self)
        return hash((self._addr, self._b, self._size))

    #{ Interface

    def buffer(self):
        """:return: a buffer containing the memory"""
        return self.map()

    def map(self):
        """:return: a memory map containing the memory"""
        if self._mf is None:
            self._mf = self._file.map_range(self._b, self._size)
        return self._mf

    def ofs_begin(self):
        """:return: absolute byte offset to the first byte of the mapping"""
        return self._b

    def size(self):
        """:return: total size of the mapped region in bytes"""
        return self._size

    def ofs_end(self):
        """:return: Absolute offset to one byte beyond the mapping into the file"""
        return self._b + self._size

    def includes_ofs(self, ofs):
        """:return: True if the given offset can be read in our mapped region"""
        return self._b <= ofs < self._b + self._size

    def client_count(self):
        """:return: number of clients currently using this region (for a region
        a cursor reported: the manager plus every cursor holding it)"""
        if self._file is not None:
            return self._file.region_clients(self._addr)
        return self._uc

    def increment_client_count(self, ofs=1):
        """Adjust the usage count by the given positive or negative offset.
        If usage count equals 0, we will auto-release our resources
        :return: True if we released resources, False otherwise. In the latter case, we can still be used"""
        self._uc += ofs
        assert self._uc > -1, "Increments must match decrements, usage counter negative: %i" % self._uc
        if self._uc == 0:
            self.release()
            return True
        return False

    def release(self):
        """Release the mapping: it is unpinned once no exported buffer uses it.
        Afterwards map() and buffer() return the closed map, whose use raises
        ValueError("mmap closed or invalid"), as smmap's closed mmap did. A
        region a cursor reported is only a description: the cursor keeps its
        window."""
        if self._mf is None:
            self._mf = _csmmap.RegionMap()
        else:
            self._mf.close()

    #} END interface


class MapRegionList(list):

    """List of MapRegion instances associating a path with a list of regions."""
    __slots__ = ('_path_or_fd', '_file_size')

    def __new__(cls, path):
        return super().__new__(cls)

    def __init__(self, path_or_fd):
        self._path_or_fd = path_or_fd
        self._file_size = None

    def path_or_fd(self):
        """:return: path or file descriptor we are attached to"""
        return self._path_or_fd

    def file_size(self):
        """:return: size of file we manager"""
        if self._file_size is None:
            if isinstance(self._path_or_fd, int):
                self._file_size = os.fstat(self._path_or_fd).st_size
            else:
                self._file_size = os.stat(self._path_or_fd).st_size
        return self._file_size

#} END utility classes
