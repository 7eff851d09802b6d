/*
 * error.c - text for the error codes. The library's own table, so the text
 * is the same on every platform and the call is thread-safe.
 */
#include "smmap_int.h"

typedef struct error_text {
    int code;
    const char *text;
} error_text;

static const error_text texts[] = {
    {0, "success"},
    {EINVAL, "invalid argument"},
    {ENOENT, "no such file or directory"},
    {EISDIR, "is a directory"},
    {EACCES, "permission denied"},
    {EBADF, "bad file descriptor"},
    {ERANGE, "offset out of range (at or past the end of the file)"},
    {ENOMEM, "out of memory or address space, or over the mapped budget"},
    {EMFILE, "too many open files or mappings"},
    {ENFILE, "too many open files in the system"},
    {EBUSY, "a cursor still holds a region of the file"},
    {ESTALE, "the file changed on disk (replaced, truncated or removed)"},
    {EIO, "input/output error"},
    {EINTR, "interrupted system call"},
    {ENODEV, "the file system does not support memory mapping"},
    {EOVERFLOW, "offset too large for this platform"},
    {EPERM, "operation not permitted"},
    {ENOTDIR, "a component of the path is not a directory"},
    {ENAMETOOLONG, "file name too long"},
    {ELOOP, "too many levels of symbolic links"},
    {ENXIO, "no such device or address"},
    {EAGAIN, "resource temporarily unavailable"},
};

const char *smmap_strerror(int err)
{
    size_t i;
    /* Compared, not negated: -INT_MIN does not exist. */
    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (texts[i].code == err || -texts[i].code == err)
            return texts[i].text;
    return "unknown error";
}
