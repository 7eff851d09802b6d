"""Module with a simple buffer implementation using the memory manager.

SlidingWindowMapBuffer is implemented in C (smmap._csmmap). Unlike smmap 5.0
it indexes relative to the offset it was begun at, as its documentation
always said: buf[0] is the byte at that offset. Integer indexing gives an
int, slicing gives bytes (buf[:0] is empty); an index outside
[0, len(buf)) raises IndexError, so iteration ends.
"""
from ._csmmap import SlidingWindowMapBuffer

__all__ = ["SlidingWindowMapBuffer"]
