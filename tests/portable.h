/*
 * portable.h - what the proof tests (model, fault, threads, badinput) need
 * from the operating system besides smmap itself, on POSIX and on Windows:
 * a fresh temporary directory, files created, written and read at an offset
 * (the reference bytes a test compares smmap's windows with), sparse files,
 * file times, renames over an existing file, threads, a mutex, a monotonic
 * clock and a sleep.
 *
 * Header-only (static inline functions): tests/model/model.c is also
 * compiled into the libFuzzer target (fuzz/CMakeLists.txt), which links no
 * test library, so the model may only use what a header brings.
 *
 * Descriptors are C runtime ints on both systems, which is what
 * smmap_file_open_fd takes. On Windows the offset I/O goes through the
 * HANDLE behind a descriptor with an OVERLAPPED offset, as pread and pwrite
 * do on POSIX, and paths are UTF-8 converted to wide strings, as the
 * library converts them. Every call returns 0 (or a count, or a descriptor)
 * on success and a negative errno value on failure. Nothing here uses the
 * library: a test's reference must not share the code it checks.
 */
#ifndef SMMAP_TEST_PORTABLE_H
#define SMMAP_TEST_PORTABLE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#include <winioctl.h>
#include <fcntl.h>
#include <io.h>
#include <process.h>
/* Not <sys/stat.h>: with _FILE_OFFSET_BITS=64 mingw's defines fstat as a
 * macro (_fstat64), which would rename smmap_os.fstat in the tests that
 * use the OS table. These are the C runtime's _S_IREAD | _S_IWRITE. */
#define PORT_S_READ_WRITE 0x0180
#else
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#endif

/* The separator the tests put between a directory and a name. */
#ifdef _WIN32
#define PORT_SEP "\\"
#else
#define PORT_SEP "/"
#endif

/* ------------------------------------------------------------ Windows */

#ifdef _WIN32
/* A UTF-8 path as a wide string in out (count wide characters). */
static inline int port_wide(const char *path, wchar_t *out, int count)
{
    if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, out,
                            count) <= 0)
        return -EINVAL;
    return 0;
}

/* The errno value for the few Windows errors the helpers below meet. */
static inline int port_errno_from_win32(DWORD code)
{
    switch (code) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
        return -ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
        return -EACCES;
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS:
        return -EEXIST;
    case ERROR_DIR_NOT_EMPTY:
        return -ENOTEMPTY;
    case ERROR_INVALID_HANDLE:
        return -EBADF;
    default:
        return -EIO;
    }
}

static inline HANDLE port_handle(int fd)
{
    return (HANDLE)_get_osfhandle(fd);
}
#endif

/* --------------------------------------------------------- directories */

/* Create a fresh directory <temporary directory>/<prefix>-<unique> and put
 * its path (UTF-8) in out. The temporary directory is TMPDIR (or /tmp) on
 * POSIX, GetTempPath's on Windows. */
static inline int port_make_temp_dir(char *out, size_t size,
                                     const char *prefix)
{
#ifdef _WIN32
    wchar_t base[MAX_PATH + 1], wide[MAX_PATH + 64];
    char utf8_base[3 * MAX_PATH + 1];
    static unsigned serial;
    DWORD n = GetTempPathW(MAX_PATH + 1, base);
    if (n == 0 || n > MAX_PATH)
        return -ENOENT;
    if (WideCharToMultiByte(CP_UTF8, 0, base, -1, utf8_base,
                            (int)sizeof(utf8_base), NULL, NULL) <= 0)
        return -EINVAL;
    for (;;) {
        /* GetTempPath ends with a separator. */
        snprintf(out, size, "%s%s-%lu-%u", utf8_base, prefix,
                 (unsigned long)GetCurrentProcessId(), serial++);
        if (port_wide(out, wide, MAX_PATH + 64) != 0)
            return -ENAMETOOLONG;
        if (CreateDirectoryW(wide, NULL))
            return 0;
        if (GetLastError() != ERROR_ALREADY_EXISTS)
            return port_errno_from_win32(GetLastError());
    }
#else
    const char *tmp = getenv("TMPDIR");
    snprintf(out, size, "%s/%s-XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp",
             prefix);
    return mkdtemp(out) != NULL ? 0 : -errno;
#endif
}

static inline int port_make_dir(const char *path)
{
#ifdef _WIN32
    wchar_t wide[1024];
    if (port_wide(path, wide, 1024) != 0)
        return -EINVAL;
    return CreateDirectoryW(wide, NULL) ? 0
                                        : port_errno_from_win32(GetLastError());
#else
    return mkdir(path, 0755) == 0 ? 0 : -errno;
#endif
}

/* Remove an empty directory. */
static inline int port_remove_dir(const char *path)
{
#ifdef _WIN32
    wchar_t wide[1024];
    if (port_wide(path, wide, 1024) != 0)
        return -EINVAL;
    return RemoveDirectoryW(wide) ? 0 : port_errno_from_win32(GetLastError());
#else
    return rmdir(path) == 0 ? 0 : -errno;
#endif
}

/* --------------------------------------------------------------- files */

static inline int port_remove_file(const char *path)
{
#ifdef _WIN32
    wchar_t wide[1024];
    if (port_wide(path, wide, 1024) != 0)
        return -EINVAL;
    return DeleteFileW(wide) ? 0 : port_errno_from_win32(GetLastError());
#else
    return unlink(path) == 0 ? 0 : -errno;
#endif
}

/* A descriptor of path, read-only. Returns it or -errno. */
static inline int port_open_read(const char *path)
{
#ifdef _WIN32
    wchar_t wide[1024];
    int fd;
    if (port_wide(path, wide, 1024) != 0)
        return -EINVAL;
    fd = _wopen(wide, _O_RDONLY | _O_BINARY);
#else
    int fd = open(path, O_RDONLY);
#endif
    return fd >= 0 ? fd : -errno;
}

/* A descriptor of path for reading and writing; create: make it, empty. */
static inline int port_open_write(const char *path, int create)
{
#ifdef _WIN32
    wchar_t wide[1024];
    int fd;
    if (port_wide(path, wide, 1024) != 0)
        return -EINVAL;
    fd = create ? _wopen(wide, _O_RDWR | _O_CREAT | _O_TRUNC | _O_BINARY,
                         PORT_S_READ_WRITE)
                : _wopen(wide, _O_RDWR | _O_BINARY);
#else
    int fd = create ? open(path, O_RDWR | O_CREAT | O_TRUNC, 0644)
                    : open(path, O_RDWR);
#endif
    return fd >= 0 ? fd : -errno;
}

static inline int port_close(int fd)
{
#ifdef _WIN32
    return _close(fd) == 0 ? 0 : -errno;
#else
    return close(fd) == 0 ? 0 : -errno;
#endif
}

/* Up to n bytes at off (fewer only at the end of the file): the count, or
 * -errno. */
static inline int64_t port_pread(int fd, void *buf, size_t n, uint64_t off)
{
#ifdef _WIN32
    OVERLAPPED at;
    DWORD got = 0;
    HANDLE h = port_handle(fd);
    if (h == INVALID_HANDLE_VALUE)
        return -EBADF;
    if (n > 0x40000000u)
        n = 0x40000000u;
    ZeroMemory(&at, sizeof(at));
    at.Offset = (DWORD)(off & 0xFFFFFFFFu);
    at.OffsetHigh = (DWORD)(off >> 32);
    if (!ReadFile(h, buf, (DWORD)n, &got, &at))
        return GetLastError() == ERROR_HANDLE_EOF
                   ? 0
                   : port_errno_from_win32(GetLastError());
    return (int64_t)got;
#else
    ssize_t got = pread(fd, buf, n, (off_t)off);
    return got >= 0 ? (int64_t)got : -errno;
#endif
}

/* Exactly n bytes at off, or -errno. */
static inline int port_pwrite_all(int fd, const void *buf, size_t n,
                                  uint64_t off)
{
    const unsigned char *p = buf;
    while (n > 0) {
#ifdef _WIN32
        OVERLAPPED at;
        DWORD put = 0, want = n > 0x40000000u ? 0x40000000u : (DWORD)n;
        HANDLE h = port_handle(fd);
        if (h == INVALID_HANDLE_VALUE)
            return -EBADF;
        ZeroMemory(&at, sizeof(at));
        at.Offset = (DWORD)(off & 0xFFFFFFFFu);
        at.OffsetHigh = (DWORD)(off >> 32);
        if (!WriteFile(h, p, want, &put, &at))
            return port_errno_from_win32(GetLastError());
        if (put == 0)
            return -EIO;
#else
        ssize_t put = pwrite(fd, p, n, (off_t)off);
        if (put < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (put == 0)
            return -EIO;
#endif
        p += put;
        n -= (size_t)put;
        off += (uint64_t)put;
    }
    return 0;
}

/* Set the file's size. Growth reads as zeros; on Windows the file is made
 * sparse first so that a file past 4 GiB costs no disk (NTFS would
 * otherwise write the zeros up to the next write's offset); where the
 * file system cannot, the size is still set. */
static inline int port_set_size(int fd, uint64_t size)
{
#ifdef _WIN32
    LARGE_INTEGER at;
    DWORD unused = 0;
    HANDLE h = port_handle(fd);
    if (h == INVALID_HANDLE_VALUE)
        return -EBADF;
    (void)DeviceIoControl(h, FSCTL_SET_SPARSE, NULL, 0, NULL, 0, &unused,
                          NULL);
    at.QuadPart = (LONGLONG)size;
    if (!SetFilePointerEx(h, at, NULL, FILE_BEGIN) || !SetEndOfFile(h))
        return port_errno_from_win32(GetLastError());
    return 0;
#else
    return ftruncate(fd, (off_t)size) == 0 ? 0 : -errno;
#endif
}

/* Set an existing file's size by path. */
static inline int port_truncate(const char *path, uint64_t size)
{
    int fd = port_open_write(path, 0), err;
    if (fd < 0)
        return fd;
    err = port_set_size(fd, size);
    port_close(fd);
    return err;
}

/* Create (or empty) path and write n bytes of data to it. */
static inline int port_write_file(const char *path, const void *data,
                                  size_t n)
{
    int fd = port_open_write(path, 1), err, closed;
    if (fd < 0)
        return fd;
    err = port_pwrite_all(fd, data, n, 0);
    closed = port_close(fd);
    return err != 0 ? err : closed;
}

/* Rename from to to, replacing to if it exists (rename(2) does on POSIX;
 * the C runtime's rename refuses on Windows). */
static inline int port_rename_over(const char *from, const char *to)
{
#ifdef _WIN32
    wchar_t wfrom[1024], wto[1024];
    if (port_wide(from, wfrom, 1024) != 0 || port_wide(to, wto, 1024) != 0)
        return -EINVAL;
    return MoveFileExW(wfrom, wto, MOVEFILE_REPLACE_EXISTING)
               ? 0
               : port_errno_from_win32(GetLastError());
#else
    return rename(from, to) == 0 ? 0 : -errno;
#endif
}

/* A file's access and modification times, to put back after a change. */
typedef struct port_times {
#ifdef _WIN32
    FILETIME access, write;
#else
    struct timespec t[2];
#endif
} port_times;

#ifdef _WIN32
/* A handle to path for reading and writing its attributes only: it shares
 * everything, so it works while smmap (or anyone) holds the file. */
static inline HANDLE port_attribute_handle(const char *path)
{
    wchar_t wide[1024];
    if (port_wide(path, wide, 1024) != 0)
        return INVALID_HANDLE_VALUE;
    return CreateFileW(wide, FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES,
                       FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                       NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
}
#endif

static inline int port_get_times(const char *path, port_times *out)
{
#ifdef _WIN32
    HANDLE h = port_attribute_handle(path);
    int err = 0;
    if (h == INVALID_HANDLE_VALUE)
        return port_errno_from_win32(GetLastError());
    if (!GetFileTime(h, NULL, &out->access, &out->write))
        err = port_errno_from_win32(GetLastError());
    CloseHandle(h);
    return err;
#else
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    out->t[0] = st.st_atim;
    out->t[1] = st.st_mtim;
    return 0;
#endif
}

static inline int port_set_times(const char *path, const port_times *times)
{
#ifdef _WIN32
    HANDLE h = port_attribute_handle(path);
    int err = 0;
    if (h == INVALID_HANDLE_VALUE)
        return port_errno_from_win32(GetLastError());
    if (!SetFileTime(h, NULL, &times->access, &times->write))
        err = port_errno_from_win32(GetLastError());
    CloseHandle(h);
    return err;
#else
    return utimensat(AT_FDCWD, path, times->t, 0) == 0 ? 0 : -errno;
#endif
}

/* The smallest later modification time the system records: one
 * nanosecond on POSIX (within the second), one 100 ns tick on Windows. */
static inline void port_times_later(port_times *t)
{
#ifdef _WIN32
    ULARGE_INTEGER w;
    w.LowPart = t->write.dwLowDateTime;
    w.HighPart = t->write.dwHighDateTime;
    w.QuadPart++;
    t->write.dwLowDateTime = w.LowPart;
    t->write.dwHighDateTime = w.HighPart;
#else
    t->t[1].tv_nsec = (t->t[1].tv_nsec + 1) % 1000000000;
#endif
}

/* ------------------------------------------------------- system facts */

/* The system's page: what a truncation leaves readable (as zeros past the
 * end) through a map. Not what smmap aligns windows to, which may be
 * larger (64 KiB on Windows, or a POSIX build's SMMAP_GRANULARITY): ask
 * the library's OS table (smmap__os.granularity()) for that. */
static inline uint64_t port_page_size(void)
{
#ifdef _WIN32
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwPageSize;
#else
    return (uint64_t)sysconf(_SC_PAGESIZE);
#endif
}

/* Seconds on a monotonic clock. */
static inline double port_now(void)
{
#ifdef _WIN32
    LARGE_INTEGER count, frequency;
    QueryPerformanceCounter(&count);
    QueryPerformanceFrequency(&frequency);
    return (double)count.QuadPart / (double)frequency.QuadPart;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
#endif
}

/* Sleep at least us microseconds (Windows sleeps whole milliseconds). */
static inline void port_sleep_us(unsigned us)
{
#ifdef _WIN32
    Sleep((us + 999) / 1000);
#else
    struct timespec ts;
    ts.tv_sec = us / 1000000;
    ts.tv_nsec = (long)(us % 1000000) * 1000;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
#endif
}

/* ------------------------------------------------------ threads, mutex */

/* A thread running fn(arg). The struct must live until port_thread_join. */
typedef struct port_thread {
#ifdef _WIN32
    HANDLE handle;
#else
    pthread_t handle;
#endif
    void (*fn)(void *);
    void *arg;
} port_thread;

#ifdef _WIN32
static inline unsigned __stdcall port_thread_entry(void *p)
{
    port_thread *t = p;
    t->fn(t->arg);
    return 0;
}
#else
static inline void *port_thread_entry(void *p)
{
    port_thread *t = p;
    t->fn(t->arg);
    return NULL;
}
#endif

static inline int port_thread_start(port_thread *t, void (*fn)(void *),
                                    void *arg)
{
    t->fn = fn;
    t->arg = arg;
#ifdef _WIN32
    /* _beginthreadex, not CreateThread: the thread uses the C runtime. */
    t->handle = (HANDLE)_beginthreadex(NULL, 0, port_thread_entry, t, 0, NULL);
    return t->handle != NULL ? 0 : -errno;
#else
    return -pthread_create(&t->handle, NULL, port_thread_entry, t);
#endif
}

static inline int port_thread_join(port_thread *t)
{
#ifdef _WIN32
    DWORD waited = WaitForSingleObject(t->handle, INFINITE);
    CloseHandle(t->handle);
    return waited == WAIT_OBJECT_0 ? 0 : -EINVAL;
#else
    return -pthread_join(t->handle, NULL);
#endif
}

typedef struct port_mutex {
#ifdef _WIN32
    CRITICAL_SECTION cs;
#else
    pthread_mutex_t mu;
#endif
} port_mutex;

static inline void port_mutex_init(port_mutex *m)
{
#ifdef _WIN32
    InitializeCriticalSection(&m->cs);
#else
    pthread_mutex_init(&m->mu, NULL);
#endif
}

static inline void port_mutex_destroy(port_mutex *m)
{
#ifdef _WIN32
    DeleteCriticalSection(&m->cs);
#else
    pthread_mutex_destroy(&m->mu);
#endif
}

static inline void port_mutex_lock(port_mutex *m)
{
#ifdef _WIN32
    EnterCriticalSection(&m->cs);
#else
    pthread_mutex_lock(&m->mu);
#endif
}

static inline void port_mutex_unlock(port_mutex *m)
{
#ifdef _WIN32
    LeaveCriticalSection(&m->cs);
#else
    pthread_mutex_unlock(&m->mu);
#endif
}

#endif /* SMMAP_TEST_PORTABLE_H */
