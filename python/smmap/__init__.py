"""Initialize the smmap package: smmap 5.0's API, running on libsmmap.

The classes behave like those of the pure-Python smmap 5.0 (same modules,
names, defaults and return values); the work is done by the C extension
smmap._csmmap, which compiles the library in.
"""

__author__ = "Sebastian Thiel"
__contact__ = "byronimo@gmail.com"
__homepage__ = "https://github.com/gitpython-developers/smmap"
version_info = (5, 0, 1)
__version__ = '.'.join(str(i) for i in version_info)

# make everything available in root package for convenience
from .mman import *  # noqa: E402,F401,F403
from .buf import *   # noqa: E402,F401,F403
