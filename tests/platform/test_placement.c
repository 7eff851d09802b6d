/*
 * test_placement.c - windows placed at the Windows allocation granularity
 * (64 KiB), with the exact offsets and sizes smmap's placement gives.
 *
 * On Windows the granularity is the system's (asserted to be 65536). On
 * POSIX the OS table's granularity entry is set to 65536 for these tests, so
 * the same literal windows are checked on every platform, and mmap takes
 * them since 64 KiB is a multiple of the page size. What only the real
 * Windows call does (refusing a view at a 4 KiB offset) is asserted per
 * build.
 */
#include "test.h"
#include "os.h"

#ifndef _WIN32
#include <unistd.h>
#endif

#define G 65536ull

static uint64_t (*saved_granularity)(void);

#ifndef _WIN32
static uint64_t granularity_64k(void)
{
    return G;
}
#endif

static void use_64k_granularity(void)
{
    saved_granularity = smmap__os.granularity;
#ifndef _WIN32
    smmap__os.granularity = granularity_64k;
#endif
}

static void restore_granularity(void)
{
    smmap__os.granularity = saved_granularity;
}

#define EXPECT_WINDOW(c, b, s)                                               \
    do {                                                                     \
        CHECK_EQ((c)->begin, (b));                                           \
        CHECK_EQ((c)->size, (s));                                            \
        CHECK_EQ((c)->begin % G, 0);                                         \
        if ((c)->data != NULL)                                               \
            CHECK(pattern_matches((c)->data, (c)->begin, (c)->size));        \
    } while (0)

/* On POSIX the page size, or the build's SMMAP_GRANULARITY where that is
 * larger (CMake -DSMMAP_GRANULARITY=65536 places windows as Windows does). */
static void test_platform__granularity_is_64k_on_windows(void)
{
#ifdef _WIN32
    CHECK_EQ(smmap__os_default.granularity(), 65536);
#else
    uint64_t expected = (uint64_t)sysconf(_SC_PAGESIZE);
#ifdef SMMAP_GRANULARITY
    if (expected < SMMAP_GRANULARITY)
        expected = SMMAP_GRANULARITY;
#endif
    CHECK_EQ(smmap__os_default.granularity(), expected);
#endif
}

/*
 * window_size 200000 rounds up to four granules (262144). Six requests, each
 * placed in the gap the earlier (pinned) ones leave: grown left to the
 * neighbour, aligned up inside the gap, then right, to at most the window.
 */
static void test_platform__placement_at_64k(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c[7];
    smmap_stats s;
    const uint64_t fsize = 25 * G + 500;
    int i;

    use_64k_granularity();
    m = test_manager(200000, 1000 * G, 100, 8, 0);
    f = test_open(m, fixture_file("data", fsize));
    for (i = 0; i < 7; i++)
        smmap_cursor_init(&c[i], f);

    /* Nothing mapped: from the start of the file, one whole window. */
    REQUIRE_EQ(smmap_cursor_use(&c[0], G + 904, 100), 0);
    EXPECT_WINDOW(&c[0], 0, 4 * G);

    /* Grown left by the window less the request (to 6G + 1100), aligned up
     * to 7G, then four granules right. */
    REQUIRE_EQ(smmap_cursor_use(&c[1], 10 * G + 1000, 100), 0);
    EXPECT_WINDOW(&c[1], 7 * G, 4 * G);

    /* The left neighbour ends at 11G, within reach: start there. */
    REQUIRE_EQ(smmap_cursor_use(&c[2], 12 * G + 5, 0), 0);
    EXPECT_WINDOW(&c[2], 11 * G, 4 * G);

    /* A gap of three granules between two regions is filled exactly. */
    REQUIRE_EQ(smmap_cursor_use(&c[3], 5 * G + 10, 10), 0);
    EXPECT_WINDOW(&c[3], 4 * G, 3 * G);

    /* At the end of the file: grown left to 21G + 101, aligned up to 22G,
     * cut at the end of the file (not a granule boundary). */
    REQUIRE_EQ(smmap_cursor_use(&c[4], 25 * G + 100, 0), 0);
    EXPECT_WINDOW(&c[4], 22 * G, 3 * G + 500);

    /* A request of six granules, larger than the window, starting 7 bytes
     * into a granule and ending 7 bytes into the region at 22G: one
     * oversized region from 16G, overlapping that neighbour by exactly the
     * 7 bytes the contiguity needs. */
    REQUIRE_EQ(smmap_cursor_use(&c[5], 16 * G + 7, 6 * G), 0);
    EXPECT_WINDOW(&c[5], 16 * G, 6 * G + 7);

    /* Inside an existing region: reused, not duplicated. */
    REQUIRE_EQ(smmap_cursor_use(&c[6], 9 * G, 100), 0);
    EXPECT_WINDOW(&c[6], 7 * G, 4 * G);

    s = test_stats(m);
    CHECK_EQ(s.regions, 6);
    CHECK_EQ(s.maps, 6);
    CHECK_EQ(s.reuses, 1);
    CHECK_EQ(s.mapped_bytes, 4 * G + 4 * G + 4 * G + 3 * G + (3 * G + 500) +
                                 (6 * G + 7));

    for (i = 0; i < 7; i++)
        smmap_cursor_release(&c[i]);
    smmap_file_close(f);
    smmap_manager_free(m);
    restore_granularity();
}

/*
 * The OS layer itself: a view must start at a multiple of the allocation
 * granularity on Windows (a 4 KiB offset is refused with -EINVAL), while
 * POSIX maps at any page (the system's, whatever the library aligns its
 * windows to). A zero length is -EINVAL everywhere.
 */
static void test_platform__map_offset_alignment(void)
{
    smmap_os_fd fd = SMMAP_OS_NO_FD;
    void *base = NULL;
    const char *path = fixture_file("aligned", 4 * G);
    int err;

    REQUIRE_EQ(smmap__os.open_ro(path, &fd), 0);

    REQUIRE_EQ(smmap__os.map(fd, G, 4096, &base), 0);
    CHECK(pattern_matches(base, G, 4096));
    CHECK_EQ(smmap__os.unmap(base, 4096), 0);

    base = NULL;
#ifdef _WIN32
    err = smmap__os.map(fd, 4096, 4096, &base);
    CHECK_EQ(err, -EINVAL);
    CHECK(base == NULL);
#else
    {
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        err = smmap__os.map(fd, page, 4096, &base);
        CHECK_EQ(err, 0);
        if (err == 0) {
            CHECK(pattern_matches(base, page, 4096));
            CHECK_EQ(smmap__os.unmap(base, 4096), 0);
        }
    }
#endif

    CHECK_EQ(smmap__os.map(fd, 0, 0, &base), -EINVAL);
    CHECK_EQ(smmap__os.close(fd), 0);
}

static const test_case tests[] = {
    TEST_ENTRY(test_platform__granularity_is_64k_on_windows),
    TEST_ENTRY(test_platform__placement_at_64k),
    TEST_ENTRY(test_platform__map_offset_alignment),
};

TEST_MAIN(tests)
