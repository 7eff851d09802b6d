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
 * Random 64-byte reads over 64 windows with room for 2: a new window serves
 * about one read before the cursor moves on, so the policy's average falls
 * from its optimistic start (64) below 8 and most misses become one pread
 * each, with explorations backing off to one per 512-1024 misses. A
 * sequential scan afterwards: the first exploration serves 64 reads, the
 * average climbs back, and the rest of the scan maps windows again.
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
    /* After a read served by pread the cursor holds no window but keeps
     * the descriptor, which release_path must not close under it. */
    for (i = 0; i < 100 && c.data != NULL; i++) {
        seed = seed * 1103515245u + 12345u;
        off = (uint64_t)(seed >> 8) % (64 * g - sizeof(buf));
        REQUIRE_EQ(smmap_read(&c, off, buf, sizeof(buf)), sizeof(buf));
    }
    after_random = s = test_stats(m);
    CHECK(c.data == NULL);
    CHECK_EQ(c.holds_fd, 1);
    CHECK_EQ(smmap_manager_release_path(m, ""), -EBUSY);
    CHECK_EQ(test_stats(m).open_fds, 1);
    CHECK(s.direct_reads >= 1800);
    CHECK(s.maps <= 100);
    CHECK(s.maps + s.direct_reads + s.reuses >= 1990);
    CHECK(s.mapped_bytes <= 2 * g);
    for (off = 0; off + sizeof(buf) <= 64 * g; off += sizeof(buf)) {
        REQUIRE_EQ(smmap_read(&c, off, buf, sizeof(buf)), sizeof(buf));
        CHECK(pattern_matches(buf, off, sizeof(buf)));
        if (off + sizeof(buf) == 32 * g)
            after_random = test_stats(m); /* half way */
    }
    s = test_stats(m);
    /* Recovered within the first half (at most one exploration interval):
     * the second half is read through windows only, one map each. */
    CHECK_EQ(s.direct_reads, after_random.direct_reads);
    CHECK_EQ(s.maps - after_random.maps, 32);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* The guarded copy has paths by size (1-3, 4-7, 8-16, 17-4096, more):
 * every length from 0 to 300, and around 4096, at every start within a
 * 16-byte stretch, copies exactly and nothing more. */
static void test_read__every_small_length_and_alignment(void)
{
    smmap_manager *m = test_manager(0, 1 << 20, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 8192));
    smmap_cursor c;
    static unsigned char buf[4200];
    size_t len, start, i;

    smmap_cursor_init(&c, f);
    for (start = 1; start < 17; start++) {
        for (len = 0; len <= 4100; len += len == 300 ? 3780 : 1) {
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
