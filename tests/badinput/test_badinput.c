/*
 * test_badinput.c - the bad input table (issue 3, item 6): every case gives
 * its documented error (include/smmap.h), leaks nothing (allocations and
 * descriptors counted through the OS table) and leaves the manager usable
 * (a good file opens and reads right afterwards).
 *
 * Cases that could hang (a FIFO) or need another user (an unreadable file,
 * since root reads everything) run in a child process with an alarm.
 *
 * Some inputs exist on one system only. POSIX only: a FIFO, pipe and socket
 * descriptors, a /proc file, a file unreadable by mode bits. Windows has its
 * counterparts instead: a named pipe, an anonymous pipe's descriptor, the
 * NUL device, a file another handle holds without sharing reads, a path
 * that is not UTF-8. Every case asserts its exact error code on the system
 * it runs on; the table lists only the cases of this system, and the run
 * prints how many ran.
 */
#include "smmap_int.h"
#include "../portable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

static int failures, checks;
static const char *current = "";

#define EXPECT_EQ(actual, expected)                                          \
    do {                                                                     \
        long long a_ = (long long)(actual), e_ = (long long)(expected);      \
        checks++;                                                            \
        if (a_ != e_) {                                                      \
            fprintf(stderr, "%s:%d: [%s] %s is %lld, expected %s = %lld\n",  \
                    __FILE__, __LINE__, current, #actual, a_, #expected,     \
                    e_);                                                     \
            failures++;                                                      \
        }                                                                    \
    } while (0)

/* ---------------------------------------- leak accounting through the table */

static long live_allocs, live_fds;

static int w_open(const char *path, smmap_os_fd *out)
{
    int err = smmap__os_default.open_ro(path, out);
    live_fds += err == 0;
    return err;
}

static int w_dup(int fd, smmap_os_fd *out)
{
    int err = smmap__os_default.dup_fd(fd, out);
    live_fds += err == 0;
    return err;
}

static int w_close(smmap_os_fd fd)
{
    live_fds--;
    return smmap__os_default.close(fd);
}

static void *w_malloc(size_t n)
{
    void *p = smmap__os_default.malloc(n);
    live_allocs += p != NULL;
    return p;
}

static void w_free(void *p)
{
    live_allocs -= p != NULL;
    smmap__os_default.free(p);
}

/* ------------------------------------------------------------------ files */

static char dir[256], good[320], empty[320], subdir[320];
#ifndef _WIN32
static char fifo[320], unreadable[320];
#endif
static uint64_t page, good_size;

/* The byte at off of the good file (and, salted, of the changing ones). */
static unsigned char good_byte(uint64_t off, unsigned char salt)
{
    return (unsigned char)(off * 7 + 3 + salt);
}

static int make_files(void)
{
    unsigned char *buf;
    size_t i;
    /* The library's granularity: the page on POSIX, 64 KiB on Windows. The
     * good file spans three of them and a bit. */
    page = smmap__os_default.granularity();
    good_size = 3 * page + 5;
    if (port_make_temp_dir(dir, sizeof(dir), "smmap-bad") != 0)
        return -1;
#ifndef _WIN32
    chmod(dir, 0755); /* the unreadable case runs as another user */
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    snprintf(unreadable, sizeof(unreadable), "%s/unreadable", dir);
#endif
    snprintf(good, sizeof(good), "%s" PORT_SEP "good", dir);
    snprintf(empty, sizeof(empty), "%s" PORT_SEP "empty", dir);
    snprintf(subdir, sizeof(subdir), "%s" PORT_SEP "subdir", dir);
    buf = malloc((size_t)good_size);
    if (buf == NULL)
        return -1;
    for (i = 0; i < good_size; i++)
        buf[i] = good_byte(i, 0);
    if (port_write_file(good, buf, (size_t)good_size) != 0 ||
        port_write_file(empty, buf, 0) != 0 || port_make_dir(subdir) != 0) {
        free(buf);
        return -1;
    }
#ifndef _WIN32
    {
        int fd = open(unreadable, O_WRONLY | O_CREAT | O_TRUNC, 0000);
        if (fd < 0 || write(fd, buf, 10) != 10) {
            free(buf);
            return -1;
        }
        close(fd);
    }
    if (mkfifo(fifo, 0644) != 0) {
        free(buf);
        return -1;
    }
#endif
    free(buf);
    return 0;
}

static void remove_files(void)
{
    port_remove_file(good);
    port_remove_file(empty);
#ifndef _WIN32
    port_remove_file(fifo);
    port_remove_file(unreadable);
#endif
    port_remove_dir(subdir);
    port_remove_dir(dir);
}

static smmap_manager *manager;

/* The manager still works: a good file opens, maps and reads, and closing
 * it leaves the counts where they were. */
static void check_usable(void)
{
    smmap_file *f = NULL;
    smmap_cursor c;
    smmap_stats before, after;
    unsigned char b[4];
    smmap_manager_stats(manager, &before);
    EXPECT_EQ(smmap_file_open(manager, good, &f), 0);
    if (f == NULL)
        return;
    smmap_cursor_init(&c, f);
    EXPECT_EQ(smmap_cursor_use(&c, page + 1, 2), 0);
    if (c.data != NULL)
        EXPECT_EQ(c.data[page + 1 - c.begin], good_byte(page + 1, 0));
    EXPECT_EQ(smmap_read(&c, 5, b, 4), 4);
    EXPECT_EQ(b[0], good_byte(5, 0));
    EXPECT_EQ(b[3], good_byte(8, 0));
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_stats(manager, &after);
    EXPECT_EQ(after.files, before.files);
    EXPECT_EQ(after.open_fds, before.open_fds);
    EXPECT_EQ(after.regions, before.regions);
}

/* ------------------------------------------------------------------ cases */

static void case_nonexistent(void)
{
    smmap_file *f = (smmap_file *)1;
    char path[400];
    snprintf(path, sizeof(path), "%s" PORT_SEP "does-not-exist", dir);
    EXPECT_EQ(smmap_file_open(manager, path, &f), -ENOENT);
    EXPECT_EQ(f == NULL, 1);
    snprintf(path, sizeof(path), "%s" PORT_SEP "no-such-dir" PORT_SEP "x",
             dir);
    EXPECT_EQ(smmap_file_open(manager, path, &f), -ENOENT);
    /* A file used as a directory: ENOTDIR on POSIX; Windows says the path
     * is not found (ERROR_PATH_NOT_FOUND). */
    snprintf(path, sizeof(path), "%s" PORT_SEP "good" PORT_SEP "below-a-file",
             dir);
#ifdef _WIN32
    EXPECT_EQ(smmap_file_open(manager, path, &f), -ENOENT);
#else
    EXPECT_EQ(smmap_file_open(manager, path, &f), -ENOTDIR);
#endif
    EXPECT_EQ(smmap_file_open(manager, "", &f), -ENOENT);
    EXPECT_EQ(f == NULL, 1);
}

static void case_directory(void)
{
    smmap_file *f = (smmap_file *)1;
    int fd;
    EXPECT_EQ(smmap_file_open(manager, subdir, &f), -EISDIR);
    EXPECT_EQ(f == NULL, 1);
#ifdef _WIN32
    {
        /* The C runtime does not open directories: give a directory handle
         * a descriptor of its own. */
        wchar_t wide[400];
        HANDLE h;
        EXPECT_EQ(port_wide(subdir, wide, 400), 0);
        h = CreateFileW(wide, GENERIC_READ,
                        FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                        NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
        EXPECT_EQ(h != INVALID_HANDLE_VALUE, 1);
        fd = _open_osfhandle((intptr_t)h, _O_RDONLY);
        EXPECT_EQ(fd >= 0, 1);
    }
#else
    fd = open(subdir, O_RDONLY);
#endif
    f = (smmap_file *)1;
    EXPECT_EQ(smmap_file_open_fd(manager, fd, &f), -EISDIR);
    EXPECT_EQ(f == NULL, 1);
    port_close(fd);
}

#ifndef _WIN32
/* In a child with an alarm: opening a FIFO must not wait for a writer. */
static void case_fifo(void)
{
    pid_t pid;
    int status;
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        smmap_file *f = (smmap_file *)1;
        int err;
        alarm(10);
        err = smmap_file_open(manager, fifo, &f);
        _exit(err == -EINVAL && f == NULL && live_fds == 0 ? 0 : 1);
    }
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "[%s] the child was killed by signal %d (SIGALRM=%d: "
                "open of a FIFO blocked)\n", current, WTERMSIG(status),
                SIGALRM);
        failures++;
    } else {
        EXPECT_EQ(WEXITSTATUS(status), 0);
    }
}

static void case_pipe_and_socket_fd(void)
{
    smmap_file *f = (smmap_file *)1;
    int p[2], s[2];
    EXPECT_EQ(pipe(p), 0);
    EXPECT_EQ(smmap_file_open_fd(manager, p[0], &f), -EINVAL);
    EXPECT_EQ(f == NULL, 1);
    close(p[0]);
    close(p[1]);
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    EXPECT_EQ(smmap_file_open_fd(manager, s[0], &f), -EINVAL);
    close(s[0]);
    close(s[1]);
}

static void case_proc_size_zero(void)
{
    smmap_file *f = NULL;
    smmap_cursor c;
    unsigned char b[8];
    /* A regular file whose size is 0 although it has contents: the size is
     * taken at open, so it reads as empty. */
    EXPECT_EQ(smmap_file_open(manager, "/proc/self/status", &f), 0);
    if (f == NULL)
        return;
    EXPECT_EQ(smmap_file_size(f), 0);
    smmap_cursor_init(&c, f);
    EXPECT_EQ(smmap_cursor_use(&c, 0, 0), -ERANGE);
    EXPECT_EQ(c.data == NULL, 1);
    EXPECT_EQ(smmap_read(&c, 0, b, sizeof(b)), 0);
    EXPECT_EQ(smmap_cursor_at(&c, 0, 1) == NULL, 1);
    EXPECT_EQ(c.error, -ERANGE);
    smmap_file_close(f);
}
#endif

static void case_empty_file(void)
{
    smmap_file *f = NULL;
    smmap_cursor c;
    smmap_stats st;
    unsigned char b[8];
    int fd;
    EXPECT_EQ(smmap_file_open(manager, empty, &f), 0);
    if (f == NULL)
        return;
    EXPECT_EQ(smmap_file_size(f), 0);
    smmap_cursor_init(&c, f);
    EXPECT_EQ(smmap_cursor_use(&c, 0, 1), -ERANGE);
    EXPECT_EQ(c.error, -ERANGE);
    EXPECT_EQ(smmap_read(&c, 0, b, sizeof(b)), 0);
    smmap_manager_stats(manager, &st);
    EXPECT_EQ(st.regions, 0);
    smmap_file_close(f);
    fd = port_open_read(empty);
    EXPECT_EQ(smmap_file_open_fd(manager, fd, &f), 0);
    port_close(fd);
    smmap_cursor_init(&c, f);
    EXPECT_EQ(smmap_cursor_use(&c, 0, 0), -ERANGE);
    smmap_file_close(f);
}

#ifndef _WIN32
/* As an unprivileged user in a child: root would read the file anyway. */
static void case_unreadable(void)
{
    pid_t pid;
    int status;
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        smmap_file *f = (smmap_file *)1;
        int err;
        alarm(10);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        err = smmap_file_open(manager, unreadable, &f);
        _exit(err == -EACCES && f == NULL && live_fds == 0 ? 0 : 1);
    }
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status),
              0);
}
#endif

#ifdef _WIN32
/* A named pipe (the FIFO's counterpart): the open connects to a listening
 * instance at once, and the handle is no file: -EINVAL, nothing kept. */
static void case_named_pipe(void)
{
    wchar_t wide[128];
    char name[128];
    smmap_file *f = (smmap_file *)1;
    HANDLE server;
    snprintf(name, sizeof(name), "\\\\.\\pipe\\smmap-badinput-%lu",
             (unsigned long)GetCurrentProcessId());
    EXPECT_EQ(port_wide(name, wide, 128), 0);
    server = CreateNamedPipeW(wide, PIPE_ACCESS_DUPLEX,
                              PIPE_TYPE_BYTE | PIPE_WAIT, 4, 4096, 4096, 0,
                              NULL);
    EXPECT_EQ(server != INVALID_HANDLE_VALUE, 1);
    if (server == INVALID_HANDLE_VALUE)
        return;
    EXPECT_EQ(smmap_file_open(manager, name, &f), -EINVAL);
    EXPECT_EQ(f == NULL, 1);
    CloseHandle(server);
}

/* An anonymous pipe's C runtime descriptor (the pipe and socket case's
 * counterpart; Winsock sockets are no C runtime descriptors). */
static void case_pipe_fd(void)
{
    smmap_file *f = (smmap_file *)1;
    int p[2];
    EXPECT_EQ(_pipe(p, 4096, _O_BINARY), 0);
    EXPECT_EQ(smmap_file_open_fd(manager, p[0], &f), -EINVAL);
    EXPECT_EQ(f == NULL, 1);
    f = (smmap_file *)1;
    EXPECT_EQ(smmap_file_open_fd(manager, p[1], &f), -EINVAL);
    EXPECT_EQ(f == NULL, 1);
    _close(p[0]);
    _close(p[1]);
}

/* The NUL device (the /proc file's counterpart: a name that opens but is
 * no regular file): a character device, refused. */
static void case_nul_device(void)
{
    smmap_file *f = (smmap_file *)1;
    EXPECT_EQ(smmap_file_open(manager, "NUL", &f), -EINVAL);
    EXPECT_EQ(f == NULL, 1);
    f = (smmap_file *)1;
    EXPECT_EQ(smmap_file_open(manager, "\\\\.\\NUL", &f), -EINVAL);
    EXPECT_EQ(f == NULL, 1);
}

/* The unreadable file's counterpart: another handle holds the file without
 * FILE_SHARE_READ. The sharing violation is -EACCES (os_win32.c); once the
 * other handle is closed the file opens. */
static void case_sharing_violation(void)
{
    wchar_t wide[400];
    smmap_file *f = (smmap_file *)1;
    HANDLE exclusive;
    EXPECT_EQ(port_wide(good, wide, 400), 0);
    exclusive = CreateFileW(wide, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                            OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    EXPECT_EQ(exclusive != INVALID_HANDLE_VALUE, 1);
    if (exclusive == INVALID_HANDLE_VALUE)
        return;
    EXPECT_EQ(smmap_file_open(manager, good, &f), -EACCES);
    EXPECT_EQ(f == NULL, 1);
    CloseHandle(exclusive);
    EXPECT_EQ(smmap_file_open(manager, good, &f), 0);
    if (f != NULL)
        EXPECT_EQ(smmap_file_size(f), good_size);
    smmap_file_close(f);
}

/* A path that is not UTF-8 (a lone continuation byte, an overlong '/'):
 * refused, never converted into some other name. */
static void case_invalid_utf8(void)
{
    char path[400];
    smmap_file *f = (smmap_file *)1;
    snprintf(path, sizeof(path), "%s" PORT_SEP "bad-\x80-name", dir);
    EXPECT_EQ(smmap_file_open(manager, path, &f), -EINVAL);
    EXPECT_EQ(f == NULL, 1);
    f = (smmap_file *)1;
    snprintf(path, sizeof(path), "%s" PORT_SEP "overlong-\xC0\xAF", dir);
    EXPECT_EQ(smmap_file_open(manager, path, &f), -EINVAL);
    EXPECT_EQ(f == NULL, 1);
}
#endif

static void case_bad_descriptors(void)
{
    smmap_file *f = (smmap_file *)1;
    int fd = port_open_read(good);
    port_close(fd); /* a closed descriptor */
    EXPECT_EQ(smmap_file_open_fd(manager, fd, &f), -EBADF);
    EXPECT_EQ(f == NULL, 1);
    EXPECT_EQ(smmap_file_open_fd(manager, -1, &f), -EBADF);
    EXPECT_EQ(smmap_file_open_fd(manager, -12345, &f), -EBADF);
    EXPECT_EQ(smmap_file_open_fd(manager, 1 << 30, &f), -EBADF);
}

static void case_null_pointers(void)
{
    smmap_file *f = (smmap_file *)1, *good_file = NULL;
    smmap_cursor c;
    smmap_stats st;
    smmap_options o;
    unsigned char b[4];
    int fd;

    smmap_options_init(NULL);
    smmap_options_init(&o);
    EXPECT_EQ(smmap_manager_new(NULL, &o), -EINVAL);
    EXPECT_EQ(smmap_manager_new(NULL, NULL), -EINVAL);
    smmap_manager_free(NULL);
    EXPECT_EQ(smmap_manager_collect(NULL), 0);
    EXPECT_EQ(smmap_manager_release_path(NULL, dir), -EINVAL);
    EXPECT_EQ(smmap_manager_release_path(manager, NULL), -EINVAL);
    memset(&st, 0xff, sizeof(st));
    smmap_manager_stats(NULL, &st);
    EXPECT_EQ(st.regions, 0);
    EXPECT_EQ(st.maps, 0);
    smmap_manager_stats(manager, NULL);
    EXPECT_EQ(smmap_file_open(NULL, good, &f), -EINVAL);
    EXPECT_EQ(f == NULL, 1);
    f = (smmap_file *)1;
    EXPECT_EQ(smmap_file_open(manager, NULL, &f), -EINVAL);
    EXPECT_EQ(f == NULL, 1);
    EXPECT_EQ(smmap_file_open(manager, good, NULL), -EINVAL);
    fd = port_open_read(good);
    f = (smmap_file *)1;
    EXPECT_EQ(smmap_file_open_fd(NULL, fd, &f), -EINVAL);
    EXPECT_EQ(f == NULL, 1);
    EXPECT_EQ(smmap_file_open_fd(manager, fd, NULL), -EINVAL);
    port_close(fd);
    smmap_file_close(NULL);
    EXPECT_EQ(smmap_file_size(NULL), 0);
    smmap_cursor_init(NULL, NULL);
    EXPECT_EQ(smmap_cursor_use(NULL, 0, 1), -EINVAL);
    smmap_cursor_release(NULL);
    smmap_cursor_copy(NULL, NULL);
    EXPECT_EQ(smmap_read(NULL, 0, b, 1), -EINVAL);
    /* A cursor without a file. */
    smmap_cursor_init(&c, NULL);
    EXPECT_EQ(smmap_cursor_use(&c, 0, 1), -EINVAL);
    EXPECT_EQ(c.error, -EINVAL);
    EXPECT_EQ(smmap_cursor_at(&c, 0, 1) == NULL, 1);
    EXPECT_EQ(c.error, -EINVAL);
    EXPECT_EQ(smmap_read(&c, 0, b, 1), -EINVAL);
    smmap_cursor_release(&c);
    smmap_cursor_copy(&c, NULL);
    smmap_cursor_copy(NULL, &c);
    EXPECT_EQ(smmap_file_open(manager, good, &good_file), 0);
    if (good_file != NULL) {
        smmap_cursor_init(&c, good_file);
        EXPECT_EQ(smmap_read(&c, 0, NULL, 1), -EINVAL);
        EXPECT_EQ(c.error, -EINVAL);
        EXPECT_EQ(smmap_read(&c, 0, NULL, 0), 0);
        smmap_file_close(good_file);
    }
#ifdef SMMAP_NO_MMAP
    EXPECT_EQ(smmap_file_refresh(NULL), -EINVAL);
    EXPECT_EQ(smmap_file_advise(NULL, SMMAP_ADVICE_RANDOM), -EINVAL);
#endif
    EXPECT_EQ(smmap_strerror(0) != NULL, 1);
    EXPECT_EQ(smmap_strerror(-999999) != NULL, 1);
    EXPECT_EQ(smmap_strerror(INT32_MIN) != NULL, 1);
}

static void case_offsets(void)
{
    smmap_file *f = NULL;
    smmap_cursor c;
    unsigned char *b = malloc(good_size);
    smmap_stats st;
    EXPECT_EQ(smmap_file_open(manager, good, &f), 0);
    if (f == NULL || b == NULL) {
        free(b);
        return;
    }
    smmap_cursor_init(&c, f);
    /* offset UINT64_MAX */
    EXPECT_EQ(smmap_cursor_use(&c, UINT64_MAX, 1), -ERANGE);
    EXPECT_EQ(c.data == NULL, 1);
    EXPECT_EQ(smmap_read(&c, UINT64_MAX, b, 1), 0);
    EXPECT_EQ(smmap_cursor_at(&c, UINT64_MAX, 1) == NULL, 1);
    EXPECT_EQ(c.error, -ERANGE);
    EXPECT_EQ(smmap_cursor_use(&c, good_size, 0), -ERANGE);
    /* offset + size wraps around 2^64 */
    EXPECT_EQ(smmap_cursor_use(&c, 10, SIZE_MAX), 0);
    EXPECT_EQ(c.begin, 0);
    EXPECT_EQ(c.size, good_size);
    EXPECT_EQ(smmap_cursor_at(&c, 10, SIZE_MAX) == NULL, 1);
    EXPECT_EQ(c.error, -ERANGE);
    EXPECT_EQ(smmap_cursor_at(&c, UINT64_MAX - 2, 5) == NULL, 1);
    EXPECT_EQ(c.error, -ERANGE);
    EXPECT_EQ(smmap_cursor_at(&c, good_size - 2, 3) == NULL, 1);
    EXPECT_EQ(c.error, -ERANGE);
    EXPECT_EQ(smmap_read(&c, 10, b, SIZE_MAX), (long long)(good_size - 10));
    EXPECT_EQ(b[0], good_byte(10, 0));
    EXPECT_EQ(b[good_size - 11], good_byte(good_size - 1, 0));
    /* size SIZE_MAX from 0: the whole file in one region */
    EXPECT_EQ(smmap_cursor_use(&c, 0, SIZE_MAX), 0);
    EXPECT_EQ(c.size, good_size);
    if (c.data != NULL)
        EXPECT_EQ(c.data[good_size - 1], good_byte(good_size - 1, 0));
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_stats(manager, &st);
    EXPECT_EQ(st.regions, 0);
    free(b);
}

static void case_contradictory_options(void)
{
    smmap_manager *m = (smmap_manager *)1;
    smmap_options o;
    smmap_options_init(&o);
    o.window_size = 8 * page;
    o.max_mapped = 4 * page; /* less than one window */
    EXPECT_EQ(smmap_manager_new(&m, &o), -EINVAL);
    EXPECT_EQ(m == NULL, 1);
    smmap_options_init(&o);
    o.window_size = 4 * page + 1; /* rounds up to 5 pages... */
    o.max_mapped = 5 * page - 1;  /* ...which this cannot hold */
    EXPECT_EQ(smmap_manager_new(&m, &o), -EINVAL);
    smmap_options_init(&o);
    o.max_mapped = 0;
    EXPECT_EQ(smmap_manager_new(&m, &o), -EINVAL);
    smmap_options_init(&o);
    o.max_regions = 0;
    EXPECT_EQ(smmap_manager_new(&m, &o), -EINVAL);
    smmap_options_init(&o);
    o.max_open_files = 0;
    EXPECT_EQ(smmap_manager_new(&m, &o), -EINVAL);
    smmap_options_init(&o);
    o.flags = 0x80000000u;
    EXPECT_EQ(smmap_manager_new(&m, &o), -EINVAL);
    smmap_options_init(&o);
    o.window_size = UINT64_MAX;
    o.max_mapped = UINT64_MAX;
    EXPECT_EQ(smmap_manager_new(&m, &o), -EINVAL);
#ifdef SMMAP_NO_MMAP
    smmap_options_init(&o);
    o.advice = 1000;
    EXPECT_EQ(smmap_manager_new(&m, &o), -EINVAL);
#endif
    /* Static mode with a tiny budget is not a contradiction: soft. */
    smmap_options_init(&o);
    o.window_size = 0;
    o.max_mapped = 1;
    EXPECT_EQ(smmap_manager_new(&m, &o), 0);
    smmap_manager_free(m);
}

static void case_release_path_busy(void)
{
    smmap_file *f = NULL;
    smmap_cursor c;
    smmap_stats st;
    EXPECT_EQ(smmap_file_open(manager, good, &f), 0);
    if (f == NULL)
        return;
    smmap_cursor_init(&c, f);
    EXPECT_EQ(smmap_cursor_use(&c, 0, 1), 0);
    EXPECT_EQ(smmap_manager_release_path(manager, dir), -EBUSY);
    smmap_manager_stats(manager, &st);
    EXPECT_EQ(st.regions, 1); /* nothing pinned was touched */
    if (c.data != NULL)
        EXPECT_EQ(c.data[0], good_byte(0, 0));
    EXPECT_EQ(smmap_manager_release_path(manager, "/no/such/prefix"), 0);
    smmap_cursor_release(&c);
    EXPECT_EQ(smmap_manager_release_path(manager, dir), 0);
    smmap_manager_stats(manager, &st);
    EXPECT_EQ(st.regions, 0);
    smmap_file_close(f);
}

/* Write size bytes of pattern to path (created or truncated). */
static int write_pattern(const char *path, size_t size, unsigned char salt)
{
    unsigned char *buf = malloc(size + 1);
    size_t i;
    int err;
    if (buf == NULL)
        return -ENOMEM;
    for (i = 0; i < size; i++)
        buf[i] = good_byte(i, salt);
    err = port_write_file(path, buf, size);
    free(buf);
    return err;
}

/*
 * A file whose descriptor the budget closed, changed on disk in exactly one
 * way before it is reopened: a replacement or a truncation must give
 * -ESTALE for a new window; an unchanged file, or one rewritten in place,
 * must reopen. kind 0: unchanged; 1: replaced by another inode (same size
 * and mtime); 2: shrunk in place (mtime restored); 3: rewritten in place
 * (same size and inode, new mtime).
 */
static void changed_while_closed(int kind, int expected)
{
    char victim[400], other[400], fresh[400];
    port_times before, later;
    smmap_manager *m = NULL;
    smmap_options o;
    smmap_file *v = NULL, *w = NULL;
    smmap_cursor c;
    smmap_stats st;
    size_t size = (size_t)(2 * page);

    snprintf(victim, sizeof(victim), "%s" PORT_SEP "victim", dir);
    snprintf(other, sizeof(other), "%s" PORT_SEP "other", dir);
    snprintf(fresh, sizeof(fresh), "%s" PORT_SEP "fresh", dir);
    EXPECT_EQ(write_pattern(victim, size, 0), 0);
    EXPECT_EQ(write_pattern(other, size, 1), 0);
    EXPECT_EQ(port_get_times(victim, &before), 0);
    smmap_options_init(&o);
    o.window_size = page;
    o.max_mapped = 4 * page;
    o.max_open_files = 1;
    EXPECT_EQ(smmap_manager_new(&m, &o), 0);
    if (m == NULL)
        return;
    EXPECT_EQ(smmap_file_open(m, victim, &v), 0);
    EXPECT_EQ(smmap_file_open(m, other, &w), 0); /* closes the victim's fd */
    smmap_manager_stats(m, &st);
    EXPECT_EQ(st.open_fds, 1);
    EXPECT_EQ(st.fd_closes, 1);
    switch (kind) {
    case 1:
        EXPECT_EQ(write_pattern(fresh, size, 0), 0);
        EXPECT_EQ(port_set_times(fresh, &before), 0);
        EXPECT_EQ(port_rename_over(fresh, victim), 0);
        break;
    case 2:
        EXPECT_EQ(port_truncate(victim, size - 1), 0);
        EXPECT_EQ(port_set_times(victim, &before), 0);
        break;
    case 3: {
        int fd = port_open_write(victim, 0);
        EXPECT_EQ(port_pwrite_all(fd, "x", 1, 0), 0);
        port_close(fd);
        later = before;
        port_times_later(&later);
        EXPECT_EQ(port_set_times(victim, &later), 0);
        break;
    }
    default:
        break;
    }
    smmap_cursor_init(&c, v);
    EXPECT_EQ(smmap_cursor_use(&c, page, 1), expected);
    if (expected == 0 && c.data != NULL)
        EXPECT_EQ(c.data[page - c.begin], good_byte(page, 0));
    smmap_cursor_release(&c);
    smmap_file_close(v);
    smmap_file_close(w);
    smmap_manager_stats(m, &st);
    EXPECT_EQ(st.open_fds, 0);
    smmap_manager_free(m);
    EXPECT_EQ(port_remove_file(victim), 0);
    EXPECT_EQ(port_remove_file(other), 0);
}

static void case_changed_while_closed(void)
{
    changed_while_closed(0, 0);
    changed_while_closed(1, -ESTALE);
    changed_while_closed(2, -ESTALE);
    /* The same version (inode and generation): git's freshening and
     * rewrites in place are read, as through a mapping. */
    changed_while_closed(3, 0);
}

/*
 * The other changes on disk the header names: a file shrunk while a handle
 * is open is another file to a new open (a fresh entry, the old handle
 * keeps its size and gets -ESTALE for new windows); refresh takes growth
 * of a descriptor-opened file, and gives -ESTALE for a path removed.
 */
static void case_changed_while_open(void)
{
    char path[400];
    smmap_manager *m = NULL;
    smmap_options o;
    smmap_file *old = NULL, *again = NULL, *byfd = NULL;
    smmap_cursor c;
    smmap_stats st;
    int fd;

    snprintf(path, sizeof(path), "%s" PORT_SEP "changing", dir);
    EXPECT_EQ(write_pattern(path, (size_t)(3 * page), 0), 0);
    smmap_options_init(&o);
    o.window_size = page;
    o.max_mapped = 8 * page;
    EXPECT_EQ(smmap_manager_new(&m, &o), 0);
    if (m == NULL)
        return;
    EXPECT_EQ(smmap_file_open(m, path, &old), 0);
    EXPECT_EQ(port_truncate(path, page), 0);
    EXPECT_EQ(smmap_file_open(m, path, &again), 0);
    smmap_manager_stats(m, &st);
    EXPECT_EQ(st.files, 2); /* the shrunk file is a new entry */
    EXPECT_EQ(smmap_file_size(old), 3 * page);
    EXPECT_EQ(smmap_file_size(again), page);
    smmap_cursor_init(&c, old);
    EXPECT_EQ(smmap_cursor_use(&c, 2 * page, 1), -ESTALE);
    smmap_cursor_init(&c, again);
    EXPECT_EQ(smmap_cursor_use(&c, 5, 1), 0);
    if (c.data != NULL)
        EXPECT_EQ(c.data[5 - c.begin], good_byte(5, 0));
    smmap_cursor_release(&c);
    smmap_file_close(old); /* its entry left the table already */
    smmap_file_close(again);
    /* Refresh of a descriptor-opened file that grew. */
    fd = port_open_read(path);
    EXPECT_EQ(smmap_file_open_fd(m, fd, &byfd), 0);
    port_close(fd);
    EXPECT_EQ(write_pattern(path, (size_t)(2 * page), 0), 0); /* same inode, grown */
    EXPECT_EQ(smmap_file_refresh(byfd), 0);
    EXPECT_EQ(smmap_file_size(byfd), 2 * page);
    smmap_file_close(byfd);
    /* Refresh of a path that was removed. */
    EXPECT_EQ(smmap_file_open(m, path, &old), 0);
#ifdef _WIN32
    {
        /* On Windows a file that a handle holds (smmap's, with
         * FILE_SHARE_DELETE) is only marked for deletion: Wine and older
         * Windows keep its name until the last handle closes, so a refresh
         * would find the same file. Let the descriptor budget close smmap's
         * handle first (another file opened with max_open_files 1): then
         * the delete removes the name everywhere. */
        smmap_file *other = NULL;
        smmap_file_close(old);
        old = NULL;
        smmap_manager_free(m);
        m = NULL;
        o.max_open_files = 1;
        EXPECT_EQ(smmap_manager_new(&m, &o), 0);
        if (m == NULL)
            return;
        EXPECT_EQ(smmap_file_open(m, path, &old), 0);
        EXPECT_EQ(smmap_file_open(m, good, &other), 0);
        smmap_manager_stats(m, &st);
        EXPECT_EQ(st.fd_closes, 1);
        EXPECT_EQ(st.open_fds, 1);
        EXPECT_EQ(port_remove_file(path), 0);
        EXPECT_EQ(smmap_file_refresh(old), -ESTALE);
        smmap_file_close(other);
    }
#else
    EXPECT_EQ(port_remove_file(path), 0);
    EXPECT_EQ(smmap_file_refresh(old), -ESTALE);
#endif
    smmap_file_close(old);
    smmap_manager_stats(m, &st);
    EXPECT_EQ(st.files, 0);
    EXPECT_EQ(st.open_fds, 0);
    smmap_manager_free(m);
}

typedef struct bad_case {
    const char *name;
    void (*fn)(void);
} bad_case;

/* The cases of this system; the other system's are named in
 * other_system_cases, to be printed as not run here. */
static const bad_case cases[] = {
    {"nonexistent path", case_nonexistent},
    {"directory", case_directory},
#ifdef _WIN32
    {"named pipe (for FIFO)", case_named_pipe},
    {"pipe descriptor (for pipe and socket)", case_pipe_fd},
    {"NUL device (for /proc file)", case_nul_device},
    {"sharing violation (for unreadable file)", case_sharing_violation},
    {"path not UTF-8", case_invalid_utf8},
#else
    {"FIFO", case_fifo},
    {"pipe and socket descriptors", case_pipe_and_socket_fd},
    {"/proc file with size 0", case_proc_size_zero},
    {"unreadable file", case_unreadable},
#endif
    {"empty file", case_empty_file},
    {"closed or invalid descriptor", case_bad_descriptors},
    {"NULL for every pointer", case_null_pointers},
    {"offsets: UINT64_MAX, wrapping, SIZE_MAX", case_offsets},
    {"contradictory options", case_contradictory_options},
    {"release_path while busy", case_release_path_busy},
    {"changed on disk while its descriptor was closed",
     case_changed_while_closed},
    {"shrunk, grown or removed while open", case_changed_while_open},
};

static const char *const other_system_cases[] = {
#ifdef _WIN32
    "FIFO (fork and alarm)", "pipe and socket descriptors (socketpair)",
    "/proc file with size 0", "unreadable file (fork, setuid, mode 0000)",
#else
    "named pipe", "pipe descriptor", "NUL device", "sharing violation",
    "path not UTF-8 (POSIX names are bytes)",
#endif
};

int main(void)
{
    smmap_options o;
    size_t i;
    int passed = 0, failed = 0, err;

    if (make_files() != 0) {
        fprintf(stderr, "could not create the test files\n");
        return 1;
    }
    smmap__os.open_ro = w_open;
    smmap__os.dup_fd = w_dup;
    smmap__os.close = w_close;
    smmap__os.malloc = w_malloc;
    smmap__os.free = w_free;
    smmap_options_init(&o);
    o.window_size = page;
    o.max_mapped = 4 * page;
    err = smmap_manager_new(&manager, &o);
    if (err != 0) {
        fprintf(stderr, "manager_new gave %d\n", err);
        return 1;
    }
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long allocs = live_allocs, fds = live_fds;
        int before = failures;
        current = cases[i].name;
        cases[i].fn();
        /* Nothing leaked, and the manager still works. */
        EXPECT_EQ(live_allocs, allocs);
        EXPECT_EQ(live_fds, fds);
        check_usable();
        EXPECT_EQ(live_allocs, allocs);
        EXPECT_EQ(live_fds, fds);
        if (failures == before)
            passed++;
        else
            failed++;
        printf("badinput: %-40s %s\n", cases[i].name,
               failures == before ? "ok" : "FAILED");
    }
    smmap_manager_free(manager);
    EXPECT_EQ(live_allocs, 0);
    EXPECT_EQ(live_fds, 0);
    remove_files();
    printf("badinput: %d checks in %d cases of this system\n", checks,
           passed + failed);
    for (i = 0; i < sizeof(other_system_cases) / sizeof(other_system_cases[0]);
         i++)
        printf("badinput: not run here (the other system's case): %s\n",
               other_system_cases[i]);
    printf("%d passed, %d failed\n", passed, failed + (failures && !failed));
    return failures == 0 ? 0 : 1;
}
