/*
 * test_read.c - smmap_read: copies across windows, at the end of the file,
 * with absurd lengths, and within a tiny budget.
 */
#include "test.h"

static void test_read__across_windows_matches_file(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g, 3 * g, 10, 10, 0);
    const char *path = fixture_file("data", 10 * g + 123);
    smmap_file *f = test_open(m, path);
    smmap_cursor c;
    static unsigned char got[12 * 65536], want[12 * 65536];
    int64_t n;

    smmap_cursor_init(&c, f);
    n = smmap_read(&c, 7, got, 10 * g + 116);
    REQUIRE_EQ(n, 10 * g + 116);
    REQUIRE_EQ(fixture_read(path, 7, want, (size_t)n), n);
    CHECK(memcmp(got, want, (size_t)n) == 0);
    CHECK(test_stats(m).peak_mapped_bytes <= 3 * g);
    /* At the tail: fewer bytes than asked; at or past the end: 0. */
    CHECK_EQ(smmap_read(&c, 10 * g + 100, got, 1000), 23);
    CHECK(pattern_matches(got, 10 * g + 100, 23));
    CHECK_EQ(smmap_read(&c, 10 * g + 123, got, 10), 0);
    CHECK_EQ(smmap_read(&c, UINT64_MAX, got, 10), 0);
    CHECK_EQ(smmap_read(&c, 0, got, 0), 0);
    /* A length of SIZE_MAX is clamped to the file, never mapped whole. */
    CHECK_EQ(smmap_read(&c, 5 * g, got, SIZE_MAX), 5 * g + 123);
    CHECK(pattern_matches(got, 5 * g, (size_t)(5 * g + 123)));
    CHECK(test_stats(m).peak_mapped_bytes <= 3 * g);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_read__bad_arguments(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g, 3 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 100));
    smmap_cursor c;
    unsigned char byte;

    CHECK_EQ(smmap_read(NULL, 0, &byte, 1), -EINVAL);
    smmap_cursor_init(&c, NULL);
    CHECK_EQ(smmap_read(&c, 0, &byte, 1), -EINVAL);
    smmap_cursor_init(&c, f);
    CHECK_EQ(smmap_read(&c, 0, NULL, 1), -EINVAL);
    CHECK_EQ(c.error, -EINVAL);
    CHECK_EQ(smmap_read(&c, 0, NULL, 0), 0);
    CHECK_EQ(test_stats(m).maps, 0);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_read__static_mode(void)
{
    smmap_manager *m = test_manager(0, 1 << 20, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 300000));
    smmap_cursor c;
    unsigned char buf[1000];

    smmap_cursor_init(&c, f);
    CHECK_EQ(smmap_read(&c, 299500, buf, sizeof(buf)), 500);
    CHECK(pattern_matches(buf, 299500, 500));
    CHECK_EQ(c.begin, 0);
    CHECK_EQ(c.size, 300000);
    CHECK_EQ(test_stats(m).maps, 1);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_read__sequential_scan_maps_each_window_once(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(2 * g, 2 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 20 * g));
    smmap_cursor c;
    unsigned char buf[1000];
    uint64_t off = 0;
    int64_t n;

    smmap_cursor_init(&c, f);
    while ((n = smmap_read(&c, off, buf, sizeof(buf))) > 0) {
        CHECK(pattern_matches(buf, off, (size_t)n));
        off += (uint64_t)n;
    }
    CHECK_EQ(off, 20 * g);
    /* A one-window budget: each window is placed ahead, never behind. */
    CHECK_EQ(test_stats(m).maps, 10);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static const test_case tests[] = {
    TEST_ENTRY(test_read__across_windows_matches_file),
    TEST_ENTRY(test_read__bad_arguments),
    TEST_ENTRY(test_read__static_mode),
    TEST_ENTRY(test_read__sequential_scan_maps_each_window_once),
};

TEST_MAIN(tests)
