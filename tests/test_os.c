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
#include <sys/stat.h>
#include <unistd.h>
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

/* The guarded copy's own contract: 0 when the bytes were copied, -EIO when
 * the source faulted (the library maps any failure to its own error, so
 * only this test sees the value). */
static void test_os__guarded_copy_of_a_lost_page_is_eio(void)
{
    const char *path = fixture_file("data", 8192);
    smmap_os_fd fd;
    void *base;
    unsigned char buf[64];

    REQUIRE_EQ(smmap__os_default.open_ro(path, &fd), 0);
    REQUIRE_EQ(smmap__os_default.map(fd, 0, 8192, &base), 0);
    CHECK_EQ(smmap__os_default.guarded_copy(buf, (unsigned char *)base + 4000,
                                            64, 1), 0);
    CHECK_EQ(buf[63], pattern_byte(4063));
    REQUIRE_EQ(truncate(path, 4096), 0);
    CHECK_EQ(smmap__os_default.guarded_copy(buf, (unsigned char *)base + 5000,
                                            64, 1), -EIO);
    CHECK_EQ(smmap__os_default.unmap(base, 8192), 0);
    CHECK_EQ(smmap__os_default.close(fd), 0);
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
    TEST_ENTRY(test_os__pread_success_is_not_retried),
    TEST_ENTRY(test_os__pread_error_is_returned_once),
    TEST_ENTRY(test_os__guarded_copy_of_a_lost_page_is_eio),
#endif
};

TEST_MAIN(tests)
