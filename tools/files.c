/*
 * files.c - how the tool gets at a file: through the library (open, the
 * manager, their errors), or, where the library's view of a file does not
 * hold, outside it: the plain reads of streamed files (/proc, sysfs, pipes,
 * character devices) and of `stat --verify`, which exists to check the
 * library against the operating system.
 */
#include "tool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#ifdef _WIN32
#  include <fcntl.h>
#  include <io.h>
#else
#  include <fcntl.h>
#  include <unistd.h>
#endif
#ifdef __linux__
#  include <sys/vfs.h>
#endif

/* "-" is standard input: opened from its descriptor, which the library
 * checks is a regular file (a pipe gives -EINVAL). */
int tool_open_file(smmap_manager *m, const char *path, smmap_file **out)
{
    if (strcmp(path, "-") == 0)
        return smmap_file_open_fd(m, 0, out);
    return smmap_file_open(m, path, out);
}

void tool_open_error(const char *path, int err)
{
    if (err == -EINVAL)
        fprintf(stderr, "smmap: %s: %s (not a regular file)\n", path,
                smmap_strerror(err));
    else
        tool_file_error(path, err);
}

int tool_create_manager(const tool_options *t, smmap_manager **out)
{
    int err = smmap_manager_new(out, &t->manager);
    if (err != 0) {
        /* The tool checked what it can; what is left for -EINVAL is the
         * library rounding the window up to its allocation granularity. */
        fprintf(stderr, "smmap: %s: cannot create the manager: %s%s%s%s\n",
                t->cmd_name, smmap_strerror(err),
                err == -EINVAL ? " (is --max-mapped at least the window "
                                 "rounded up to " : "",
                err == -EINVAL ? tool_granule_text : "",
                err == -EINVAL ? "?)" : "");
        return err == -EINVAL ? TOOL_EXIT_USAGE : TOOL_EXIT_FILE_ERROR;
    }
    return 0;
}

/* ---- streams ------------------------------------------------------------- */

static int stat_path(const char *path, struct stat *st)
{
#ifdef _WIN32
    /* The CRT's stat() knows only files and directories by name; fstat()
     * of an open descriptor asks GetFileType (a character device: NUL,
     * or /dev/null under wine). */
    int fd, r;
    if (strcmp(path, "-") == 0)
        return fstat(0, st);
    fd = _open(path, _O_RDONLY | _O_BINARY);
    if (fd < 0)
        return stat(path, st);
    r = fstat(fd, st);
    _close(fd);
    return r;
#else
    return strcmp(path, "-") == 0 ? fstat(0, st) : stat(path, st);
#endif
}

#ifdef __linux__
/* The kernel's pseudo file systems (linux/magic.h): their files' sizes are
 * placeholders (0 in proc and cgroup, 4096 for a sysfs attribute), and
 * their bytes are made at each read. */
static const struct pseudo_fs {
    unsigned long magic;
    const char *reason;
} pseudo_file_systems[] = {
    {0x9fa0UL, "a proc file: its size is not its length"},
    {0x62656572UL, "a sysfs file: its size is not its length"},
    {0x64626720UL, "a debugfs file: its size is not its length"},
    {0x74726163UL, "a tracefs file: its size is not its length"},
    {0x73636673UL, "a securityfs file: its size is not its length"},
    {0x62656570UL, "a configfs file: its size is not its length"},
    {0x27e0ebUL, "a cgroup file: its size is not its length"},
    {0x63677270UL, "a cgroup2 file: its size is not its length"},
};

static const char *pseudo_fs_reason(const char *path)
{
    struct statfs fs;
    size_t i;
    int r = strcmp(path, "-") == 0 ? fstatfs(0, &fs) : statfs(path, &fs);
    if (r != 0)
        return NULL;
    for (i = 0; i < sizeof(pseudo_file_systems) /
                        sizeof(pseudo_file_systems[0]); i++)
        if ((unsigned long)fs.f_type == pseudo_file_systems[i].magic)
            return pseudo_file_systems[i].reason;
    return NULL;
}
#endif

const char tool_stream_size_zero[] = "size 0";

const char *tool_stream_reason(const char *path, int open_err,
                               smmap_file *f)
{
    struct stat st;

    if (open_err == -EINVAL) {
        /* The library maps regular files only. A directory stays an error
         * (it has no bytes to read); anything else that read(2) takes is a
         * stream: a pipe, a FIFO, a character device. */
        if (stat_path(path, &st) != 0 || S_ISREG(st.st_mode) ||
            S_ISDIR(st.st_mode))
            return NULL;
        return "not a regular file";
    }
    if (open_err != 0)
        return NULL;
#ifdef __linux__
    {
        const char *pseudo = pseudo_fs_reason(path);
        if (pseudo != NULL)
            return pseudo;
    }
#endif
    return smmap_file_size(f) == 0 ? tool_stream_size_zero : NULL;
}

/* ---- plain reads --------------------------------------------------------- */

#ifdef _WIN32
int tool_plain_open(const char *path)
{
    return strcmp(path, "-") == 0 ? 0 : _open(path, _O_RDONLY | _O_BINARY);
}

void tool_plain_close(int fd)
{
    if (fd > 0)
        _close(fd);
}

int64_t tool_plain_pread(int fd, unsigned char *buf, size_t len,
                         uint64_t offset)
{
    if (_lseeki64(fd, (__int64)offset, SEEK_SET) < 0)
        return -errno;
    return tool_plain_read(fd, buf, len, NULL);
}

int64_t tool_plain_read(int fd, unsigned char *buf, size_t len,
                        const volatile sig_atomic_t *stop)
{
    size_t done = 0;
    (void)stop; /* a console Ctrl-C does not interrupt _read */
    if (fd == 0)
        _setmode(0, _O_BINARY);
    while (done < len) {
        size_t chunk = len - done > 1u << 30 ? 1u << 30 : len - done;
        int n = _read(fd, buf + done, (unsigned)chunk);
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (int64_t)done;
}

int64_t tool_plain_tell(int fd)
{
    return (int64_t)_lseeki64(fd, 0, SEEK_CUR);
}

int tool_plain_seek(int fd, uint64_t pos)
{
    if (pos > (uint64_t)INT64_MAX)
        return -EINVAL;
    return _lseeki64(fd, (__int64)pos, SEEK_SET) < 0 ? -errno : 0;
}

int tool_plain_write_stdout(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    _setmode(1, _O_BINARY);
    while (len > 0) {
        unsigned chunk = len > 1u << 30 ? 1u << 30 : (unsigned)len;
        int n = _write(1, p, chunk);
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
#else
int64_t tool_plain_tell(int fd)
{
    return (int64_t)lseek(fd, 0, SEEK_CUR);
}

int tool_plain_seek(int fd, uint64_t pos)
{
    if (pos > (uint64_t)INT64_MAX)
        return -EINVAL;
    return lseek(fd, (off_t)pos, SEEK_SET) < 0 ? -errno : 0;
}

int tool_plain_write_stdout(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = write(1, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int tool_plain_open(const char *path)
{
    return strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
}

void tool_plain_close(int fd)
{
    if (fd > 0)
        close(fd);
}

int64_t tool_plain_pread(int fd, unsigned char *buf, size_t len,
                         uint64_t offset)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done,
                          (off_t)(offset + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (int64_t)done;
}

int64_t tool_plain_read(int fd, unsigned char *buf, size_t len,
                        const volatile sig_atomic_t *stop)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, buf + done, len - done);
        if (n < 0) {
            if (errno != EINTR)
                return -errno;
            /* A signal the caller stops on: what was read so far counts. */
            if (stop != NULL && *stop)
                return done > 0 ? (int64_t)done : -EINTR;
            continue;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (int64_t)done;
}
#endif
