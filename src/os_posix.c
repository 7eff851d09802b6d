/*
 * os_posix.c - the OS layer on POSIX systems (Linux, macOS, the BSDs).
 *
 * This and os_win32.c are the only files that include <sys/mman.h> or
 * <windows.h>. Each entry returns 0 or a negative errno, and retries EINTR
 * itself so that callers never see a spurious interruption from the system
 * (a test may still inject -EINTR through the table). Its helpers are
 * named unix_*: POSIX reserves the posix_ prefix (POSIX.1-2024 defines
 * posix_close, and musl declares it).
 */
#ifndef _WIN32

/* madvise and MADV_POPULATE_READ are not POSIX: ask for the system's own
 * extensions (glibc, macOS) in this one file. */
#define _DEFAULT_SOURCE
#define _DARWIN_C_SOURCE
#ifdef __linux__
#define _GNU_SOURCE /* statx */
#endif

#include "os.h"
#include "smmap.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/ioctl.h>
/* FS_IOC_GETVERSION. A libc's toolchain may come without the kernel's
 * headers (Debian's musl-gcc): the request is the kernel's ABI, as
 * <linux/fs.h> defines it. */
#if defined(__has_include)
#if __has_include(<linux/fs.h>)
#include <linux/fs.h>
#endif
#endif
#ifndef FS_IOC_GETVERSION
#define FS_IOC_GETVERSION _IOR('v', 1, long)
#endif
#include <sys/syscall.h>
#endif

int64_t smmap__guarded_copy_posix(void *dst, const void *src, size_t len);
void smmap__guard_install_posix(void);

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

/* O_NONBLOCK: opening a FIFO must not wait for a writer (the library then
 * refuses it as not a regular file); regular files ignore the flag. */
static int unix_open_ro(const char *path, smmap_os_fd *out)
{
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    *out = fd;
    return 0;
}

static int unix_dup_fd(int fd, smmap_os_fd *out)
{
    int copy;
    if (fd < 0)
        return -EBADF;
    copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0)
        return -errno;
    *out = copy;
    return 0;
}

static int unix_close(smmap_os_fd fd)
{
    /* POSIX leaves the descriptor state after EINTR unspecified; on Linux it
     * is closed, so retrying would close someone else's descriptor. */
    if (close((int)fd) != 0 && errno != EINTR)
        return -errno;
    return 0;
}

static int unix_fstat(smmap_os_fd fd, smmap_os_stat *out)
{
    struct stat st;
    if (fstat((int)fd, &st) != 0)
        return -errno;
    out->dev = (uint64_t)st.st_dev;
    out->ino = (uint64_t)st.st_ino;
    out->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    /* In unsigned arithmetic: times past 2262 (ext4 stores them) wrap
     * instead of overflowing; only equality of mtimes is ever asked. */
#if defined(__APPLE__)
    out->mtime_ns = (int64_t)((uint64_t)st.st_mtimespec.tv_sec * 1000000000u +
                              (uint64_t)st.st_mtimespec.tv_nsec);
#else
    out->mtime_ns = (int64_t)((uint64_t)st.st_mtim.tv_sec * 1000000000u +
                              (uint64_t)st.st_mtim.tv_nsec);
#endif
    out->kind = S_ISREG(st.st_mode)   ? SMMAP_OS_REGULAR
                : S_ISDIR(st.st_mode) ? SMMAP_OS_DIRECTORY
                                      : SMMAP_OS_OTHER;
    out->gen = 0;
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__)
    out->gen = (uint64_t)st.st_birthtimespec.tv_sec * 1000000000u +
               (uint64_t)st.st_birthtimespec.tv_nsec;
#endif
    return 0;
}

/* A 64-bit finalizer (splitmix64's): two facts folded into one generation
 * stay distinct with overwhelming probability. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x;
}

/*
 * The generation of a file. On Linux, two facts: the birth time (statx),
 * which the kernel takes from a coarse clock, so that files created within
 * one tick share it, and the inode generation number (FS_IOC_GETVERSION:
 * ext4, XFS, btrfs), which changes whenever an inode number is reused. A
 * file system that gives neither (some network ones) gives 0, and a
 * replacement reusing the inode number is then told only by its size.
 */
static int unix_identify(smmap_os_fd fd, smmap_os_stat *out)
{
    int err = unix_fstat(fd, out);
    if (err != 0 || out->kind != SMMAP_OS_REGULAR)
        return err;
#ifdef __linux__
    {
        uint64_t gen = 0;
        int known = 0;
#ifdef STATX_BTIME
        struct statx sx;
        if (statx((int)fd, "", AT_EMPTY_PATH, STATX_BTIME, &sx) == 0 &&
            (sx.stx_mask & STATX_BTIME)) {
            gen = mix64((uint64_t)sx.stx_btime.tv_sec * 1000000000u +
                        sx.stx_btime.tv_nsec);
            known = 1;
        }
#endif
#ifdef FS_IOC_GETVERSION
        {
            /* The kernel stores an int whatever the request's size says. */
            union { long l; unsigned int u; } version;
            version.l = 0;
            if (ioctl((int)fd, FS_IOC_GETVERSION, &version) == 0) {
                gen ^= mix64(0x9E3779B97F4A7C15ull ^ version.u);
                known = 1;
            }
        }
#endif
        out->gen = known && gen == 0 ? 1 : gen;
    }
#endif
    return 0;
}

static int unix_map(smmap_os_fd fd, uint64_t offset, size_t len, void **out)
{
    void *p;
    if ((uint64_t)(off_t)offset != offset || (off_t)offset < 0)
        return -EOVERFLOW;
    p = mmap(NULL, len, PROT_READ, MAP_SHARED, (int)fd, (off_t)offset);
    if (p == MAP_FAILED)
        return -errno;
    *out = p;
    return 0;
}

static int unix_unmap(void *addr, size_t len)
{
    return munmap(addr, len) == 0 ? 0 : -errno;
}

static int64_t unix_pread(smmap_os_fd fd, void *buf, size_t len,
                           uint64_t offset)
{
    ssize_t n;
    if ((uint64_t)(off_t)offset != offset || (off_t)offset < 0)
        return -EOVERFLOW;
    do
        n = pread((int)fd, buf, len, (off_t)offset);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : (int64_t)n;
}

#ifdef SMMAP_GRANULARITY
_Static_assert(SMMAP_GRANULARITY >= 4096 &&
                   (SMMAP_GRANULARITY & (SMMAP_GRANULARITY - 1)) == 0,
               "SMMAP_GRANULARITY is a power of two of at least 4096");
#endif

/* The page size, or the build's SMMAP_GRANULARITY where that is larger:
 * both are powers of two, so either is a multiple of the other, and mmap
 * takes any offset that is a multiple of the larger. */
static uint64_t unix_granularity(void)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t g = page > 0 ? (uint64_t)page : 4096;
#ifdef SMMAP_GRANULARITY
    if (g < (uint64_t)SMMAP_GRANULARITY)
        g = (uint64_t)SMMAP_GRANULARITY;
#endif
    return g;
}

static uint64_t unix_max_map_count(void)
{
    unsigned long long count = 0;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%llu", &count) != 1)
        count = 0;
    fclose(f);
    return count;
}

static uint64_t unix_max_open_files(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    return (uint64_t)rl.rlim_cur;
}

static int unix_advise(void *addr, size_t len, int advice)
{
    int native;
    switch (advice) {
    case SMMAP_OS_POPULATE:
#ifdef MADV_POPULATE_READ
        if (madvise(addr, len, MADV_POPULATE_READ) == 0)
            return 0;
#endif
        return -EOPNOTSUPP; /* the core touches the pages itself */
    case SMMAP_ADVICE_RANDOM: native = POSIX_MADV_RANDOM; break;
    case SMMAP_ADVICE_SEQUENTIAL: native = POSIX_MADV_SEQUENTIAL; break;
    case SMMAP_ADVICE_WILLNEED: native = POSIX_MADV_WILLNEED; break;
    default: native = POSIX_MADV_NORMAL; break;
    }
    (void)posix_madvise(addr, len, native); /* advice only: never an error */
    return 0;
}

#if defined(__linux__) && defined(SYS_membarrier)
/* membarrier(2)'s commands, as the kernel's ABI defines them (a libc's
 * toolchain may come without <linux/membarrier.h>). Linux 4.14 on; an
 * older kernel, or a sandbox that filters the call, gives an error and
 * the readers fence themselves. The registration is inherited by fork()
 * and dropped by exec(). */
#define UNIX_MEMBARRIER_PRIVATE_EXPEDITED (1 << 3)
#define UNIX_MEMBARRIER_REGISTER_PRIVATE_EXPEDITED (1 << 4)

static int unix_membarrier(int cmd)
{
    return syscall(SYS_membarrier, cmd, 0, 0) == 0 ? 0 : -errno;
}

static int unix_barrier_init(void)
{
    return unix_membarrier(UNIX_MEMBARRIER_REGISTER_PRIVATE_EXPEDITED);
}

static int unix_barrier(void)
{
    return unix_membarrier(UNIX_MEMBARRIER_PRIVATE_EXPEDITED);
}
#else
/* No asymmetric barrier (macOS, the BSDs): the readers fence. */
static int unix_barrier_init(void)
{
    return -ENOSYS;
}

static int unix_barrier(void)
{
    return -ENOSYS;
}
#endif

static uint64_t unix_clock_ns(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) != 0)
        return 0;
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void unix_yield(void)
{
    (void)sched_yield();
}

#define UNIX_OS_TABLE                                                       \
    {                                                                       \
        unix_open_ro, unix_dup_fd, unix_close, unix_fstat, unix_map,        \
            unix_unmap, unix_pread, malloc, free, unix_granularity,         \
            unix_max_map_count, unix_max_open_files, unix_advise,           \
            smmap__guarded_copy_posix, smmap__guard_install_posix,          \
            unix_identify, unix_barrier_init, unix_barrier, unix_clock_ns,  \
            unix_yield,                                                     \
    }

const smmap_os smmap__os_default = UNIX_OS_TABLE;
smmap_os smmap__os = UNIX_OS_TABLE;

#ifdef MADV_POPULATE_READ
const int smmap__os_populate_built = 1;
#else
const int smmap__os_populate_built = 0;
#endif

static void (*fork_prepare)(void), (*fork_parent)(void), (*fork_child)(void);
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void register_at_fork(void)
{
    (void)pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void smmap__at_fork(void (*prepare)(void), void (*parent)(void),
                    void (*child)(void))
{
    fork_prepare = prepare;
    fork_parent = parent;
    fork_child = child;
    pthread_once(&fork_once, register_at_fork);
}

int smmap__mutex_init(smmap_mutex *m)
{
    return -pthread_mutex_init(&m->mu, NULL);
}

void smmap__mutex_destroy(smmap_mutex *m)
{
    pthread_mutex_destroy(&m->mu);
}

void smmap__mutex_lock(smmap_mutex *m)
{
    pthread_mutex_lock(&m->mu);
}

void smmap__mutex_unlock(smmap_mutex *m)
{
    pthread_mutex_unlock(&m->mu);
}

#endif /* !_WIN32 */
