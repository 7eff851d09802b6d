/*
 * test_manager.c - options and defaults, validation, collect, release_path,
 * statistics, and the deferred free.
 */
#include "test.h"
#include "os.h"

static void test_manager__defaults(void)
{
    smmap_options o;
    uint64_t map_count = test_system_max_map_count();
    uint64_t nofile = test_system_max_open_files();

    smmap_options_init(&o);
    if (sizeof(void *) >= 8) {
        CHECK_EQ(o.window_size, 1ull << 30);
        CHECK_EQ(o.max_mapped, 8ull << 30);
    } else {
        CHECK_EQ(o.window_size, 64ull << 20);
        CHECK_EQ(o.max_mapped, 1ull << 30);
    }
    CHECK_EQ(o.max_regions, map_count >= 4 ? map_count / 4 : 16384);
    if (nofile == 0)
        nofile = 1024;
    CHECK_EQ(o.max_open_files, nofile / 4 < 8 ? 8 : nofile / 4);
    CHECK_EQ(o.flags, 0);
}

static int new_with(uint64_t window, uint64_t max_mapped, uint32_t regions,
                    uint32_t files, uint32_t flags)
{
    smmap_options o;
    smmap_manager *m = (smmap_manager *)&o;
    int err;
    smmap_options_init(&o);
    o.window_size = window;
    o.max_mapped = max_mapped;
    o.max_regions = regions;
    o.max_open_files = files;
    o.flags = flags;
    err = smmap_manager_new(&m, &o);
    if (err == 0)
        smmap_manager_free(m);
    else
        CHECK(m == NULL);
    return err;
}

static void test_manager__options_are_validated(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m;

    CHECK_EQ(new_with(g, 0, 10, 10, 0), -EINVAL);
    CHECK_EQ(new_with(g, g, 0, 10, 0), -EINVAL);
    CHECK_EQ(new_with(g, g, 10, 0, 0), -EINVAL);
    CHECK_EQ(new_with(4 * g, 2 * g, 10, 10, 0), -EINVAL);
    CHECK_EQ(new_with(g + 1, g + 1, 10, 10, 0), -EINVAL); /* rounds to 2g */
    CHECK_EQ(new_with(g, g, 10, 10, 0x80), -EINVAL);
    CHECK_EQ(new_with(UINT64_MAX, UINT64_MAX, 10, 10, 0), -EINVAL);
    CHECK_EQ(new_with(0, 1, 1, 1, 0), 0); /* static: any budget */
    CHECK_EQ(new_with(g, g, 1, 1, SMMAP_HARD_LIMITS), 0);
    CHECK_EQ(smmap_manager_new(NULL, NULL), -EINVAL);
    REQUIRE_EQ(smmap_manager_new(&m, NULL), 0);
    smmap_manager_free(m);
    smmap_manager_free(NULL);
}

static void test_manager__window_rounds_up_to_granularity(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g + 1, 10 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 10 * g));
    smmap_cursor c;
    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_cursor_use(&c, 0, 1), 0);
    CHECK_EQ(c.size, 2 * g);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_manager__collect_unmaps_only_unused(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g, 100 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 10 * g));
    smmap_cursor a, b;
    smmap_stats s;

    smmap_cursor_init(&a, f);
    smmap_cursor_init(&b, f);
    REQUIRE_EQ(smmap_cursor_use(&a, 0, 1), 0);
    REQUIRE_EQ(smmap_cursor_use(&b, 5 * g, 1), 0);
    REQUIRE_EQ(smmap_cursor_use(&b, 8 * g, 1), 0);
    CHECK_EQ(smmap_manager_collect(m), 1);
    CHECK_EQ(smmap_manager_collect(m), 0);
    CHECK_EQ(smmap_manager_collect(NULL), 0);
    s = test_stats(m);
    CHECK_EQ(s.regions, 2);
    CHECK_EQ(s.mapped_bytes, 2 * g);
    CHECK_EQ(s.evictions, 0); /* collect is not eviction */
    CHECK_EQ(s.unmaps, 1);
    CHECK(pattern_matches(a.data, 0, a.size));
    smmap_cursor_release(&a);
    smmap_cursor_release(&b);
    CHECK_EQ(smmap_manager_collect(m), 2);
    CHECK_EQ(test_stats(m).files_mapped, 0);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_manager__release_path_busy_then_frees(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g, 100 * g, 10, 10, 0);
    smmap_file *a = test_open(m, fixture_file("pack-a", 10 * g));
    smmap_file *b = test_open(m, fixture_file("other", 10 * g));
    smmap_cursor ca, cb;
    smmap_stats before, s;
    char prefix[700];

    snprintf(prefix, sizeof(prefix), "%s", fixture_path("pack-"));
    smmap_cursor_init(&ca, a);
    smmap_cursor_init(&cb, b);
    REQUIRE_EQ(smmap_cursor_use(&ca, 0, 1), 0);
    REQUIRE_EQ(smmap_cursor_use(&cb, 0, 1), 0);
    REQUIRE_EQ(smmap_cursor_use(&ca, 3 * g, 1), 0); /* one unused region */
    before = test_stats(m);
    CHECK_EQ(smmap_manager_release_path(m, prefix), -EBUSY);
    s = test_stats(m);
    CHECK_EQ(s.regions, before.regions);
    CHECK_EQ(s.open_fds, before.open_fds);
    CHECK_EQ(s.unmaps, before.unmaps);

    smmap_cursor_release(&ca);
    CHECK_EQ(smmap_manager_release_path(m, prefix), 0);
    s = test_stats(m);
    CHECK_EQ(s.regions, 1); /* b's */
    CHECK_EQ(s.open_fds, 1);
    CHECK_EQ(s.files, 2);
    CHECK_EQ(s.files_mapped, 1);
    /* The handle stays usable: its descriptor is reopened. */
    REQUIRE_EQ(smmap_cursor_use(&ca, 9 * g, 1), 0);
    CHECK(pattern_matches(ca.data, ca.begin, ca.size));
    CHECK_EQ(test_stats(m).fd_reopens, 1);
    smmap_cursor_release(&ca);
    smmap_cursor_release(&cb);
    CHECK_EQ(smmap_manager_release_path(m, "no such prefix"), 0);
    CHECK_EQ(smmap_manager_release_path(m, NULL), -EINVAL);
    CHECK_EQ(smmap_manager_release_path(NULL, prefix), -EINVAL);
    CHECK_EQ(smmap_manager_release_path(m, ""), 0); /* everything */
    s = test_stats(m);
    CHECK_EQ(s.regions, 0);
    CHECK_EQ(s.open_fds, 0);
    smmap_file_close(a);
    smmap_file_close(b);
    smmap_manager_free(m);
}

static void test_manager__stats_of_null(void)
{
    smmap_stats s;
    memset(&s, 0xff, sizeof(s));
    smmap_manager_stats(NULL, &s);
    CHECK_EQ(s.mapped_bytes, 0);
    CHECK_EQ(s.regions, 0);
    CHECK_EQ(s.retries, 0);
    smmap_manager_stats(NULL, NULL);
}

static const void *watched;
static int watched_freed;
static void watching_free(void *p)
{
    watched_freed += p != NULL && p == watched;
    smmap__os_default.free(p);
}

static void test_manager__free_is_deferred_until_last_close(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g, 100 * g, 10, 10, 0);
    smmap_file *a = test_open(m, fixture_file("a", 3 * g));
    smmap_file *b = test_open(m, fixture_file("b", 3 * g));
    smmap_cursor c;
    unsigned char buf[8];

    watched = m;
    watched_freed = 0;
    smmap__os.free = watching_free;
    smmap_manager_free(m); /* marked only: a and b stay usable */
    CHECK_EQ(watched_freed, 0);
    {
        /* but no new handle may keep it alive */
        smmap_file *late = a;
        CHECK_EQ(smmap_file_open(m, fixture_file("late", g), &late), -EINVAL);
        CHECK(late == NULL);
        CHECK_EQ(smmap_file_open(m, fixture_path("a"), &late), -EINVAL);
        CHECK(late == NULL);
    }
    smmap_cursor_init(&c, b);
    CHECK_EQ(smmap_read(&c, 2 * g, buf, 8), 8);
    CHECK(pattern_matches(buf, 2 * g, 8));
    smmap_cursor_release(&c);
    smmap_file_close(b);
    smmap_cursor_init(&c, a);
    CHECK_EQ(smmap_read(&c, 5, buf, 8), 8);
    CHECK(pattern_matches(buf, 5, 8));
    smmap_cursor_release(&c);
    CHECK_EQ(watched_freed, 0);
    smmap_file_close(a); /* the last handle: frees the manager */
    CHECK_EQ(watched_freed, 1);
    smmap__os.free = smmap__os_default.free;
}

static void test_manager__many_files_in_the_table(void)
{
    enum { N = 40 };
    smmap_manager *m = test_manager(65536, 1 << 26, 1000, 4, 0);
    smmap_file *f[N];
    char name[32];
    int i;

    for (i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        f[i] = test_open(m, fixture_file(name, 100 + (uint64_t)i));
    }
    CHECK_EQ(test_stats(m).files, N);
    CHECK_EQ(test_stats(m).open_fds, 4);
    for (i = 0; i < N; i++) {
        smmap_cursor c;
        unsigned char byte;
        smmap_cursor_init(&c, f[i]);
        CHECK_EQ(smmap_read(&c, 99 + (uint64_t)i, &byte, 1), 1);
        CHECK_EQ(byte, pattern_byte(99 + (uint64_t)i));
        smmap_cursor_release(&c);
    }
    CHECK_EQ(test_stats(m).files_mapped, N);
    CHECK_EQ(test_stats(m).open_fds, 4);
    for (i = 0; i < N; i++)
        smmap_file_close(f[i]);
    CHECK_EQ(test_stats(m).files, 0);
    CHECK_EQ(test_stats(m).regions, 0);
    smmap_manager_free(m);
}

static const test_case tests[] = {
    TEST_ENTRY(test_manager__defaults),
    TEST_ENTRY(test_manager__options_are_validated),
    TEST_ENTRY(test_manager__window_rounds_up_to_granularity),
    TEST_ENTRY(test_manager__collect_unmaps_only_unused),
    TEST_ENTRY(test_manager__release_path_busy_then_frees),
    TEST_ENTRY(test_manager__stats_of_null),
    TEST_ENTRY(test_manager__free_is_deferred_until_last_close),
    TEST_ENTRY(test_manager__many_files_in_the_table),
};

TEST_MAIN(tests)
