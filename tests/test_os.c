/*
 * test_os.c - the OS layer's own contract (src/os.h), called through
 * smmap__os_default, the real functions: errors as negative errno values,
 * sizes and kinds from fstat, offsets the platform cannot take, and (on
 * POSIX) the EINTR retry loops, which must retry an interrupted call and
 * nothing else.
 *
 * The rest of the suite reaches these functions through the library, where
 * the conditions below (a stale errno, a directory's st_size, an offset past
 * INT64_MAX) never arise on their own.
 */
#include "test.h"
#include "os.h"

#include <errno.h>

#ifndef _WIN32
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/utsname.h>
#endif
#endif

static void test_os__open_missing_is_enoent(void)
{
    smmap_os_fd fd = -7;
    CHECK_EQ(smmap__os_default.open_ro(fixture_path("missing"), &fd), -ENOENT);
    CHECK_EQ(fd, -7); /* untouched on failure */
}

static void test_os__fstat_regular_and_directory(void)
{
    const char *path = fixture_file("data", 12345);
    smmap_os_fd fd;
    smmap_os_stat st;

    REQUIRE_EQ(smmap__os_default.open_ro(path, &fd), 0);
    REQUIRE_EQ(smmap__os_default.fstat(fd, &st), 0);
    CHECK_EQ(st.size, 12345);
    CHECK_EQ(st.kind, SMMAP_OS_REGULAR);
    CHECK_EQ(smmap__os_default.close(fd), 0);

#ifndef _WIN32
    /* A directory opens read-only on POSIX; its st_size (4096 on ext4) is
     * not a file size: the layer reports 0. */
    REQUIRE_EQ(smmap__os_default.open_ro(fixture_dir(), &fd), 0);
    REQUIRE_EQ(smmap__os_default.fstat(fd, &st), 0);
    CHECK_EQ(st.kind, SMMAP_OS_DIRECTORY);
    CHECK_EQ(st.size, 0);
    CHECK_EQ(smmap__os_default.close(fd), 0);
#endif
}

static void test_os__offsets_past_int64_are_eoverflow(void)
{
    const char *path = fixture_file("data", 4096);
    smmap_os_fd fd;
    unsigned char buf[16];
    void *base = NULL;

    REQUIRE_EQ(smmap__os_default.open_ro(path, &fd), 0);
    CHECK_EQ(smmap__os_default.pread(fd, buf, sizeof(buf), UINT64_MAX),
             -EOVERFLOW);
    CHECK_EQ(smmap__os_default.pread(fd, buf, sizeof(buf),
                                     (uint64_t)INT64_MAX + 1),
             -EOVERFLOW);
    CHECK_EQ(smmap__os_default.map(fd, UINT64_MAX - 4095, 4096, &base),
             -EOVERFLOW);
    CHECK(base == NULL);
    /* At and past the end: a short count, then 0. */
    CHECK_EQ(smmap__os_default.pread(fd, buf, sizeof(buf), 4090), 6);
    CHECK_EQ(buf[0], pattern_byte(4090));
    CHECK_EQ(smmap__os_default.pread(fd, buf, sizeof(buf), 4096), 0);
    CHECK_EQ(smmap__os_default.close(fd), 0);
}

static void test_os__dup_of_invalid_descriptor_is_ebadf(void)
{
    smmap_os_fd fd = -7;
    CHECK_EQ(smmap__os_default.dup_fd(-1, &fd), -EBADF);
    CHECK_EQ(fd, -7);
}

static void test_os__granularity_is_a_power_of_two(void)
{
    uint64_t g = smmap__os_default.granularity();
    CHECK(g >= 4096);
    CHECK_EQ(g & (g - 1), 0);
}

#ifndef _WIN32
/* A successful call leaves errno as it was, so a loop that tested errno
 * without the failed result would retry a call that succeeded. Start from
 * errno == EINTR to see that it does not. */

static void test_os__open_success_is_not_retried(void)
{
    const char *path = fixture_file("data", 100);
    smmap_os_fd fd;
    int saved_stdin = dup(0);
    int opened;

    /* With descriptor 0 free, a successful open returns 0: the one value
     * where "fd < 0" and "fd < 1" differ. */
    REQUIRE_EQ(saved_stdin >= 0, 1);
    close(0);
    errno = EINTR;
    opened = smmap__os_default.open_ro(path, &fd);
    CHECK_EQ(opened, 0);
    CHECK_EQ(fd, 0);
    if (opened == 0 && fd != 0)
        smmap__os_default.close(fd);
    dup2(saved_stdin, 0); /* also closes the 0 we opened */
    close(saved_stdin);
    /* and with the usual lowest free descriptor, above 2 */
    errno = EINTR;
    opened = smmap__os_default.open_ro(path, &fd);
    CHECK_EQ(opened, 0);
    CHECK_EQ(fd > 2, 1);
    if (opened == 0)
        CHECK_EQ(smmap__os_default.close(fd), 0);
}

/* Descriptor 0 is a descriptor like any other: dup_fd accepts it, and
 * gives it out when it is the lowest free one. */
static void test_os__dup_fd_uses_and_gives_descriptor_zero(void)
{
    const char *path = fixture_file("data", 100);
    int saved_stdin = dup(0), fd;
    smmap_os_fd copy = -7, copy2 = -7;
    smmap_os_stat st;

    REQUIRE_EQ(saved_stdin >= 0, 1);
    fd = open(path, O_RDONLY);
    REQUIRE_EQ(fd >= 0, 1);
    close(0);
    CHECK_EQ(smmap__os_default.dup_fd(fd, &copy), 0);
    CHECK_EQ(copy, 0);
    /* and 0 itself can be duplicated: it is the file, 100 bytes */
    CHECK_EQ(smmap__os_default.dup_fd(0, &copy2), 0);
    CHECK_EQ(copy2 > 0, 1);
    if (copy2 > 0) {
        CHECK_EQ(smmap__os_default.fstat(copy2, &st), 0);
        CHECK_EQ(st.size, 100);
        CHECK_EQ(smmap__os_default.close(copy2), 0);
    }
    close(fd);
    dup2(saved_stdin, 0);
    close(saved_stdin);
}

static void test_os__closed_descriptor_is_ebadf(void)
{
    smmap_os_stat st;
    int fd = open("/", O_RDONLY);
    REQUIRE_EQ(fd >= 0, 1);
    CHECK_EQ(smmap__os_default.close(fd), 0);
    CHECK_EQ(smmap__os_default.close(fd), -EBADF);
    CHECK_EQ(smmap__os_default.fstat(fd, &st), -EBADF);
}

/* The modification time in nanoseconds since the epoch, exactly: the
 * identity check compares it with what the file says later. */
static void test_os__fstat_gives_mtime_in_nanoseconds(void)
{
    const char *path = fixture_file("data", 10);
    struct timespec times[2] = {{1000000000, 0}, {1234567890, 987654321}};
    smmap_os_fd fd;
    smmap_os_stat st;

    REQUIRE_EQ(utimensat(AT_FDCWD, path, times, 0), 0);
    REQUIRE_EQ(smmap__os_default.open_ro(path, &fd), 0);
    REQUIRE_EQ(smmap__os_default.fstat(fd, &st), 0);
    CHECK_EQ(st.mtime_ns, 1234567890987654321ll);
    CHECK_EQ(smmap__os_default.close(fd), 0);
}

/* The limits the defaults derive from: vm.max_map_count (0 where
 * unreadable) and the soft RLIMIT_NOFILE (0 when unlimited), as the
 * fixture reads them without the OS layer. */
static void test_os__limits_are_the_systems(void)
{
    CHECK_EQ(smmap__os_default.max_map_count(), test_system_max_map_count());
    CHECK_EQ(smmap__os_default.max_open_files(), test_system_max_open_files());
#ifdef __linux__
    CHECK(test_system_max_map_count() > 0); /* readable: a real comparison */
#endif
    CHECK(test_system_max_open_files() > 0);
}

/* MADV_POPULATE_READ (Linux 5.14) succeeds where the library was built
 * with it (a libc's headers may lack it: musl 1.2.3) and the kernel has
 * it; the other advice is only advice: always 0. */
static void test_os__advice_results(void)
{
    const char *path = fixture_file("data", 8192);
    smmap_os_fd fd;
    void *base;
    int expect_populate = -EOPNOTSUPP, advice;
#ifdef __linux__
    struct utsname u;
    unsigned major = 0, minor = 0;
    if (smmap__os_populate_built && uname(&u) == 0 &&
        sscanf(u.release, "%u.%u", &major, &minor) == 2 &&
        (major > 5 || (major == 5 && minor >= 14)))
        expect_populate = 0;
#else
    CHECK_EQ(smmap__os_populate_built, 0);
#endif
    REQUIRE_EQ(smmap__os_default.open_ro(path, &fd), 0);
    REQUIRE_EQ(smmap__os_default.map(fd, 0, 8192, &base), 0);
    CHECK_EQ(smmap__os_default.advise(base, 8192, SMMAP_OS_POPULATE),
             expect_populate);
    for (advice = SMMAP_ADVICE_NORMAL; advice <= SMMAP_ADVICE_WILLNEED;
         advice++)
        CHECK_EQ(smmap__os_default.advise(base, 8192, advice), 0);
    CHECK_EQ(smmap__os_default.unmap(base, 8192), 0);
    CHECK_EQ(smmap__os_default.close(fd), 0);
}

/* The system's refusals come back as negative errno values. */
static void test_os__map_and_unmap_refusals(void)
{
    const char *path = fixture_file("data", 4096);
    smmap_os_fd fd;
    void *base = NULL;

    REQUIRE_EQ(smmap__os_default.open_ro(path, &fd), 0);
    CHECK_EQ(smmap__os_default.map(fd, 0, 0, &base), -EINVAL);
    CHECK_EQ(smmap__os_default.map(fd, 100, 4096, &base), -EINVAL);
    CHECK(base == NULL);
    CHECK_EQ(smmap__os_default.unmap((void *)(uintptr_t)1, 4096), -EINVAL);
    CHECK_EQ(smmap__os_default.close(fd), 0);
}

static void test_os__pread_success_is_not_retried(void)
{
    const char *path = fixture_file("data", 100);
    smmap_os_fd fd;
    unsigned char buf[8];

    REQUIRE_EQ(smmap__os_default.open_ro(path, &fd), 0);
    errno = EINTR;
    CHECK_EQ(smmap__os_default.pread(fd, buf, sizeof(buf), 10), 8);
    CHECK_EQ(buf[7], pattern_byte(17));
    errno = EINTR; /* and 0 at the end of the file is a result too */
    CHECK_EQ(smmap__os_default.pread(fd, buf, sizeof(buf), 100), 0);
    CHECK_EQ(smmap__os_default.close(fd), 0);
}

static void test_os__pread_error_is_returned_once(void)
{
    /* A descriptor that is not open: EBADF, returned, not retried. */
    unsigned char buf[8];
    int fd = open("/", O_RDONLY);
    REQUIRE_EQ(fd >= 0, 1);
    close(fd);
    CHECK_EQ(smmap__os_default.pread(fd, buf, sizeof(buf), 0), -EBADF);
    /* A directory: EISDIR. */
    fd = open(fixture_dir(), O_RDONLY);
    REQUIRE_EQ(fd >= 0, 1);
    CHECK_EQ(smmap__os_default.pread(fd, buf, sizeof(buf), 0), -EISDIR);
    close(fd);
}

/* The system's page: what a truncation loses and what MAP_FIXED places,
 * whatever the library's alignment (SMMAP_GRANULARITY may make that
 * larger). */
static size_t system_page(void)
{
    long page = sysconf(_SC_PAGESIZE);
    CHECK(page >= 4096);
    return page >= 4096 ? (size_t)page : 4096;
}

/* The guarded copy's own contract: len when the bytes were copied, -EIO when
 * the source faulted (the library maps any failure to its own error, so
 * only this test sees the value). Every size up to 200 bytes (each of the
 * copy's paths: 1-3, 4-7, 8-16, 17-32, 33-64 bytes, the loop above) and
 * around 4 KiB (the 64-byte loop up to 4 KiB, rep movsb above): ending on
 * the last good byte it copies exactly those bytes and writes nothing past
 * them; with its last byte in the lost pages, or wholly in them, it is
 * -EIO (the map has two lost pages, room for the largest size). */
static void test_os__guarded_copy_of_a_lost_page_is_eio(void)
{
    static const size_t large[] = {4095, 4096, 4097, 5000, 8192};
    const size_t page = system_page();
    const char *path = fixture_file("data", 4 * page);
    smmap_os_fd fd;
    const unsigned char *base;
    void *map;
    unsigned char buf[8192 + 1];
    size_t n, i;

    REQUIRE_EQ(smmap__os_default.open_ro(path, &fd), 0);
    REQUIRE_EQ(smmap__os_default.map(fd, 0, 4 * page, &map), 0);
    base = map;
    smmap__os_default.guard_install();
    REQUIRE_EQ(truncate(path, (off_t)(2 * page)), 0);
    for (n = 0; n <= 200 + sizeof(large) / sizeof(large[0]); n++) {
        size_t len = n <= 200 ? n : large[n - 201];
        const unsigned char *src = base + 2 * page - len;
        memset(buf, 0xEE, sizeof(buf));
        CHECK_EQ(smmap__os_default.guarded_copy(buf, src, len), (int64_t)len);
        for (i = 0; i < len && buf[i] == pattern_byte(2 * page - len + i); i++)
            ;
        CHECK_EQ(i, len);
        CHECK_EQ(buf[len], 0xEE);
        if (len == 0)
            continue;
        CHECK_EQ(smmap__os_default.guarded_copy(buf, src + 1, len), -EIO);
        CHECK_EQ(smmap__os_default.guarded_copy(buf, base + 2 * page, len),
                 -EIO);
    }
    CHECK_EQ(smmap__os_default.unmap(map, 4 * page), 0);
    CHECK_EQ(smmap__os_default.close(fd), 0);
}

/* A fault inside rep movsb: copies above 4 KiB copy their last 64 bytes
 * first, so a truncation (which loses the end) faults there; a hole in the
 * middle faults in the rep movsb itself, whose registers the handler reads
 * differently. The hole is a page of a second file, truncated, mapped
 * between two pages of the first (not an inaccessible page: valgrind would
 * report every load of it as an invalid read, handled or not). */
static void test_os__guarded_copy_hole_in_a_large_copy_is_eio(void)
{
    const size_t page = system_page();
    const char *path = fixture_file("data", 3 * page);
    const char *hole = fixture_file("hole", page);
    int fd = open(path, O_RDONLY), hole_fd = open(hole, O_RDONLY);
    unsigned char *base, *buf = malloc(3 * page);
    void *map;

    REQUIRE_EQ(fd >= 0 && hole_fd >= 0 && buf != NULL, 1);
    map = mmap(NULL, 3 * page, PROT_READ, MAP_SHARED, fd, 0);
    REQUIRE_EQ(map != MAP_FAILED, 1);
    base = map;
    /* the middle page replaced by the other file's */
    REQUIRE_EQ(mmap(base + page, page, PROT_READ, MAP_SHARED | MAP_FIXED,
                    hole_fd, 0) == base + page,
               1);
    smmap__os_default.guard_install();
    CHECK_EQ(smmap__os_default.guarded_copy(buf, base + 100, 3 * page - 200),
             (int64_t)(3 * page - 200));
    CHECK_EQ(buf[0], pattern_byte(100));
    CHECK_EQ(buf[3 * page - 201], pattern_byte(3 * page - 101));
    REQUIRE_EQ(truncate(hole, 0), 0);
    CHECK_EQ(smmap__os_default.guarded_copy(buf, base + 100, 3 * page - 200),
             -EIO);
    CHECK_EQ(munmap(map, 3 * page), 0);
    CHECK_EQ(close(fd), 0);
    CHECK_EQ(close(hole_fd), 0);
    free(buf);
}
#endif

static const test_case tests[] = {
    TEST_ENTRY(test_os__open_missing_is_enoent),
    TEST_ENTRY(test_os__fstat_regular_and_directory),
    TEST_ENTRY(test_os__offsets_past_int64_are_eoverflow),
    TEST_ENTRY(test_os__dup_of_invalid_descriptor_is_ebadf),
    TEST_ENTRY(test_os__granularity_is_a_power_of_two),
#ifndef _WIN32
    TEST_ENTRY(test_os__open_success_is_not_retried),
    TEST_ENTRY(test_os__dup_fd_uses_and_gives_descriptor_zero),
    TEST_ENTRY(test_os__closed_descriptor_is_ebadf),
    TEST_ENTRY(test_os__fstat_gives_mtime_in_nanoseconds),
    TEST_ENTRY(test_os__map_and_unmap_refusals),
    TEST_ENTRY(test_os__limits_are_the_systems),
    TEST_ENTRY(test_os__advice_results),
    TEST_ENTRY(test_os__pread_success_is_not_retried),
    TEST_ENTRY(test_os__pread_error_is_returned_once),
    TEST_ENTRY(test_os__guarded_copy_of_a_lost_page_is_eio),
    TEST_ENTRY(test_os__guarded_copy_hole_in_a_large_copy_is_eio),
#endif
};

TEST_MAIN(tests)
