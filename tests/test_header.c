/*
 * test_header.c - the public header on its own, compiled as strict C99 and
 * (as test_header.cpp, the same file) as C++: it must need nothing else and
 * its inline functions must compile in both.
 */
#include "smmap.h"

int main(void)
{
    smmap_cursor c;
    smmap_cursor_init(&c, 0);
    if (smmap_cursor_includes(&c, 0))
        return 1;
    if (smmap_cursor_at(&c, 0, 1) != 0 || c.error != -EINVAL)
        return 1;
    return smmap_strerror(-ESTALE)[0] == 't' ? 0 : 1;
}
