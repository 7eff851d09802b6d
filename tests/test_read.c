/*
 * test_read.c - smmap_read: copies across windows, at the end of the file,
 * with absurd lengths, and within a tiny budget.
 */
#include "test.h"

static void test_read__across_windows_matches_file(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g, 3 * g, 10, 10, SMMAP_ALWAYS_MAP);
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
    smmap_manager *m = test_manager(2 * g, 2 * g, 10, 10, SMMAP_ALWAYS_MAP);
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

/*
 * Random 64-byte reads over 64 windows with room for 2: each window is
 * evicted after about one read, so the average yield falls from its
 * optimistic start (64) below 8 after 16 evictions, and from then on 31 of
 * 32 misses are one pread each. A sequential scan afterwards: the exploring
 * windows serve dozens of reads each, the average climbs back above 8, and
 * mapping resumes.
 */
static void test_read__pressure_prefers_pread(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g, 2 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 64 * g));
    smmap_cursor c;
    unsigned char buf[64];
    unsigned seed = 7;
    smmap_stats s, after_random;
    uint64_t off;
    int i;

    smmap_cursor_init(&c, f);
    for (i = 0; i < 2000; i++) {
        seed = seed * 1103515245u + 12345u;
        off = (uint64_t)(seed >> 8) % (64 * g - sizeof(buf));
        REQUIRE_EQ(smmap_read(&c, off, buf, sizeof(buf)), sizeof(buf));
        CHECK(pattern_matches(buf, off, sizeof(buf)));
    }
    after_random = s = test_stats(m);
    CHECK(s.direct_reads >= 1800);
    CHECK(s.maps <= 100);
    CHECK(s.maps + s.direct_reads + s.reuses >= 1990);
    CHECK(s.mapped_bytes <= 2 * g);
    for (off = 0; off + sizeof(buf) <= 64 * g; off += sizeof(buf)) {
        REQUIRE_EQ(smmap_read(&c, off, buf, sizeof(buf)), sizeof(buf));
        CHECK(pattern_matches(buf, off, sizeof(buf)));
    }
    s = test_stats(m);
    /* Most of the scan went through windows again: far fewer preads than
     * its 4096 reads. */
    CHECK(s.direct_reads - after_random.direct_reads < 200);
    CHECK(s.maps - after_random.maps >= 50);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* The guarded copy has paths by size (1-3, 4-7, 8-16, more): every length
 * from 0 to 40 at every start within a 16-byte stretch copies exactly. */
static void test_read__every_small_length_and_alignment(void)
{
    smmap_manager *m = test_manager(0, 1 << 20, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 4096));
    smmap_cursor c;
    unsigned char buf[64];
    size_t len, start, i;

    smmap_cursor_init(&c, f);
    for (start = 1000; start < 1016; start++) {
        for (len = 0; len <= 40; len++) {
            memset(buf, 0xCC, sizeof(buf));
            REQUIRE_EQ(smmap_read(&c, start, buf + 8, len), len);
            CHECK(pattern_matches(buf + 8, start, len));
            for (i = 0; i < 8; i++)
                CHECK_EQ(buf[i], 0xCC);
            for (i = 8 + len; i < sizeof(buf); i++)
                CHECK_EQ(buf[i], 0xCC);
        }
    }
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static const test_case tests[] = {
    TEST_ENTRY(test_read__every_small_length_and_alignment),
    TEST_ENTRY(test_read__pressure_prefers_pread),
    TEST_ENTRY(test_read__across_windows_matches_file),
    TEST_ENTRY(test_read__bad_arguments),
    TEST_ENTRY(test_read__static_mode),
    TEST_ENTRY(test_read__sequential_scan_maps_each_window_once),
};

TEST_MAIN(tests)
