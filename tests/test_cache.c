/*
 * test_cache.c - the cache of mapped regions (src/cache.c): a switch to a
 * cached window without the lock counts exactly what a locked one would,
 * the hints find every region of a file as its table grows, reuse counts
 * stay exact across their fold into the manager, a parked region comes
 * back when its last cursor leaves, and a descriptor reused for another
 * region is never taken for the one a stale hint named.
 *
 * Offsets are in units of the granularity g, as in test_region.c.
 */
#include "test.h"
#include "os.h"
#include "smmap_int.h"
#include "portable.h"

static uint64_t g;

static void setup(void)
{
    g = test_granularity();
}

static void test_cache__switches_count_every_reuse(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor a, b;
    smmap_stats before, after;
    unsigned i;

    setup();
    m = test_manager(g, 64 * g, 64, 8, 0);
    f = test_open(m, fixture_file("data", 16 * g));
    test_map_windows(f, 16);
    before = test_stats(m);
    CHECK_EQ(before.maps, 16);
    smmap_cursor_init(&a, f);
    smmap_cursor_init(&b, f);
    /* 1000 switches of a, 500 of b, each to another cached window, and
     * 100 uses of the window a already holds: every one a reuse, no map. */
    for (i = 0; i < 1000; i++) {
        uint64_t off = (uint64_t)((i * 7) % 16) * g + i % g;
        const unsigned char *p = smmap_cursor_at(&a, off, 1);
        REQUIRE_EQ(p != NULL, 1);
        CHECK_EQ(*p, pattern_byte(off));
        if (i % 2 == 0) {
            off = (uint64_t)((i * 5 + 3) % 16) * g;
            p = smmap_cursor_at(&b, off, 1);
            REQUIRE_EQ(p != NULL, 1);
            CHECK_EQ(*p, pattern_byte(off));
        }
    }
    for (i = 0; i < 100; i++)
        REQUIRE_EQ(smmap_cursor_use(&a, a.begin, 1), 0);
    smmap_cursor_release(&a);
    smmap_cursor_release(&b);
    after = test_stats(m);
    CHECK_EQ(after.maps, 16);
    CHECK_EQ(after.regions, 16);
    /* (i * 7) % 16 changes window at every step, (i * 5 + 3) % 16 too. */
    CHECK_EQ(after.reuses - before.reuses, 1000 + 500 + 100);
    /* The counts survive the regions that carried them. */
    CHECK_EQ(smmap_manager_collect(m), 16);
    CHECK_EQ(test_stats(m).reuses, after.reuses);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* Under the lock: the hints of f's entry find the region covering off. */
static int hints_find(smmap_file *f, uint64_t off)
{
    smmap_region *r = smmap__cache_find_hold(f->entry, off, off + 1, NULL);
    if (r == NULL)
        return 0;
    smmap__region_unpin_fast(f->manager, r, SMMAP__USE);
    return 1;
}

static void test_cache__hints_find_every_region_as_they_grow(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_hints *first;
    unsigned k, found = 0;

    setup();
    m = test_manager(g, 1024 * g, 1024, 8, 0);
    f = test_open(m, fixture_file("data", 300 * g));
    test_map_windows(f, 1);
    first = f->entry->hints;
    REQUIRE_EQ(first != NULL, 1);
    CHECK_EQ(first->mask + 1, 4); /* 2^HINT_MIN_BITS */
    test_map_windows(f, 300);
    CHECK_EQ(test_stats(m).regions, 300);
    /* Grown to a bucket per region at least, the old tables kept. */
    CHECK(f->entry->hints->mask + 1 >= 300);
    CHECK(f->entry->hints->retired != NULL);
    for (k = 0; k < 300; k++)
        found += hints_find(f, (uint64_t)k * g + g / 2);
    /* Regions start in consecutive slots here: no two share a bucket. */
    CHECK_EQ(found, 300);
    /* Nothing past the file's regions. */
    CHECK_EQ(hints_find(f, 300 * g + 1), 0);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_cache__reuse_count_folds_exactly(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c;
    smmap_region *r;
    smmap_stats st;
    /* three reuses short of the fold ("near" is a macro on Windows) */
    uint64_t start_uses = (1ull << 31) - 3;
    unsigned i;

    setup();
    m = test_manager(g, 64 * g, 64, 8, 0);
    f = test_open(m, fixture_file("data", 4 * g));
    test_map_windows(f, 2);
    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_cursor_at(&c, 0, 1) != NULL, 1);
    r = c.region;
    smmap_cursor_release(&c);
    /* Pretend the region served that many reuses already. */
    smmap__mutex_lock(&m->lock);
    __atomic_fetch_add(&r->state, (start_uses - 1) * SMMAP__USE, __ATOMIC_RELAXED);
    smmap__mutex_unlock(&m->lock);
    st = test_stats(m);
    CHECK_EQ(st.reuses, start_uses);
    /* Ten switches onto it (from the other window): the fold happens in
     * the middle of them, through the lock-free path. */
    smmap_cursor_init(&c, f);
    for (i = 0; i < 10; i++) {
        REQUIRE_EQ(smmap_cursor_at(&c, g, 1) != NULL, 1);
        REQUIRE_EQ(smmap_cursor_at(&c, 0, 1) != NULL, 1);
    }
    smmap_cursor_release(&c);
    st = test_stats(m);
    CHECK_EQ(st.reuses, start_uses + 20);
    CHECK((smmap__load_relaxed(&r->state) >> 32) < (1ull << 31));
    CHECK_EQ(smmap_manager_collect(m), 2);
    CHECK_EQ(test_stats(m).reuses, start_uses + 20);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_cache__parked_region_evictable_after_release(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c[4], d;
    smmap_region *r2;
    unsigned k;

    setup();
    /* Room for four regions; all four held: a fifth cannot be mapped, and
     * eviction parks the held ones on the way. */
    m = test_manager(g, 4 * g, 4, 8, SMMAP_HARD_LIMITS);
    f = test_open(m, fixture_file("data", 8 * g));
    for (k = 0; k < 4; k++) {
        smmap_cursor_init(&c[k], f);
        REQUIRE_EQ(smmap_cursor_at(&c[k], (uint64_t)k * g, 1) != NULL, 1);
    }
    smmap_cursor_init(&d, f);
    CHECK_EQ(smmap_cursor_use(&d, 6 * g, 1), -EMFILE);
    smmap__mutex_lock(&m->lock);
    CHECK(m->lru_head == NULL && m->parked_head != NULL);
    smmap__mutex_unlock(&m->lock);
    /* Its last cursor leaves: back in the clock list, and evicted next. */
    r2 = c[2].region;
    smmap_cursor_release(&c[2]);
    smmap__mutex_lock(&m->lock);
    CHECK(m->lru_head == r2 && m->lru_tail == r2);
    CHECK(!(smmap__load_relaxed(&r2->state) & SMMAP__PARKED));
    smmap__mutex_unlock(&m->lock);
    REQUIRE_EQ(smmap_cursor_use(&d, 6 * g, 1), 0);
    CHECK_EQ(test_stats(m).evictions, 1);
    CHECK_EQ(test_stats(m).regions, 4);
    for (k = 0; k < 4; k++)
        if (k != 2)
            CHECK(pattern_matches(c[k].data, c[k].begin, c[k].size));
    CHECK(pattern_matches(d.data, d.begin, d.size));
    for (k = 0; k < 4; k++)
        smmap_cursor_release(&c[k]);
    smmap_cursor_release(&d);
    CHECK_EQ(smmap_manager_collect(m), 4);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_cache__stale_hint_to_reused_descriptor_is_refused(void)
{
    smmap_manager *m;
    smmap_file *f, *h;
    smmap_region *old;
    smmap_cursor c;

    setup();
    m = test_manager(g, 64 * g, 64, 8, 0);
    f = test_open(m, fixture_file("data", 8 * g));
    h = test_open(m, fixture_file("other", 8 * g));
    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_cursor_at(&c, 3 * g, 1) != NULL, 1);
    old = c.region;
    smmap_cursor_release(&c);
    CHECK_EQ(smmap_manager_collect(m), 1);
    /* The descriptor goes to the next region mapped: of another file. */
    smmap_cursor_init(&c, h);
    REQUIRE_EQ(smmap_cursor_at(&c, 3 * g, 1) != NULL, 1);
    CHECK(c.region == old);
    /* A stale hint of f naming it (as a reader that loaded it before the
     * eviction would hold) must not give h's region to f. */
    smmap__mutex_lock(&m->lock);
    smmap__cache_hint(f->entry, old);
    smmap__mutex_unlock(&m->lock);
    CHECK_EQ(hints_find(f, 3 * g), 0);
    CHECK_EQ(smmap__region_pins(old), 1); /* only c's pin, none leaked */
    smmap_cursor_release(&c);
    /* f maps its own window again, with the right bytes. */
    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_cursor_at(&c, 3 * g, 1) != NULL, 1);
    CHECK(c.region != old);
    CHECK(pattern_matches(c.data, c.begin, c.size));
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_file_close(h);
    smmap_manager_free(m);
}

static const test_case tests[] = {
    TEST_ENTRY(test_cache__switches_count_every_reuse),
    TEST_ENTRY(test_cache__hints_find_every_region_as_they_grow),
    TEST_ENTRY(test_cache__reuse_count_folds_exactly),
    TEST_ENTRY(test_cache__parked_region_evictable_after_release),
    TEST_ENTRY(test_cache__stale_hint_to_reused_descriptor_is_refused),
};

TEST_MAIN(tests)
