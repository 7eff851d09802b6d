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

/* ------------------------------------------ sizes at the limits (issue 12) */

/*
 * Every option value, offset and length up to 2^64 - 1 gives its documented
 * result in bounded time (issue 12, case 6: a window_size in [2^63,
 * 2^64 - 4097] made the first window of a file loop forever in the slot
 * filter, with the manager's lock held). What could hang runs in a child
 * with an alarm on POSIX, so that each value that hangs is named; on Windows
 * (no fork) it runs here, under the watchdog that bounds every case.
 */
#define BOUND_SECONDS 5

/* The watchdog of every case: a case that does not return within
 * WATCH_SECONDS ends the test (exit 1) with its name, rather than blocking
 * ctest until its TIMEOUT. */
#define WATCH_SECONDS 60
static port_mutex watch_lock;
static double watch_deadline; /* 0: disarmed */
static const char *watch_case = ""; /* current, when armed */
static int watch_stop;
static port_thread watch_thread;

static void watchdog(void *arg)
{
    (void)arg;
    for (;;) {
        double deadline;
        const char *name;
        int stop;
        port_mutex_lock(&watch_lock);
        deadline = watch_deadline;
        name = watch_case;
        stop = watch_stop;
        port_mutex_unlock(&watch_lock);
        if (stop)
            return;
        if (deadline != 0 && port_now() > deadline) {
            fprintf(stderr, "[%s] did not return in time (a hang): stopping "
                    "the test\n", name);
            printf("badinput: %-40s FAILED (hang)\n", name);
            fflush(NULL);
            _exit(1);
        }
        port_sleep_us(50000);
    }
}

/* Arm the watchdog for the current case (0: disarm). */
static void watch_arm(double seconds)
{
    port_mutex_lock(&watch_lock);
    watch_deadline = seconds > 0 ? port_now() + seconds : 0;
    watch_case = current;
    port_mutex_unlock(&watch_lock);
}

#ifndef _WIN32
/* Run fn(arg) in a child that an alarm kills after BOUND_SECONDS: its
 * failures are printed by the child and counted here, with its checks. */
static void run_bounded(const char *what, void (*fn)(const void *),
                        const void *arg)
{
    int p[2], status, child_checks = 0;
    pid_t pid;
    watch_arm(BOUND_SECONDS + 30); /* the alarm comes first */
    EXPECT_EQ(pipe(p), 0);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int before = failures;
        close(p[0]);
        checks = 0;
        alarm(BOUND_SECONDS);
        fn(arg);
        if (write(p[1], &checks, sizeof(checks)) != (ssize_t)sizeof(checks))
            _exit(2);
        fflush(NULL);
        _exit(failures == before ? 0 : 1);
    }
    close(p[1]);
    if (read(p[0], &child_checks, sizeof(child_checks)) ==
        (ssize_t)sizeof(child_checks))
        checks += child_checks;
    close(p[0]);
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "[%s] %s: the child was killed by signal %d "
                "(SIGALRM=%d: it did not return within %d s)\n", current,
                what, WTERMSIG(status), SIGALRM, BOUND_SECONDS);
        failures++;
    } else {
        EXPECT_EQ(WEXITSTATUS(status), 0);
    }
}
#else
static void run_bounded(const char *what, void (*fn)(const void *),
                        const void *arg)
{
    (void)what;
    watch_arm(BOUND_SECONDS + 30);
    fn(arg);
}
#endif

/* Where window_size stops: rounded up to the granularity, a window must be
 * at most SIZE_MAX / 2 (smmap.h), so the largest one is this limit (2^63,
 * or 2^31 in 32 bits) minus one granule. */
static uint64_t window_limit(void)
{
    return ((uint64_t)SIZE_MAX >> 1) + 1; /* 2^63 or 2^31 */
}

typedef struct option_case {
    uint64_t window_size, max_mapped;
    uint32_t flags;
    int expected;
} option_case;

/* A manager made with the options gives the expected result; one that is
 * made reads the good file right, its window holding the whole file (every
 * window here is larger than it). */
static void try_options(const void *arg)
{
    const option_case *k = arg;
    smmap_manager *m = (smmap_manager *)1;
    smmap_options o;
    smmap_file *f = NULL;
    smmap_cursor c;
    smmap_stats st;
    unsigned char b[4];

    smmap_options_init(&o);
    o.window_size = k->window_size;
    o.max_mapped = k->max_mapped;
    o.flags = k->flags;
    EXPECT_EQ(smmap_manager_new(&m, &o), k->expected);
    if (k->expected != 0)
        EXPECT_EQ(m == NULL, 1);
    /* A manager made, even one that should not have been, maps a window:
     * where the first window of a file hung (the slot filter), the alarm
     * names the value. */
    if (m == NULL)
        return;
    EXPECT_EQ(smmap_file_open(m, good, &f), 0);
    if (f != NULL) {
        smmap_cursor_init(&c, f);
        EXPECT_EQ(smmap_read(&c, page + 1, b, 4), 4);
        EXPECT_EQ(b[0], good_byte(page + 1, 0));
        EXPECT_EQ(b[3], good_byte(page + 4, 0));
        EXPECT_EQ(smmap_cursor_use(&c, good_size - 1, 1), 0);
        EXPECT_EQ(c.begin, 0);
        EXPECT_EQ(c.size, good_size);
        if (c.data != NULL)
            EXPECT_EQ(c.data[good_size - 1], good_byte(good_size - 1, 0));
        EXPECT_EQ(smmap_cursor_at(&c, 2, 3) == c.data + 2, 1);
        smmap_cursor_release(&c);
        smmap_manager_stats(m, &st);
        EXPECT_EQ(st.regions, 1);
        EXPECT_EQ(st.mapped_bytes, good_size);
        EXPECT_EQ(st.maps + st.read_windows, 1);
        smmap_file_close(f);
    }
    smmap_manager_free(m);
}

static void case_huge_options(void)
{
    const uint64_t limit = window_limit(), half = UINT64_MAX / 2 + 1;
    /* Windows: rejected from the first value that rounds up past the
     * limit; the largest one left works. */
    const uint64_t windows[][2] = {
        {limit - page, 0},
        {limit - page + 1, (uint64_t)-EINVAL},
        {limit - 1, (uint64_t)-EINVAL},
        {limit, (uint64_t)-EINVAL},
        {limit + 1, (uint64_t)-EINVAL},
        {limit + page, (uint64_t)-EINVAL},
        {half - 1, (uint64_t)-EINVAL},          /* 2^63 - 1 */
        {half, (uint64_t)-EINVAL},              /* 2^63: UINT64_MAX / 2 + 1 */
        {half + 1, (uint64_t)-EINVAL},
        {half + half / 2, (uint64_t)-EINVAL},   /* 3 x 2^62 */
        {UINT64_MAX - 4096, (uint64_t)-EINVAL}, /* 2^64 - 4097 */
        {UINT64_MAX - 4095, (uint64_t)-EINVAL}, /* 2^64 - 4096 */
        {UINT64_MAX - page, (uint64_t)-EINVAL},
        {UINT64_MAX - 1, (uint64_t)-EINVAL},
        {UINT64_MAX, (uint64_t)-EINVAL},
    };
    /* The budgets each is tried with: all of 2^64 - 1, exactly the window,
     * and 2^64 - 2^40 (the CLI's 16777215T). */
    const uint32_t flags[] = {0, SMMAP_NO_MMAP, SMMAP_HARD_LIMITS,
                              SMMAP_ALWAYS_MAP | SMMAP_POPULATE};
    size_t i, j, b;
    char what[160];
    for (i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
        for (b = 0; b < 3; b++)
            for (j = 0; j < sizeof(flags) / sizeof(flags[0]); j++) {
                option_case k;
                k.window_size = windows[i][0];
                k.max_mapped = b == 0   ? UINT64_MAX
                               : b == 1 ? windows[i][0]
                                        : UINT64_MAX - ((uint64_t)1 << 40) + 1;
                k.flags = flags[j];
                k.expected = (int)(int64_t)windows[i][1];
                if (k.max_mapped < k.window_size)
                    k.expected = -EINVAL; /* a budget below the window */
                snprintf(what, sizeof(what),
                         "window_size %llu, max_mapped %llu, flags 0x%x",
                         (unsigned long long)k.window_size,
                         (unsigned long long)k.max_mapped, k.flags);
                if (k.expected == 0) {
                    run_bounded(what, try_options, &k);
                } else {
                    /* Refused at once: nothing to bound. */
                    smmap_manager *m = (smmap_manager *)1;
                    smmap_options o;
                    smmap_options_init(&o);
                    o.window_size = k.window_size;
                    o.max_mapped = k.max_mapped;
                    o.flags = k.flags;
                    EXPECT_EQ(smmap_manager_new(&m, &o), k.expected);
                    EXPECT_EQ(m == NULL, 1);
                    if (m != (smmap_manager *)1)
                        smmap_manager_free(m);
                }
            }
        if (windows[i][1] != 0) {
            /* Once more in a child, mapping a window if the manager is
             * made after all: where that hung, the alarm names the value. */
            option_case k;
            k.window_size = windows[i][0];
            k.max_mapped = UINT64_MAX;
            k.flags = 0;
            k.expected = -EINVAL;
            snprintf(what, sizeof(what),
                     "window_size %llu, max_mapped 2^64 - 1: the first window",
                     (unsigned long long)k.window_size);
            run_bounded(what, try_options, &k);
        }
    }
    {
        /* A budget one byte below the largest window. */
        option_case k = {0, 0, 0, -EINVAL};
        k.window_size = limit - page;
        k.max_mapped = limit - page - 1;
        run_bounded("max_mapped below the largest window", try_options, &k);
    }
    {
        /* Static mode with every budget at its largest. */
        smmap_manager *m = NULL;
        smmap_options o;
        smmap_file *f = NULL;
        smmap_cursor c;
        unsigned char bytes[2];
        smmap_options_init(&o);
        o.window_size = 0;
        o.max_mapped = UINT64_MAX;
        o.max_regions = UINT32_MAX;
        o.max_open_files = UINT32_MAX;
        EXPECT_EQ(smmap_manager_new(&m, &o), 0);
        if (m == NULL)
            return;
        EXPECT_EQ(smmap_file_open(m, good, &f), 0);
        if (f != NULL) {
            smmap_cursor_init(&c, f);
            EXPECT_EQ(smmap_read(&c, good_size - 2, bytes, SIZE_MAX), 2);
            EXPECT_EQ(bytes[1], good_byte(good_size - 1, 0));
            EXPECT_EQ(c.begin, 0);
            EXPECT_EQ(c.size, good_size);
            smmap_cursor_release(&c);
            smmap_file_close(f);
        }
        smmap_manager_free(m);
    }
}

/* Offsets and lengths near 2^64 and SIZE_MAX through every entry point:
 * -ERANGE for an offset at or past the end (the cursor left not valid),
 * clamped lengths, -ERANGE from smmap_cursor_at for bytes it cannot give
 * contiguously, 0 from smmap_read at or past the end. */
static void case_offsets_near_limits(void)
{
    smmap_manager *m = NULL;
    smmap_options o;
    smmap_file *f = NULL;
    smmap_cursor c;
    const unsigned char *p;
    unsigned char *b = malloc((size_t)good_size);
    const uint64_t past[] = {good_size, good_size + 1, (uint64_t)INT64_MAX,
                             (uint64_t)INT64_MAX + 1, UINT64_MAX - page,
                             UINT64_MAX - 1, UINT64_MAX};
    const size_t lengths[] = {0, 1, SIZE_MAX / 2, SIZE_MAX - 1, SIZE_MAX};
    size_t i, j;

    smmap_options_init(&o);
    o.window_size = page;
    o.max_mapped = 4 * page;
    EXPECT_EQ(smmap_manager_new(&m, &o), 0);
    if (m == NULL || b == NULL) {
        free(b);
        smmap_manager_free(m);
        return;
    }
    EXPECT_EQ(smmap_file_open(m, good, &f), 0);
    if (f == NULL) {
        free(b);
        smmap_manager_free(m);
        return;
    }
    smmap_cursor_init(&c, f);
    for (i = 0; i < sizeof(past) / sizeof(past[0]); i++)
        for (j = 0; j < sizeof(lengths) / sizeof(lengths[0]); j++) {
            /* A window held first: the calls must let go of it. */
            EXPECT_EQ(smmap_cursor_use(&c, 0, 1), 0);
            EXPECT_EQ(smmap_cursor_use(&c, past[i], lengths[j]), -ERANGE);
            EXPECT_EQ(c.data == NULL, 1);
            EXPECT_EQ(c.size, 0);
            EXPECT_EQ(c.error, -ERANGE);
            EXPECT_EQ(smmap_cursor_use_range(&c, past[i], lengths[j],
                                             lengths[j]), -ERANGE);
            EXPECT_EQ(smmap_cursor_use_range(&c, past[i], SIZE_MAX,
                                             lengths[j]), -ERANGE);
            EXPECT_EQ(smmap_cursor_use_range(&c, past[i], lengths[j], 0),
                      -ERANGE);
            EXPECT_EQ(c.data == NULL, 1);
            EXPECT_EQ(smmap_cursor_at(&c, past[i], lengths[j]) == NULL, 1);
            EXPECT_EQ(c.error, -ERANGE);
            EXPECT_EQ(smmap_read(&c, past[i], b, lengths[j]), 0);
            EXPECT_EQ(smmap_read(&c, past[i], NULL, 0), 0);
            EXPECT_EQ(smmap_read(&c, past[i], NULL, lengths[j]),
                      lengths[j] == 0 ? 0 : -EINVAL);
            EXPECT_EQ(smmap_cursor_includes(&c, past[i]), 0);
        }
    /* The last byte with every length: clamped to it by use and read,
     * refused by at for more than one byte. The window is the minimal one
     * at the end: [3 pages, good_size). */
    for (j = 0; j < sizeof(lengths) / sizeof(lengths[0]); j++) {
        EXPECT_EQ(smmap_cursor_use(&c, good_size - 1, lengths[j]), 0);
        EXPECT_EQ(c.begin, 3 * page);
        EXPECT_EQ(c.size, good_size - 3 * page);
        if (c.data != NULL)
            EXPECT_EQ(c.data[good_size - 1 - c.begin],
                      good_byte(good_size - 1, 0));
        EXPECT_EQ(smmap_cursor_use_range(&c, good_size - 1, lengths[j],
                                         SIZE_MAX), 0);
        EXPECT_EQ(c.begin + c.size, good_size);
        p = smmap_cursor_at(&c, good_size - 1, lengths[j]);
        if (lengths[j] <= 1) {
            EXPECT_EQ(p != NULL, 1);
            if (p != NULL)
                EXPECT_EQ(*p, good_byte(good_size - 1, 0));
        } else {
            EXPECT_EQ(p == NULL, 1);
            EXPECT_EQ(c.error, -ERANGE);
        }
        b[0] = 0;
        EXPECT_EQ(smmap_read(&c, good_size - 1, b, lengths[j]),
                  lengths[j] == 0 ? 0 : 1);
        if (lengths[j] != 0)
            EXPECT_EQ(b[0], good_byte(good_size - 1, 0));
    }
    /* Everything from 0 with the largest lengths: one window of the whole
     * file for use, the whole file for read, -ERANGE for at. */
    EXPECT_EQ(smmap_cursor_use(&c, 0, SIZE_MAX), 0);
    EXPECT_EQ(c.begin, 0);
    EXPECT_EQ(c.size, good_size);
    EXPECT_EQ(smmap_cursor_includes(&c, good_size - 1), 1);
    EXPECT_EQ(smmap_cursor_includes(&c, good_size), 0);
    EXPECT_EQ(smmap_cursor_includes(&c, UINT64_MAX), 0);
    EXPECT_EQ(smmap_cursor_at(&c, 0, SIZE_MAX) == NULL, 1);
    EXPECT_EQ(c.error, -ERANGE);
    EXPECT_EQ(smmap_cursor_use_range(&c, 1, 0, SIZE_MAX), 0);
    EXPECT_EQ(c.begin, 0);
    EXPECT_EQ(c.size, good_size);
    EXPECT_EQ(smmap_cursor_use_range(&c, 10, SIZE_MAX, 1), 0);
    EXPECT_EQ(c.begin <= 10 && c.begin + c.size == good_size, 1);
    p = smmap_cursor_at(&c, 1, (size_t)good_size - 1);
    EXPECT_EQ(p != NULL, 1);
    if (p != NULL)
        EXPECT_EQ(p[good_size - 2], good_byte(good_size - 1, 0));
    EXPECT_EQ(smmap_read(&c, 0, b, SIZE_MAX), good_size);
    EXPECT_EQ(b[good_size - 1], good_byte(good_size - 1, 0));
    EXPECT_EQ(smmap_read(&c, good_size - 3, b, SIZE_MAX - 1), 3);
    EXPECT_EQ(b[2], good_byte(good_size - 1, 0));
    EXPECT_EQ(smmap_read(&c, 7, b, SIZE_MAX / 2), good_size - 7);
    EXPECT_EQ(b[0], good_byte(7, 0));
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
    free(b);
}

/*
 * A sparse file of 2^63 - 1 bytes, the largest off_t (tmpfs takes one;
 * ext4 and NTFS stop at 16 TiB, where this case is not run): offsets near
 * 2^63 through windows, reads and requests larger than the address space.
 */
static char huge_path[400];

static int make_huge_file(void)
{
    int fd, i;
    for (i = 0; i < 2; i++) {
        if (i == 0) {
            snprintf(huge_path, sizeof(huge_path), "%s" PORT_SEP "huge", dir);
        } else {
#ifdef _WIN32
            break;
#else
            /* tmpfs, where the temporary directory is not. */
            snprintf(huge_path, sizeof(huge_path), "/dev/shm/smmap-huge-%ld",
                     (long)getpid());
#endif
        }
        fd = port_open_write(huge_path, 1);
        if (fd < 0)
            continue;
        if (port_set_size(fd, (uint64_t)INT64_MAX) == 0) {
            port_close(fd);
            return 0;
        }
        port_close(fd);
        port_remove_file(huge_path);
    }
    huge_path[0] = '\0';
    return -1;
}

static void huge_file_cases(const void *arg)
{
    const uint64_t size = (uint64_t)INT64_MAX;
    smmap_manager *m = NULL;
    smmap_options o;
    smmap_file *f = NULL;
    smmap_cursor c;
    smmap_stats st;
    unsigned char b[8];
    uint32_t hard;
    (void)arg;

    for (hard = 0; hard < 2; hard++) {
        smmap_options_init(&o);
        o.window_size = page;
        o.max_mapped = 4 * page;
        o.flags = hard ? SMMAP_HARD_LIMITS : 0;
        EXPECT_EQ(smmap_manager_new(&m, &o), 0);
        if (m == NULL)
            return;
        EXPECT_EQ(smmap_file_open(m, huge_path, &f), 0);
        if (f == NULL) {
            smmap_manager_free(m);
            return;
        }
        EXPECT_EQ(smmap_file_size(f), size);
        smmap_cursor_init(&c, f);
        EXPECT_EQ(smmap_cursor_use(&c, size, 1), -ERANGE);
        EXPECT_EQ(smmap_cursor_use(&c, UINT64_MAX, SIZE_MAX), -ERANGE);
        EXPECT_EQ(smmap_read(&c, size, b, 8), 0);
        /* Far inside: a window of one page. */
        EXPECT_EQ(smmap_cursor_use(&c, (uint64_t)1 << 62, 1), 0);
        EXPECT_EQ(c.begin, (uint64_t)1 << 62);
        EXPECT_EQ(c.size, page);
        if (c.data != NULL)
            EXPECT_EQ(c.data[0], 0);
        memset(b, 0xff, sizeof(b));
        EXPECT_EQ(smmap_read(&c, size - 3 * page, b, 8), 8);
        EXPECT_EQ(b[0] == 0 && b[7] == 0, 1);
        /* All of it in one window: more than any address space. */
        EXPECT_EQ(smmap_cursor_use(&c, 0, SIZE_MAX), -ENOMEM);
        EXPECT_EQ(c.data == NULL, 1);
        EXPECT_EQ(c.error, -ENOMEM);
        EXPECT_EQ(smmap_cursor_use(&c, page, SIZE_MAX), -ENOMEM);
        /* smmap_cursor_at: past the end is -ERANGE, mapping nothing; all
         * of the file, or SIZE_MAX bytes of it (32-bit), is more than any
         * address space. */
        EXPECT_EQ(smmap_cursor_at(&c, 0, SIZE_MAX) == NULL, 1);
        EXPECT_EQ(c.error, size < SIZE_MAX ? -ERANGE : -ENOMEM);
        if (size <= SIZE_MAX) {
            EXPECT_EQ(smmap_cursor_at(&c, 0, (size_t)size) == NULL, 1);
            EXPECT_EQ(c.error, -ENOMEM);
        }
        smmap_cursor_release(&c);
        smmap_file_close(f);
        smmap_manager_stats(m, &st);
        EXPECT_EQ(st.regions, 0);
        EXPECT_EQ(st.mapped_bytes, 0);
        smmap_manager_free(m);
    }
    /* Static mode maps a file whole: this one cannot be. */
    smmap_options_init(&o);
    o.window_size = 0;
    EXPECT_EQ(smmap_manager_new(&m, &o), 0);
    if (m == NULL)
        return;
    EXPECT_EQ(smmap_file_open(m, huge_path, &f), 0);
    if (f != NULL) {
        smmap_cursor_init(&c, f);
        EXPECT_EQ(smmap_cursor_use(&c, 0, 1), -ENOMEM);
        EXPECT_EQ(smmap_cursor_use(&c, size - 1, 1), -ENOMEM);
        smmap_cursor_release(&c);
        smmap_manager_stats(m, &st);
        EXPECT_EQ(st.regions, 0);
        EXPECT_EQ(st.mapped_bytes, 0);
        smmap_file_close(f);
    }
    smmap_manager_free(m);
}

static void case_huge_file(void)
{
    if (make_huge_file() != 0) {
        printf("badinput: no file system here takes a file of 2^63 - 1 bytes "
               "(tmpfs does): the huge file case is not run\n");
        return;
    }
    run_bounded("a file of 2^63 - 1 bytes", huge_file_cases, NULL);
    EXPECT_EQ(port_remove_file(huge_path), 0);
}

/*
 * The last page of that file: the bytes up to 2^63 - 1 are the file's, and
 * read as zeros. mmap refuses a page that reaches past the largest off_t
 * (Linux: EOVERFLOW, though the file holds the bytes), so such a window
 * must come from pread. Its own ctest test (badinput_last_page): argument
 * "last_page".
 */
static void last_page_cases(const void *arg)
{
    const uint64_t size = (uint64_t)INT64_MAX;
    const uint32_t flags[] = {0, SMMAP_ALWAYS_MAP, SMMAP_NO_MMAP};
    const uint64_t windows[] = {page, (uint64_t)1 << 20};
    smmap_manager *m = NULL;
    smmap_options o;
    smmap_file *f = NULL;
    smmap_cursor c;
    unsigned char b[8];
    const unsigned char *p;
    size_t i, w;
    (void)arg;

    for (w = 0; w < sizeof(windows) / sizeof(windows[0]); w++)
        for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
            smmap_options_init(&o);
            o.window_size = windows[w];
            o.max_mapped = 4 * windows[w];
            o.flags = flags[i];
            EXPECT_EQ(smmap_manager_new(&m, &o), 0);
            if (m == NULL)
                return;
            EXPECT_EQ(smmap_file_open(m, huge_path, &f), 0);
            if (f == NULL) {
                smmap_manager_free(m);
                return;
            }
            smmap_cursor_init(&c, f);
            memset(b, 0xff, sizeof(b));
            EXPECT_EQ(smmap_read(&c, size - 1, b, 8), 1);
            EXPECT_EQ(b[0], 0);
            EXPECT_EQ(smmap_read(&c, size - 8, b, SIZE_MAX), 8);
            EXPECT_EQ(b[7], 0);
            EXPECT_EQ(smmap_read(&c, size - page - 4, b, 8), 8);
            EXPECT_EQ(smmap_cursor_use(&c, size - 1, 1), 0);
            EXPECT_EQ(c.begin + c.size, size);
            if (c.data != NULL)
                EXPECT_EQ(c.data[size - 1 - c.begin], 0);
            smmap_cursor_release(&c);
            p = smmap_cursor_at(&c, size - 2, 2);
            EXPECT_EQ(p != NULL, 1);
            if (p != NULL)
                EXPECT_EQ(p[0] == 0 && p[1] == 0, 1);
            smmap_cursor_release(&c);
            smmap_file_close(f);
            smmap_manager_free(m);
        }
}

static void case_last_page(void)
{
    if (make_huge_file() != 0) {
        printf("badinput: no file system here takes a file of 2^63 - 1 bytes "
               "(tmpfs does): the last page case is not run\n");
        return;
    }
    run_bounded("the last page of a file of 2^63 - 1 bytes", last_page_cases,
                NULL);
    EXPECT_EQ(port_remove_file(huge_path), 0);
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
 * is open is the same version to a new open, which joins its entry with
 * its own size and records the truncation (the old handle keeps its size
 * and gets -ESTALE for new windows); refresh takes growth of a
 * descriptor-opened file, and gives -ESTALE for a path removed.
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
    EXPECT_EQ(st.files, 1); /* the same version: the same entry */
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
    {"window_size and budgets up to 2^64 - 1", case_huge_options},
    {"offsets and lengths near 2^64, SIZE_MAX", case_offsets_near_limits},
    {"a file of 2^63 - 1 bytes", case_huge_file},
    {"release_path while busy", case_release_path_busy},
    {"changed on disk while its descriptor was closed",
     case_changed_while_closed},
    {"shrunk, grown or removed while open", case_changed_while_open},
};

/* Run only when named on the command line (their own ctest test): they
 * fail until the library does what they check (see each case). */
static const bad_case named_cases[] = {
    {"last_page", case_last_page},
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

int main(int argc, char **argv)
{
    smmap_options o;
    const bad_case *run = cases;
    size_t i, nrun = sizeof(cases) / sizeof(cases[0]);
    int passed = 0, failed = 0, err;

    if (argc > 1) {
        /* One of the named cases alone. */
        nrun = 0;
        for (i = 0; i < sizeof(named_cases) / sizeof(named_cases[0]); i++)
            if (strcmp(argv[1], named_cases[i].name) == 0) {
                run = &named_cases[i];
                nrun = 1;
            }
        if (nrun == 0) {
            fprintf(stderr, "usage: test_badinput [last_page]\n");
            return 2;
        }
    }
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
    port_mutex_init(&watch_lock);
    if (port_thread_start(&watch_thread, watchdog, NULL) != 0) {
        fprintf(stderr, "could not start the watchdog thread\n");
        return 1;
    }
    /* The manager keeps region descriptors for reuse until it is freed (a
     * lock-free switch may still look at one, see src/cache.c): one use
     * first, so that the block of them it allocates is not counted as a
     * leak of the first case. */
    check_usable();
    for (i = 0; i < nrun; i++) {
        long allocs = live_allocs, fds = live_fds;
        int before = failures;
        current = run[i].name;
        watch_arm(WATCH_SECONDS);
        run[i].fn();
        /* Nothing leaked, and the manager still works. */
        EXPECT_EQ(live_allocs, allocs);
        EXPECT_EQ(live_fds, fds);
        check_usable();
        EXPECT_EQ(live_allocs, allocs);
        EXPECT_EQ(live_fds, fds);
        watch_arm(0);
        if (failures == before)
            passed++;
        else
            failed++;
        printf("badinput: %-40s %s\n", run[i].name,
               failures == before ? "ok" : "FAILED");
    }
    port_mutex_lock(&watch_lock);
    watch_stop = 1;
    port_mutex_unlock(&watch_lock);
    port_thread_join(&watch_thread);
    port_mutex_destroy(&watch_lock);
    smmap_manager_free(manager);
    EXPECT_EQ(live_allocs, 0);
    EXPECT_EQ(live_fds, 0);
    remove_files();
    printf("badinput: %d checks in %d cases of this system\n", checks,
           passed + failed);
    if (run == cases)
        for (i = 0;
             i < sizeof(other_system_cases) / sizeof(other_system_cases[0]);
             i++)
            printf("badinput: not run here (the other system's case): %s\n",
                   other_system_cases[i]);
    printf("%d passed, %d failed\n", passed, failed + (failures && !failed));
    return failures == 0 ? 0 : 1;
}
