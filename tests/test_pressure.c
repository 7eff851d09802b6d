/*
 * test_pressure.c - cursors under pressure: when the read policy finds that
 * new windows do not pay and a new one would evict, a cursor's miss gets a
 * pressure window (a small heap buffer filled by one pread, counted in
 * read_windows) instead of a mapping. These tests check what it holds, that
 * it keeps the budgets, the pins and the stats exact, that it is given up
 * when its cursor leaves, and that a scan brings mapped windows back.
 */
#include "test.h"
#include "smmap_int.h"

/* Random 64-byte smmap_cursor_at reads over 64 windows with room for 2,
 * the same pattern as test_read__pressure_prefers_pread: the policy's
 * average falls below 8 within the first few dozen windows. */
static uint64_t random_reads(smmap_cursor *c, uint64_t file_size, int count,
                             unsigned *seed)
{
    uint64_t off = 0;
    int i;
    for (i = 0; i < count; i++) {
        const unsigned char *p;
        *seed = *seed * 1103515245u + 12345u;
        off = (uint64_t)(*seed >> 8) % (file_size - 64);
        p = smmap_cursor_at(c, off, 64);
        if (p == NULL || !pattern_matches(p, off, 64)) {
            CHECK(p != NULL && pattern_matches(p, off, 64));
            return UINT64_MAX;
        }
    }
    return off;
}

static void test_pressure__random_cursor_reads_get_small_windows(void)
{
    uint64_t g = test_granularity(), last;
    smmap_manager *m = test_manager(g, 2 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 64 * g));
    smmap_cursor c;
    smmap_stats s;
    unsigned seed = 7;

    smmap_cursor_init(&c, f);
    last = random_reads(&c, 64 * g, 2000, &seed);
    REQUIRE_EQ(last == UINT64_MAX, 0);
    s = test_stats(m);
    fprintf(stderr, "random: %llu read_windows, %llu maps, %llu reuses\n",
            (unsigned long long)s.read_windows, (unsigned long long)s.maps,
            (unsigned long long)s.reuses);
    CHECK(s.read_windows >= 1700);
    CHECK(s.maps <= 100);
    /* Explorations that did not pay doubled the interval from 32 misses up
     * to its cap (32 + 64 + ... + 512 < 2000 misses). */
    CHECK_EQ(m->explore_every, 1024);
    CHECK_EQ(s.files_no_mmap, 0); /* the file itself still maps */
    CHECK(s.mapped_bytes <= 2 * g);
    CHECK(s.regions <= 3);
    /* The last read went to a pressure window (the explorations map one
     * miss in 32 or fewer; skip ahead to a read that did not): it holds the
     * request rounded to 64 bytes, not a page. */
    while (c.region != NULL && !c.region->transient)
        last = random_reads(&c, 64 * g, 1, &seed);
    REQUIRE_EQ(c.region != NULL, 1);
    CHECK_EQ(c.begin, last - last % 64);
    CHECK_EQ(c.size, last % 64 == 0 ? 64 : 128);
    CHECK_EQ(c.region->heap, 1);
    CHECK_EQ(smmap__region_pins(c.region), 1);
    CHECK(c.region->left == NULL && c.region->right == NULL);
    CHECK(f->entry->transients == c.region); /* listed, in no tree */
    /* The cursor holds the descriptor it reads from, like a direct read. */
    CHECK_EQ(c.holds_fd, 1);
    CHECK_EQ(smmap_manager_release_path(m, ""), -EBUSY);
    smmap_cursor_release(&c);
    CHECK_EQ(c.holds_fd, 0);
    CHECK(f->entry->transients == NULL);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* A budget of one window: the pressure window evicts the last mapped one,
 * so nothing is left to evict at the next miss. That room is the pressure
 * window's doing, not free: the miss gets a pressure window again, instead
 * of a map that the next pressure window evicts (before the fix, a map on
 * every other miss: 1000 of the 2000 reads below). Only explorations map,
 * one miss in 32 at most. */
static void test_pressure__one_window_budget_does_not_alternate(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g, g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 64 * g));
    smmap_cursor c;
    smmap_stats before, after;
    unsigned seed = 11;

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(random_reads(&c, 64 * g, 200, &seed) == UINT64_MAX, 0);
    before = test_stats(m);
    REQUIRE_EQ(random_reads(&c, 64 * g, 2000, &seed) == UINT64_MAX, 0);
    after = test_stats(m);
    CHECK(after.maps - before.maps <= 2000 / 32);
    CHECK(after.read_windows - before.read_windows >= 2000 - 2000 / 32);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* Under pressure with nothing cached (after a collect), a miss maps a
 * window when the budget has room for it and for a pressure window beside
 * it: the old window stays cached, as Python smmap's own test suite expects
 * (test_buf: a collect between two access patterns, then a mapped region
 * after reads). With room for the window alone it would not (see
 * test_pressure__one_window_budget_does_not_alternate). */
static void test_pressure__empty_cache_with_room_maps(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g, 4 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 64 * g));
    smmap_cursor c;
    smmap_stats before;
    unsigned seed = 13;
    unsigned char buf[64];

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(random_reads(&c, 64 * g, 500, &seed) == UINT64_MAX, 0);
    REQUIRE_EQ(m->pressure, 1);
    smmap_cursor_release(&c);
    smmap_manager_collect(m);
    REQUIRE_EQ(test_stats(m).regions, 0);
    before = test_stats(m);
    CHECK_EQ(smmap_read(&c, 10 * g + 5, buf, 64), 64);
    CHECK(pattern_matches(buf, 10 * g + 5, 64));
    CHECK_EQ(test_stats(m).maps, before.maps + 1);
    CHECK_EQ(test_stats(m).direct_reads, before.direct_reads);
    smmap_cursor_release(&c);
    CHECK_EQ(test_stats(m).regions, 1); /* cached */
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* Cursors under pressure on more files than max_open_files: each cursor
 * holds its file's descriptor for its direct reads and pressure windows,
 * but only as long as that keeps max_open_files descriptors or fewer busy;
 * the others hold theirs for one pread. So the budget holds after every
 * read (before, each cursor kept one: 8 open here, 446 for 500 files in
 * the benchmark's workload 3), while one cursor alone keeps its descriptor
 * across reads (no reopen). */
static void test_pressure__held_descriptors_keep_the_budget(void)
{
    enum { FILES = 8, BUDGET = 2 };
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g, 2 * g, 100, BUDGET, 0);
    smmap_file *f[FILES];
    smmap_cursor c[FILES];
    smmap_stats s;
    unsigned seed = 5, max_fds = 0;
    unsigned char buf[64];
    int i, k, errors = 0;

    for (i = 0; i < FILES; i++) {
        char name[8];
        snprintf(name, sizeof(name), "file%d", i);
        f[i] = test_open(m, fixture_file(name, 64 * g));
        smmap_cursor_init(&c[i], f[i]);
    }
    for (k = 0; k < 4000; k++) {
        uint64_t off;
        int which;
        seed = seed * 1103515245u + 12345u;
        which = (int)(seed >> 28) % FILES;
        off = (uint64_t)(seed >> 4) % (64 * g - 64);
        if (k % 2 == 0) {
            const unsigned char *p = smmap_cursor_at(&c[which], off, 64);
            errors += p == NULL || !pattern_matches(p, off, 64);
        } else {
            errors += smmap_read(&c[which], off, buf, 64) != 64 ||
                      !pattern_matches(buf, off, 64);
        }
        s = test_stats(m);
        if (s.open_fds > max_fds)
            max_fds = s.open_fds;
    }
    CHECK_EQ(errors, 0);
    CHECK_EQ(max_fds, BUDGET);
    CHECK(s.read_windows + s.direct_reads >= 3000); /* under pressure */
    for (i = 0; i < FILES; i++) {
        smmap_cursor_release(&c[i]);
        smmap_file_close(f[i]);
    }
    smmap_manager_free(m);

    /* One cursor, one file: its descriptor stays held across reads. */
    m = test_manager(g, 2 * g, 100, BUDGET, 0);
    f[0] = test_open(m, fixture_file("file0", 64 * g));
    smmap_cursor_init(&c[0], f[0]);
    REQUIRE_EQ(random_reads(&c[0], 64 * g, 2000, &seed) == UINT64_MAX, 0);
    s = test_stats(m);
    CHECK(s.read_windows >= 1700);
    CHECK_EQ(s.fd_reopens, 0);
    CHECK_EQ(s.fd_closes, 0);
    CHECK_EQ(c[0].holds_fd, SMMAP__HOLD_KEPT);
    smmap_cursor_release(&c[0]);
    smmap_file_close(f[0]);
    smmap_manager_free(m);
}

/* Given up when its cursor leaves: the counters go back by exactly its
 * size, it never enters the LRU (collect does not see it), and the next
 * one reuses its buffer. */
static void test_pressure__window_given_up_on_leave(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g, 2 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 64 * g));
    smmap_cursor c;
    smmap_stats held, left;
    size_t size;
    unsigned seed = 11;

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(random_reads(&c, 64 * g, 2000, &seed) == UINT64_MAX, 0);
    while (c.region == NULL || !c.region->transient)
        REQUIRE_EQ(random_reads(&c, 64 * g, 1, &seed) == UINT64_MAX, 0);
    held = test_stats(m);
    size = c.size;
    smmap_cursor_release(&c);
    left = test_stats(m);
    CHECK_EQ(left.regions, held.regions - 1);
    CHECK_EQ(left.mapped_bytes, held.mapped_bytes - size);
    CHECK_EQ(left.read_windows, held.read_windows);
    CHECK_EQ(left.unmaps, held.unmaps);
    CHECK_EQ(left.evictions, held.evictions);
    CHECK(f->entry->transients == NULL); /* freed when left */
    /* The file's region count includes the pressure window while held. */
    CHECK_EQ(held.files_mapped, 1);
    CHECK_EQ(f->entry->nregions, left.regions);
    CHECK_EQ(left.files_mapped, left.regions > 0 ? 1 : 0);
    CHECK(m->spare_window != NULL); /* kept for the next one */
    CHECK_EQ(smmap_manager_collect(m), left.regions);
    CHECK(m->spare_window == NULL); /* collect gives everything back */
    CHECK_EQ(test_stats(m).regions, 0);
    CHECK_EQ(test_stats(m).files_mapped, 0);
    CHECK_EQ(f->entry->nregions, 0);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* A pressure window on a file with no other region makes it a mapped file
 * (files_mapped) while held, like any region. */
static void test_pressure__window_counts_its_file_as_mapped(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g, 2 * g, 10, 10, 0);
    smmap_file *a = test_open(m, fixture_file("a", 64 * g));
    smmap_file *b = test_open(m, fixture_file("b", 64 * g));
    smmap_cursor ca, cb;
    unsigned seed = 5;
    uint64_t off;
    int tries;

    smmap_cursor_init(&ca, a);
    REQUIRE_EQ(random_reads(&ca, 64 * g, 2000, &seed) == UINT64_MAX, 0);
    smmap_cursor_release(&ca); /* a's windows wait in the LRU */
    CHECK_EQ(test_stats(m).files_mapped, 1);
    CHECK_EQ(b->entry->nregions, 0);
    smmap_cursor_init(&cb, b);
    /* Misses on b: pressure windows but for an exploration now and then. */
    for (tries = 0; tries < 100; tries++) {
        off = (uint64_t)tries * 997 * 64 % (63 * g);
        smmap_cursor_release(&cb);
        if (smmap_cursor_at(&cb, off, 64) == NULL)
            break;
        if (cb.region->transient && b->entry->nregions == 1)
            break;
    }
    REQUIRE_EQ(cb.region != NULL && cb.region->transient, 1);
    CHECK_EQ(b->entry->nregions, 1);
    CHECK_EQ(test_stats(m).files_mapped, 2);
    smmap_cursor_release(&cb);
    CHECK_EQ(b->entry->nregions, 0);
    CHECK_EQ(test_stats(m).files_mapped, 1);
    smmap_manager_collect(m);
    CHECK_EQ(test_stats(m).files_mapped, 0);
    smmap_file_close(a);
    smmap_file_close(b);
    smmap_manager_free(m);
}

/* The largest request a pressure window takes is half a window (64 KiB at
 * most), rounded out to 64 bytes: exactly half still gets one, 64 bytes
 * more is mapped. */
static void test_pressure__half_a_window_is_the_limit(void)
{
    uint64_t g = test_granularity(), off;
    smmap_manager *m = test_manager(g, 2 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 64 * g));
    smmap_cursor c;
    unsigned seed = 9;
    size_t half = (size_t)(g / 2 < 65536 ? g / 2 : 65536);
    int i, at_half = 0, over_half = 0;

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(random_reads(&c, 64 * g, 2000, &seed) == UINT64_MAX, 0);
    for (i = 0; i < 40; i++) {
        off = (uint64_t)(i * 7 % 60) * g + 64 * (uint64_t)(i % 5);
        REQUIRE_EQ(smmap_cursor_use(&c, off, i % 2 ? half + 64 : half), 0);
        if (i % 2)
            over_half += c.region->transient;
        else
            at_half += c.region->transient;
    }
    CHECK_EQ(over_half, 0);
    CHECK(at_half >= 15); /* of 20: explorations map now and then */
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* smmap_cursor_use with an explicit size under pressure still holds every
 * requested byte contiguously, across a page boundary too. */
static void test_pressure__use_with_size_is_contiguous(void)
{
    uint64_t g = test_granularity(), off;
    smmap_manager *m = test_manager(g, 2 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 64 * g));
    smmap_cursor c;
    unsigned seed = 3;
    size_t size = 300;
    int i, transients = 0;

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(random_reads(&c, 64 * g, 2000, &seed) == UINT64_MAX, 0);
    for (i = 0; i < 200; i++) {
        seed = seed * 1103515245u + 12345u;
        /* half of them straddle a page boundary */
        off = (uint64_t)(seed >> 8) % 62 * g + g - (i % 2 ? 150 : 700);
        REQUIRE_EQ(smmap_cursor_use(&c, off, size), 0);
        CHECK(c.begin <= off && off + size <= c.begin + c.size);
        CHECK(pattern_matches(c.data + (off - c.begin), off, size));
        if (c.region->transient) {
            transients++;
            CHECK_EQ(c.begin, off - off % 64);
            CHECK_EQ(c.size % 64 == 0 || c.begin + c.size == 64 * g, 1);
            CHECK(c.size < off + size - c.begin + 64);
        }
    }
    CHECK(transients >= 150);
    /* At the end of the file the window stops there. */
    REQUIRE_EQ(smmap_cursor_use(&c, 64 * g - 10, 10), 0);
    CHECK_EQ(c.begin + c.size, 64 * g);
    CHECK(pattern_matches(c.data + (64 * g - 10 - c.begin), 64 * g - 10, 10));
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* A copy shares the pressure window (pinned twice); it is given up only
 * when both cursors have left it. */
static void test_pressure__copy_shares_and_pins(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g, 2 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 64 * g));
    smmap_cursor c, d;
    smmap_stats held;
    unsigned seed = 5;

    smmap_cursor_init(&c, f);
    smmap_cursor_init(&d, f);
    REQUIRE_EQ(random_reads(&c, 64 * g, 2000, &seed) == UINT64_MAX, 0);
    while (c.region == NULL || !c.region->transient)
        REQUIRE_EQ(random_reads(&c, 64 * g, 1, &seed) == UINT64_MAX, 0);
    held = test_stats(m);
    smmap_cursor_copy(&d, &c);
    CHECK(d.data == c.data && d.begin == c.begin && d.size == c.size);
    CHECK_EQ(smmap__region_pins(c.region), 2);
    smmap_cursor_release(&c);
    CHECK_EQ(test_stats(m).regions, held.regions);
    CHECK(pattern_matches(d.data, d.begin, d.size));
    CHECK_EQ(smmap__region_pins(d.region), 1);
    smmap_cursor_release(&d);
    CHECK_EQ(test_stats(m).regions, held.regions - 1);
    CHECK(f->entry->transients == NULL);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* A sequential scan after the random phase: moving on to the bytes right
 * after the window is credited as a scan, so the policy maps again; the
 * second half of the scan is served by mapped windows only. */
static void test_pressure__scan_returns_to_windows(void)
{
    uint64_t g = test_granularity(), off;
    smmap_manager *m = test_manager(g, 2 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 64 * g));
    smmap_cursor c;
    smmap_stats half = {0}, s;
    unsigned seed = 9;

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(random_reads(&c, 64 * g, 2000, &seed) == UINT64_MAX, 0);
    for (off = 0; off + 64 <= 64 * g; off += 64) {
        const unsigned char *p = smmap_cursor_at(&c, off, 64);
        REQUIRE_EQ(p != NULL, 1);
        CHECK(pattern_matches(p, off, 64));
        if (off + 64 == 32 * g)
            half = test_stats(m);
    }
    s = test_stats(m);
    CHECK_EQ(s.read_windows, half.read_windows);
    CHECK_EQ(s.maps - half.maps, 32);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* Random reads within one window's reach after the random phase: each
 * pressure window is left for bytes a mapped window would have held, which
 * counts as paying, so the policy maps again and the window then serves
 * the rest in place. */
static void test_pressure__locality_returns_to_windows(void)
{
    uint64_t g = test_granularity(), off, area = 40 * g;
    smmap_manager *m = test_manager(g, 2 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 64 * g));
    smmap_cursor c;
    smmap_stats before, s;
    unsigned seed = 13;
    int i;

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(random_reads(&c, 64 * g, 2000, &seed) == UINT64_MAX, 0);
    before = test_stats(m);
    for (i = 0; i < 1000; i++) {
        const unsigned char *p;
        seed = seed * 1103515245u + 12345u;
        off = area + (uint64_t)(seed >> 8) % (g - 64);
        p = smmap_cursor_at(&c, off, 64);
        REQUIRE_EQ(p != NULL, 1);
        CHECK(pattern_matches(p, off, 64));
    }
    s = test_stats(m);
    /* A few pressure windows until the average climbs over 8, then one
     * window over the area. */
    CHECK(s.read_windows - before.read_windows <= 20);
    CHECK_EQ(c.region->transient, 0);
    CHECK(c.begin <= area && area + g <= c.begin + c.size);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* With SMMAP_ALWAYS_MAP every miss maps, as before the policy. */
static void test_pressure__always_map_maps(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g, 2 * g, 10, 10, SMMAP_ALWAYS_MAP);
    smmap_file *f = test_open(m, fixture_file("data", 64 * g));
    smmap_cursor c;
    smmap_stats s;
    unsigned seed = 7;

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(random_reads(&c, 64 * g, 500, &seed) == UINT64_MAX, 0);
    s = test_stats(m);
    CHECK_EQ(s.read_windows, 0);
    CHECK(s.maps + s.reuses <= 500); /* hits in the held window count 0 */
    CHECK_EQ(s.maps, s.unmaps + s.regions);
    CHECK(s.maps >= 400);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static const test_case tests[] = {
    TEST_ENTRY(test_pressure__random_cursor_reads_get_small_windows),
    TEST_ENTRY(test_pressure__one_window_budget_does_not_alternate),
    TEST_ENTRY(test_pressure__held_descriptors_keep_the_budget),
    TEST_ENTRY(test_pressure__empty_cache_with_room_maps),
    TEST_ENTRY(test_pressure__window_given_up_on_leave),
    TEST_ENTRY(test_pressure__window_counts_its_file_as_mapped),
    TEST_ENTRY(test_pressure__half_a_window_is_the_limit),
    TEST_ENTRY(test_pressure__use_with_size_is_contiguous),
    TEST_ENTRY(test_pressure__copy_shares_and_pins),
    TEST_ENTRY(test_pressure__scan_returns_to_windows),
    TEST_ENTRY(test_pressure__locality_returns_to_windows),
    TEST_ENTRY(test_pressure__always_map_maps),
};

TEST_MAIN(tests)
