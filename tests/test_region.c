/*
 * test_region.c - window placement, reuse, the budgets, true LRU eviction and
 * the collect-and-retry on an operating-system refusal.
 *
 * Offsets are written in units of the granularity g (a page here, 64 KiB on
 * Windows) so the expected windows are the same on every platform.
 */
#include "test.h"
#include "os.h"
#include "smmap_int.h"
#include "portable.h"

static uint64_t g;

/*
 * The slot filter (region.c) answers "no region here" without a tree
 * search, so it must never miss a region: bit s is set exactly when some
 * region of the tree overlaps slot s. Slots are the largest power of two
 * not above window_size (coarser only for huge files), one bit per slot up
 * to the end of the file. Checked under the manager's lock.
 */
static void check_slot_filter(smmap_file *f)
{
    smmap_entry *e = f->entry;
    smmap_manager *m = f->manager;
    uint64_t s, slot, wrong = 0;
    smmap__mutex_lock(&m->lock);
    if (e->slot_bits != NULL) {
        slot = 1ull << e->slot_shift;
        CHECK(slot <= m->opt.window_size && 2 * slot > m->opt.window_size);
        CHECK_EQ(e->slot_nbits, e->max_size / slot + 1);
        for (s = 0; s < e->slot_nbits; s++) {
            int bit = (int)((e->slot_bits[s / 64] >> (s % 64)) & 1);
            wrong += bit != smmap__tree_any_overlap(e->tree, s * slot,
                                                    (s + 1) * slot);
        }
    }
    smmap__mutex_unlock(&m->lock);
    CHECK_EQ(wrong, 0);
}

static void setup(void)
{
    g = test_granularity();
}

#define EXPECT_WINDOW(c, b, s)                                               \
    do {                                                                     \
        CHECK_EQ((c)->begin, (b));                                           \
        CHECK_EQ((c)->size, (s));                                            \
        CHECK(pattern_matches((c)->data, (c)->begin, (c)->size));            \
    } while (0)

static void test_region__placement_extends_left_then_right(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c[6];
    int i;

    setup();
    m = test_manager(4 * g, 1000 * g, 100, 8, 0);
    f = test_open(m, fixture_file("data", 25 * g));
    for (i = 0; i < 6; i++)
        smmap_cursor_init(&c[i], f);

    /* Nothing mapped: grows left to the start of the file, then right. */
    REQUIRE_EQ(smmap_cursor_use(&c[0], g + 904, 100), 0);
    EXPECT_WINDOW(&c[0], 0, 4 * g);
    /* Left neighbour ends at 4g: the window takes what it may of the gap on
     * the left, aligned up so it stays at 4 pages. */
    REQUIRE_EQ(smmap_cursor_use(&c[1], 9 * g + 3136, 10), 0);
    EXPECT_WINDOW(&c[1], 6 * g, 4 * g);
    /* Between two regions: fills the gap [4g, 6g) exactly. */
    REQUIRE_EQ(smmap_cursor_use(&c[2], 4 * g + 1616, 10), 0);
    EXPECT_WINDOW(&c[2], 4 * g, 2 * g);
    /* size 0 near the end: at least one byte, clamped to the end of file. */
    REQUIRE_EQ(smmap_cursor_use(&c[3], 24 * g + 1696, 0), 0);
    EXPECT_WINDOW(&c[3], 21 * g, 4 * g);
    /* Straddling two regions: a new region overlaps both, only as needed. */
    REQUIRE_EQ(smmap_cursor_use(&c[4], 4 * g - 384, 1000), 0);
    EXPECT_WINDOW(&c[4], 3 * g, g + 616);
    /* Larger than the window: one oversized region, up to the request. */
    REQUIRE_EQ(smmap_cursor_use(&c[5], 12 * g + 848, 9 * g + 3136), 0);
    EXPECT_WINDOW(&c[5], 12 * g, 9 * g + 3984);

    CHECK_EQ(test_stats(m).regions, 6);
    CHECK_EQ(test_stats(m).mapped_bytes,
             4 * g + 4 * g + 2 * g + 4 * g + (g + 616) + (9 * g + 3984));
    for (i = 0; i < 6; i++)
        smmap_cursor_release(&c[i]);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_region__reuse_covering_region(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor a, b;
    smmap_stats s;

    setup();
    m = test_manager(4 * g, 100 * g, 100, 8, 0);
    f = test_open(m, fixture_file("data", 10 * g));
    smmap_cursor_init(&a, f);
    smmap_cursor_init(&b, f);
    REQUIRE_EQ(smmap_cursor_use(&a, 0, 10), 0);
    REQUIRE_EQ(smmap_cursor_use(&b, 2 * g, 2 * g), 0);
    CHECK(a.data == b.data);
    CHECK_EQ(b.begin, 0);
    s = test_stats(m);
    CHECK_EQ(s.maps, 1);
    CHECK_EQ(s.reuses, 1);
    CHECK_EQ(s.regions, 1);
    /* The cursor's own window covers: still a reuse, no new map. */
    REQUIRE_EQ(smmap_cursor_use(&a, 3 * g, 5), 0);
    s = test_stats(m);
    CHECK_EQ(s.maps, 1);
    CHECK_EQ(s.reuses, 2);
    smmap_cursor_release(&a);
    smmap_cursor_release(&b);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_region__request_larger_than_window(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c;

    setup();
    m = test_manager(g, 100 * g, 100, 8, 0);
    f = test_open(m, fixture_file("data", 16 * g));
    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_cursor_use(&c, 3 * g + 7, 10 * g), 0);
    EXPECT_WINDOW(&c, 3 * g, 11 * g);
    /* Past the end of the file: clamped to what the file has. */
    REQUIRE_EQ(smmap_cursor_use(&c, 15 * g, 10 * g), 0);
    CHECK_EQ(c.begin + c.size, 16 * g);
    CHECK(c.begin <= 15 * g);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* A fresh cursor at off maps a new region (1) or reuses one (0). */
static int maps_again(smmap_manager *m, smmap_file *f, uint64_t off)
{
    smmap_cursor c;
    uint64_t before = test_stats(m).maps;
    smmap_cursor_init(&c, f);
    if (smmap_cursor_use(&c, off, 1) != 0)
        return -1;
    smmap_cursor_release(&c);
    return test_stats(m).maps != before;
}

/*
 * The eviction order is CLOCK (smmap.h, EVICTION): an unused region that no
 * cursor used since eviction last passed it goes before one that was used,
 * and a held region never goes. Where they agree with exact LRU (here), the
 * region released longest ago and not used since goes first.
 */
static void test_region__eviction_spares_used_and_held(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor a, b, c, d, e;

    setup();
    m = test_manager(g, 100 * g, 3, 8, 0);
    f = test_open(m, fixture_file("data", 20 * g));
    smmap_cursor_init(&a, f);
    smmap_cursor_init(&b, f);
    smmap_cursor_init(&c, f);
    smmap_cursor_init(&d, f);
    smmap_cursor_init(&e, f);
    REQUIRE_EQ(smmap_cursor_use(&a, 0, 1), 0);
    REQUIRE_EQ(smmap_cursor_use(&b, 5 * g, 1), 0);
    REQUIRE_EQ(smmap_cursor_use(&c, 10 * g, 1), 0);
    EXPECT_WINDOW(&b, 5 * g, g);
    EXPECT_WINDOW(&c, 10 * g, g);
    smmap_cursor_release(&b);
    smmap_cursor_release(&c);
    smmap_cursor_release(&a);
    /* a is used again, after b and c were released: b (mapped before c,
     * released before it, not used since) goes first. */
    CHECK_EQ(maps_again(m, f, 0), 0);
    REQUIRE_EQ(smmap_cursor_use(&d, 15 * g, 1), 0);
    CHECK_EQ(test_stats(m).evictions, 1);
    CHECK_EQ(test_stats(m).regions, 3);
    /* Hold c and a besides d: with every region held, a fourth cannot be
     * mapped (max_regions is 3). */
    REQUIRE_EQ(smmap_cursor_use(&c, 10 * g, 1), 0);
    REQUIRE_EQ(smmap_cursor_use(&a, 0, 1), 0);
    CHECK_EQ(test_stats(m).evictions, 1);
    CHECK_EQ(test_stats(m).maps, 4); /* c and a were still mapped */
    CHECK_EQ(smmap_cursor_use(&e, 5 * g, 1), -EMFILE);
    /* Release d only: it is the one evicted, held a and c stay. */
    smmap_cursor_release(&d);
    REQUIRE_EQ(smmap_cursor_use(&e, 5 * g, 1), 0);
    CHECK_EQ(test_stats(m).evictions, 2);
    EXPECT_WINDOW(&a, 0, g);
    EXPECT_WINDOW(&c, 10 * g, g);
    CHECK_EQ(c.data[0], pattern_byte(10 * g));
    smmap_cursor_release(&a);
    smmap_cursor_release(&c);
    smmap_cursor_release(&e);
    CHECK_EQ(maps_again(m, f, 15 * g), 1); /* d was the one */
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void pin_three(smmap_manager *m, smmap_file *f, smmap_cursor *c)
{
    int i;
    for (i = 0; i < 3; i++)
        smmap_cursor_init(&c[i], f);
    CHECK_EQ(smmap_cursor_use(&c[0], 0, 1), 0);
    CHECK_EQ(smmap_cursor_use(&c[1], 10 * g, 1), 0);
    CHECK_EQ(test_stats(m).regions, 2);
}

static void release_all(smmap_cursor *c, int n)
{
    int i;
    for (i = 0; i < n; i++)
        smmap_cursor_release(&c[i]);
}

static void test_region__soft_budget_maps_minimal_window_when_pinned(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c[3];

    setup();
    m = test_manager(2 * g, 4 * g, 10, 8, 0);
    f = test_open(m, fixture_file("data", 25 * g));
    pin_three(m, f, c);
    CHECK_EQ(test_stats(m).mapped_bytes, 4 * g);
    REQUIRE_EQ(smmap_cursor_use(&c[2], 20 * g, 1), 0);
    EXPECT_WINDOW(&c[2], 20 * g, g);
    CHECK_EQ(test_stats(m).mapped_bytes, 5 * g);
    CHECK_EQ(test_stats(m).peak_mapped_bytes, 5 * g);
    release_all(c, 3);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_region__hard_budget_refuses_when_pinned(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c[3];

    setup();
    m = test_manager(2 * g, 4 * g, 10, 8, SMMAP_HARD_LIMITS);
    f = test_open(m, fixture_file("data", 25 * g));
    pin_three(m, f, c);
    CHECK_EQ(test_stats(m).mapped_bytes, 4 * g);
    CHECK_EQ(smmap_cursor_use(&c[2], 20 * g, 1), -ENOMEM);
    CHECK(c[2].data == NULL);
    CHECK_EQ(c[2].error, -ENOMEM);
    CHECK_EQ(test_stats(m).mapped_bytes, 4 * g);
    CHECK_EQ(test_stats(m).regions, 2);
    /* Once one is released, it is evicted and the map fits. */
    smmap_cursor_release(&c[0]);
    REQUIRE_EQ(smmap_cursor_use(&c[2], 20 * g, 1), 0);
    CHECK_EQ(test_stats(m).mapped_bytes, 4 * g);
    CHECK_EQ(test_stats(m).evictions, 1);
    release_all(c, 3);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_region__hard_budget_shrinks_to_fit(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c[3];

    setup();
    m = test_manager(2 * g, 5 * g, 10, 8, SMMAP_HARD_LIMITS);
    f = test_open(m, fixture_file("data", 25 * g));
    pin_three(m, f, c);
    REQUIRE_EQ(smmap_cursor_use(&c[2], 20 * g, 1), 0);
    EXPECT_WINDOW(&c[2], 20 * g, g);
    CHECK_EQ(test_stats(m).mapped_bytes, 5 * g);
    release_all(c, 3);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_region__max_regions_is_hard(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c[3];

    setup();
    m = test_manager(g, 100 * g, 2, 8, 0);
    f = test_open(m, fixture_file("data", 25 * g));
    pin_three(m, f, c);
    CHECK_EQ(smmap_cursor_use(&c[2], 20 * g, 1), -EMFILE);
    CHECK(c[2].data == NULL);
    CHECK_EQ(test_stats(m).regions, 2);
    CHECK_EQ(test_stats(m).peak_regions, 2);
    release_all(c, 3);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_region__eviction_keeps_budget(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c;
    unsigned char buf[100];
    uint64_t off;
    smmap_stats s;

    setup();
    m = test_manager(g, 3 * g, 100, 8, SMMAP_ALWAYS_MAP);
    f = test_open(m, fixture_file("data", 20 * g));
    smmap_cursor_init(&c, f);
    for (off = 0; off + sizeof(buf) <= 20 * g; off += g / 2) {
        REQUIRE_EQ(smmap_read(&c, off, buf, sizeof(buf)), sizeof(buf));
        CHECK(pattern_matches(buf, off, sizeof(buf)));
        CHECK(test_stats(m).mapped_bytes <= 3 * g);
        check_slot_filter(f);
    }
    CHECK(f->entry->slot_bits != NULL);
    s = test_stats(m);
    CHECK_EQ(s.maps, 20);
    CHECK_EQ(s.evictions, 17);
    CHECK_EQ(s.unmaps, 17);
    CHECK_EQ(s.regions, 3);
    CHECK_EQ(s.mapped_bytes, 3 * g);
    CHECK_EQ(s.peak_mapped_bytes, 3 * g);
    smmap_cursor_release(&c);
    CHECK_EQ(smmap_manager_collect(m), 3);
    CHECK_EQ(test_stats(m).mapped_bytes, 0);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* The OS table's map, refusing with ENOMEM the next map_failures_left
 * calls, and every map of more than refuse_above bytes. */
static int map_failures_left;
static uint64_t refuse_above = UINT64_MAX;
static int refusing_map(smmap_os_fd fd, uint64_t off, size_t len, void **out)
{
    if (map_failures_left > 0) {
        map_failures_left--;
        return -ENOMEM;
    }
    if (len > refuse_above)
        return -ENOMEM;
    return smmap__os_default.map(fd, off, len, out);
}

static void test_region__os_refusal_collects_and_retries(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c;
    smmap_stats s;

    setup();
    m = test_manager(g, 100 * g, 100, 8, 0);
    f = test_open(m, fixture_file("data", 20 * g));
    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_cursor_use(&c, 0, 1), 0);
    REQUIRE_EQ(smmap_cursor_use(&c, 5 * g, 1), 0);
    REQUIRE_EQ(smmap_cursor_use(&c, 10 * g, 1), 0);
    CHECK_EQ(test_stats(m).regions, 3);

    smmap__os.map = refusing_map;
    map_failures_left = 1;
    REQUIRE_EQ(smmap_cursor_use(&c, 15 * g, 1), 0);
    s = test_stats(m);
    CHECK_EQ(s.retries, 1);
    /* The three unused ones (including the one c just left) were
     * collected before the retry. */
    CHECK_EQ(s.regions, 1);
    CHECK_EQ(s.unmaps, 3);
    CHECK_EQ(s.mapped_bytes, g);
    CHECK(pattern_matches(c.data, c.begin, c.size));

    /* Refused twice: the error comes back, the reservation is returned. */
    map_failures_left = 2;
    CHECK_EQ(smmap_cursor_use(&c, 2 * g, 1), -ENOMEM);
    s = test_stats(m);
    CHECK_EQ(s.retries, 1);
    CHECK_EQ(s.regions, 0);
    CHECK_EQ(s.mapped_bytes, 0);
    CHECK_EQ(s.maps, 4);
    CHECK_EQ(s.unmaps, 4);
    CHECK(c.data == NULL);
    smmap__os.map = smmap__os_default.map;

    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/*
 * Two cursors that miss the same window at once, under a budget the first
 * one's reservation fills (a hard max_mapped, or max_regions): the second
 * waits for the first one's map and shares its region, where it gave
 * -ENOMEM / -EMFILE though no other region existed. The first map is held
 * inside the OS table's map until the second has yielded once (it yields
 * only while it waits), so the interleaving is exact, with no sleep.
 */
static volatile int inflight_entered, inflight_go, inflight_yields;
static int inflight_map(smmap_os_fd fd, uint64_t off, size_t len, void **out)
{
    __atomic_store_n(&inflight_entered, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&inflight_go, __ATOMIC_SEQ_CST))
        smmap__os_default.yield();
    return smmap__os_default.map(fd, off, len, out);
}

static void inflight_yield(void)
{
    __atomic_fetch_add(&inflight_yields, 1, __ATOMIC_SEQ_CST);
    smmap__os_default.yield();
}

typedef struct inflight_use {
    smmap_cursor c;
    int err, done;
} inflight_use;

static void inflight_run(void *arg)
{
    inflight_use *u = arg;
    u->err = smmap_cursor_use(&u->c, g, 1);
    __atomic_store_n(&u->done, 1, __ATOMIC_SEQ_CST);
}

static void inflight_case(uint32_t flags, uint64_t max_mapped,
                          uint32_t max_regions)
{
    smmap_manager *m;
    smmap_file *f;
    inflight_use a, b;
    smmap_cursor b2;
    port_thread ta, tb;
    smmap_stats s;

    m = test_manager(4 * g, max_mapped, max_regions, 8,
                     flags | SMMAP_ALWAYS_MAP);
    f = test_open(m, fixture_file("data", 8 * g));
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    smmap_cursor_init(&a.c, f);
    smmap_cursor_init(&b.c, f);
    smmap_cursor_init(&b2, f);
    /* b leaves a window that b2 still holds: the wait must not let go of
     * it twice */
    REQUIRE_EQ(smmap_cursor_use(&b.c, 7 * g, 1), 0);
    CHECK_EQ(b.c.begin, 4 * g);
    smmap_cursor_copy(&b2, &b.c);
    inflight_entered = inflight_go = inflight_yields = 0;
    smmap__os.map = inflight_map;
    smmap__os.yield = inflight_yield;
    REQUIRE_EQ(port_thread_start(&ta, inflight_run, &a), 0);
    while (!__atomic_load_n(&inflight_entered, __ATOMIC_SEQ_CST))
        smmap__os_default.yield();
    REQUIRE_EQ(port_thread_start(&tb, inflight_run, &b), 0);
    /* b either waits (yields) or, wrongly, fails at once */
    while (!__atomic_load_n(&inflight_yields, __ATOMIC_SEQ_CST) &&
           !__atomic_load_n(&b.done, __ATOMIC_SEQ_CST))
        smmap__os_default.yield();
    CHECK_EQ(__atomic_load_n(&b.done, __ATOMIC_SEQ_CST), 0);
    __atomic_store_n(&inflight_go, 1, __ATOMIC_SEQ_CST);
    port_thread_join(&ta);
    port_thread_join(&tb);
    smmap__os.map = smmap__os_default.map;
    smmap__os.yield = smmap__os_default.yield;
    CHECK_EQ(a.err, 0);
    CHECK_EQ(b.err, 0);
    CHECK(a.c.data != NULL && a.c.data == b.c.data);
    s = test_stats(m);
    CHECK_EQ(s.maps, 2);
    CHECK_EQ(s.regions, 2);
    CHECK_EQ(s.peak_regions, 2);
    if (b.c.data != NULL)
        CHECK(pattern_matches(b.c.data, b.c.begin, b.c.size));
    /* All three windows are held: nothing to collect. */
    CHECK_EQ(smmap_manager_collect(m), 0);
    CHECK(pattern_matches(b2.data, b2.begin, b2.size));
    smmap_cursor_release(&a.c);
    smmap_cursor_release(&b.c);
    smmap_cursor_release(&b2);
    CHECK_EQ(smmap_manager_collect(m), 2);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_region__miss_waits_for_the_same_window_in_flight(void)
{
    setup();
    inflight_case(SMMAP_HARD_LIMITS, 8 * g, 100); /* was -ENOMEM */
    inflight_case(0, 100 * g, 2);                 /* was -EMFILE */
}

/* A window the system cannot give (mmap refuses it with ENOMEM, as for a
 * window_size beyond the address space) is tried again as the smallest
 * window that holds the request, which it gives: the budgets count only
 * that, and no retry is counted (the collect-and-retry did not help). */
static void test_region__refused_window_shrinks_to_the_request(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c;
    smmap_stats s;

    setup();
    m = test_manager(16 * g, 100 * g, 100, 8, SMMAP_ALWAYS_MAP);
    f = test_open(m, fixture_file("data", 32 * g));
    smmap_cursor_init(&c, f);
    refuse_above = 2 * g;
    smmap__os.map = refusing_map;
    REQUIRE_EQ(smmap_cursor_use(&c, 5 * g + 10, 100), 0);
    CHECK_EQ(c.begin, 5 * g);
    CHECK_EQ(c.size, g);
    CHECK(pattern_matches(c.data, c.begin, c.size));
    s = test_stats(m);
    CHECK_EQ(s.mapped_bytes, g);
    CHECK_EQ(s.peak_mapped_bytes, 16 * g); /* the reservation */
    CHECK_EQ(s.maps, 1);
    CHECK_EQ(s.retries, 0);
    /* More than the system gives even at its smallest: -ENOMEM, and the
     * budgets are as they were. */
    CHECK_EQ(smmap_cursor_use(&c, 8 * g, 3 * g), -ENOMEM);
    s = test_stats(m);
    CHECK_EQ(s.mapped_bytes, 0); /* c's window was let go */
    CHECK_EQ(s.regions, 0);
    smmap__os.map = smmap__os_default.map;
    refuse_above = UINT64_MAX;
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* SMMAP_POPULATE where the system cannot populate a range in one call
 * (Windows, musl's headers, Linux before 5.14): the library touches the
 * window itself, every page of it, through the guarded copy, though the
 * window is aligned to a granularity that may be larger than the page
 * (64 KiB on Windows, or a POSIX build's SMMAP_GRANULARITY). */
#define MAX_TOUCHES 4096
static const unsigned char *touched[MAX_TOUCHES];
static size_t touches;

static int refuse_populate(void *addr, size_t len, int advice)
{
    if (advice == SMMAP_OS_POPULATE)
        return -EOPNOTSUPP;
    return smmap__os_default.advise(addr, len, advice);
}

static int64_t recording_copy(void *dst, const void *src, size_t len)
{
    if (touches < MAX_TOUCHES)
        touched[touches] = src;
    touches++;
    return smmap__os_default.guarded_copy(dst, src, len);
}

static void test_region__populate_touches_every_page(void)
{
    uint64_t page = port_page_size(), p, untouched = 0;
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c;
    size_t i;

    setup();
    m = test_manager(4 * g, 100 * g, 100, 8,
                     SMMAP_POPULATE | SMMAP_ALWAYS_MAP);
    f = test_open(m, fixture_file("data", 8 * g));
    smmap__os.advise = refuse_populate;
    smmap__os.guarded_copy = recording_copy;
    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_cursor_use(&c, g + 1, 1), 0);
    smmap__os.advise = smmap__os_default.advise;
    smmap__os.guarded_copy = smmap__os_default.guarded_copy;
    CHECK_EQ(c.size, 4 * g);
    REQUIRE_EQ(touches <= MAX_TOUCHES, 1);
    /* Each page of the window has a touch in it. */
    for (p = 0; p < c.size / page; p++) {
        const unsigned char *lo = c.data + p * page;
        for (i = 0; i < touches; i++)
            if (touched[i] >= lo && touched[i] < lo + page)
                break;
        untouched += i == touches;
    }
    CHECK_EQ(untouched, 0);
    CHECK(touches >= c.size / page);
    CHECK(pattern_matches(c.data, c.begin, c.size));
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_region__static_mode_maps_whole_files(void)
{
    smmap_manager *m;
    smmap_file *a, *b;
    smmap_cursor ca, cb, cc;
    smmap_stats s;

    setup();
    m = test_manager(0, 8 * g, 100, 8, 0);
    a = test_open(m, fixture_file("a", 5 * g + 3));
    b = test_open(m, fixture_file("b", 4 * g));
    smmap_cursor_init(&ca, a);
    smmap_cursor_init(&cb, b);
    smmap_cursor_init(&cc, a);
    REQUIRE_EQ(smmap_cursor_use(&ca, 3 * g, 1), 0);
    EXPECT_WINDOW(&ca, 0, 5 * g + 3);
    REQUIRE_EQ(smmap_cursor_use(&cc, 5 * g + 2, 0), 0);
    CHECK(cc.data == ca.data);
    smmap_cursor_release(&ca);
    smmap_cursor_release(&cc);
    /* b does not fit beside a: the unused whole-file map of a goes. */
    REQUIRE_EQ(smmap_cursor_use(&cb, 0, 1), 0);
    EXPECT_WINDOW(&cb, 0, 4 * g);
    s = test_stats(m);
    CHECK_EQ(s.regions, 1);
    CHECK_EQ(s.evictions, 1);
    CHECK_EQ(s.files_mapped, 1);
    CHECK_EQ(s.mapped_bytes, 4 * g);
    /* One region per file needs no slot filter to skip tree searches. */
    CHECK(a->entry->slot_bits == NULL && b->entry->slot_bits == NULL);
    smmap_cursor_release(&cb);
    smmap_file_close(a);
    smmap_file_close(b);
    smmap_manager_free(m);
}

static void test_region__many_regions_found_again(void)
{
    enum { N = 300 };
    smmap_manager *m;
    smmap_file *f;
    static smmap_cursor c[N];
    int i;
    uint64_t before;

    setup();
    m = test_manager(g, 4 * N * g, 4 * N, 8, 0);
    f = test_open(m, fixture_file("data", 3 * N * g));
    /* Every third page, in a scrambled order, each window one page. */
    for (i = 0; i < N; i++) {
        uint64_t page = 3 * (uint64_t)((i * 7919) % N);
        smmap_cursor_init(&c[i], f);
        REQUIRE_EQ(smmap_cursor_use(&c[i], page * g + 5, 1), 0);
        CHECK(c[i].begin <= page * g && c[i].begin + c[i].size > page * g);
    }
    CHECK_EQ(test_stats(m).regions, N);
    check_slot_filter(f);
    before = test_stats(m).maps;
    for (i = 0; i < N; i++) {
        smmap_cursor d;
        smmap_cursor_init(&d, f);
        REQUIRE_EQ(smmap_cursor_use(&d, c[i].begin + 1, 1), 0);
        CHECK(d.data == c[i].data);
        smmap_cursor_release(&d);
    }
    CHECK_EQ(test_stats(m).maps, before);
    release_all(c, N);
    CHECK_EQ(smmap_manager_collect(m), N);
    check_slot_filter(f); /* all clear again */
    smmap_file_close(f);
    smmap_manager_free(m);
}

/*
 * Overlapping regions: an oversized region mapped over three small ones
 * covers offsets none of them does, so the lookup must find it although
 * regions starting after it come first in a search by nearest start (the
 * interval tree's largest-end-of-subtree is what finds it).
 */
static void test_region__covering_region_found_among_overlaps(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor small[3], big, probe;
    uint64_t maps;
    int i;

    setup();
    m = test_manager(g, 100 * g, 10, 8, 0);
    f = test_open(m, fixture_file("data", 12 * g));
    for (i = 0; i < 3; i++) {
        smmap_cursor_init(&small[i], f);
        REQUIRE_EQ(smmap_cursor_use(&small[i], (2 + 2 * (uint64_t)i) * g, 1), 0);
        EXPECT_WINDOW(&small[i], (2 + 2 * (uint64_t)i) * g, g);
    }
    smmap_cursor_init(&big, f);
    REQUIRE_EQ(smmap_cursor_use(&big, 0, 10 * g), 0);
    EXPECT_WINDOW(&big, 0, 10 * g);
    maps = test_stats(m).maps;
    smmap_cursor_init(&probe, f);
    for (i = 0; i < 10; i++) {
        /* Every page of [0, 10g), inside a small region or not, each
         * looked up afresh (a held window would answer by itself). */
        smmap_cursor_release(&probe);
        REQUIRE_EQ(smmap_cursor_use(&probe, (uint64_t)i * g + 7, 2), 0);
        CHECK(pattern_matches(probe.data + (i * g + 7 - probe.begin),
                              (uint64_t)i * g + 7, 2));
    }
    CHECK_EQ(test_stats(m).maps, maps);
    CHECK_EQ(test_stats(m).regions, 4);
    /* Across the end of a small region, inside the big one: the big one. */
    smmap_cursor_release(&probe);
    REQUIRE_EQ(smmap_cursor_use(&probe, 3 * g - 1, 2), 0);
    CHECK(probe.data == big.data);
    CHECK_EQ(test_stats(m).maps, maps);
    check_slot_filter(f);
    smmap_cursor_release(&probe);
    smmap_cursor_release(&big);
    /* The oversized region leaves: only the small ones' slots stay set. */
    CHECK_EQ(smmap_manager_collect(m), 1);
    check_slot_filter(f);
    release_all(small, 3);
    CHECK_EQ(smmap_manager_collect(m), 3);
    check_slot_filter(f);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static const test_case tests[] = {
    TEST_ENTRY(test_region__covering_region_found_among_overlaps),
    TEST_ENTRY(test_region__placement_extends_left_then_right),
    TEST_ENTRY(test_region__reuse_covering_region),
    TEST_ENTRY(test_region__request_larger_than_window),
    TEST_ENTRY(test_region__eviction_spares_used_and_held),
    TEST_ENTRY(test_region__soft_budget_maps_minimal_window_when_pinned),
    TEST_ENTRY(test_region__hard_budget_refuses_when_pinned),
    TEST_ENTRY(test_region__hard_budget_shrinks_to_fit),
    TEST_ENTRY(test_region__max_regions_is_hard),
    TEST_ENTRY(test_region__eviction_keeps_budget),
    TEST_ENTRY(test_region__os_refusal_collects_and_retries),
    TEST_ENTRY(test_region__populate_touches_every_page),
    TEST_ENTRY(test_region__static_mode_maps_whole_files),
    TEST_ENTRY(test_region__many_regions_found_again),
    TEST_ENTRY(test_region__miss_waits_for_the_same_window_in_flight),
    TEST_ENTRY(test_region__refused_window_shrinks_to_the_request),
};

TEST_MAIN(tests)
