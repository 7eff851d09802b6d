/*
 * test_hazard.c - hazard slots (src/hazard.c): a cursor that switches
 * holds its region in its slots; eviction, collect and release_path spare
 * a region a slot names, even one a reader has only just stored there
 * (the moment between its store and its check of the region's state);
 * when the barrier fails nothing a slot might hold is unmapped; without a
 * barrier the readers fence and everything still works; slots are reused.
 *
 * Offsets are in units of the granularity g, as in test_region.c.
 */
#include "test.h"
#include "os.h"
#include "smmap_int.h"
#include "portable.h"

static uint64_t g;
static unsigned barrier_calls;
static int barrier_result;

static int counting_barrier(void)
{
    barrier_calls++;
    return barrier_result != 0 ? barrier_result : smmap__os_default.barrier();
}

static int no_barrier_init(void)
{
    return -ENOSYS;
}

/* A barrier for a single-threaded test on any kernel: there is no other
 * thread whose stores it would have to make visible. */
static int barrier_init_ok(void)
{
    return 0;
}

static int single_thread_barrier(void)
{
    barrier_calls++;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return 0;
}

/* A clock that advances by clock_step at every call: each timed barrier
 * then costs clock_step. */
static uint64_t clock_now, clock_step;

static uint64_t stepping_clock(void)
{
    return clock_now += clock_step;
}

static void setup(void)
{
    g = test_granularity();
    barrier_calls = 0;
    barrier_result = 0;
    smmap__os.barrier = counting_barrier;
}

static void teardown(void)
{
    smmap__os.barrier = smmap__os_default.barrier;
    smmap__os.barrier_init = smmap__os_default.barrier_init;
    smmap__os.clock_ns = smmap__os_default.clock_ns;
}

/* c switches to window k and holds it by hazard. */
static void switch_to(smmap_cursor *c, unsigned k)
{
    const unsigned char *p = smmap_cursor_at(c, (uint64_t)k * g + 1, 1);
    REQUIRE_EQ(p != NULL, 1);
    CHECK_EQ(*p, pattern_byte((uint64_t)k * g + 1));
}

/* The region of f covering window k (under the lock). */
static smmap_region *region_at(smmap_file *f, unsigned k)
{
    smmap_region *r;
    smmap__mutex_lock(&f->manager->lock);
    r = smmap__tree_find_covering(f->entry->tree, (uint64_t)k * g,
                                  (uint64_t)k * g + 1);
    smmap__mutex_unlock(&f->manager->lock);
    return r;
}

/* Put r in c's free slot, as a reader does just before it checks r's
 * state; NULL takes it out. */
static void slot_store(smmap_cursor *c, smmap_region *r)
{
    smmap_hazard *h = c->hazard;
    smmap__store_relaxed(&h->slot[h->cur ^ 1], r);
}

static void test_hazard__switching_cursor_holds_by_hazard(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c, d;
    smmap_region *r;

    setup();
    m = test_manager(g, 64 * g, 64, 8, 0);
    f = test_open(m, fixture_file("data", 8 * g));
    test_map_windows(f, 4);
    smmap_cursor_init(&c, f);
    switch_to(&c, 0);
    /* The first hold pins; the first switch away gets the slots (locked
     * path), the next ones hold by hazard. */
    CHECK(c.hazard == NULL && !c.by_hazard);
    switch_to(&c, 1);
    CHECK(c.hazard != NULL);
    switch_to(&c, 2);
    CHECK(c.by_hazard);
    r = c.region;
    CHECK_EQ(smmap__load_relaxed(&r->state) & SMMAP__PINS, 0);
    CHECK_EQ(smmap__region_pins(r), 1);
    /* collect takes the three others, not the held one: its bytes stay. */
    CHECK_EQ(smmap_manager_collect(m), 3);
    CHECK_EQ(test_stats(m).regions, 1);
    CHECK(pattern_matches(c.data, c.begin, c.size));
    CHECK_EQ(smmap_manager_release_path(m, ""), -EBUSY);
    CHECK(pattern_matches(c.data, c.begin, c.size));
    /* A copy pins it once more. */
    smmap_cursor_init(&d, f);
    smmap_cursor_copy(&d, &c);
    CHECK(d.region == r && !d.by_hazard);
    CHECK_EQ(smmap__region_pins(r), 2);
    smmap_cursor_release(&d);
    /* Release empties the slot and gives the line back. */
    smmap_cursor_release(&c);
    CHECK(c.hazard == NULL && !c.by_hazard);
    CHECK_EQ(smmap__region_pins(r), 0);
    CHECK_EQ(smmap_manager_collect(m), 1);
    CHECK_EQ(smmap_manager_release_path(m, ""), 0);
    smmap_file_close(f);
    smmap_manager_free(m);
    teardown();
}

static void test_hazard__region_a_reader_just_stored_is_spared(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c, d;
    smmap_region *b;
    smmap_stats st;

    setup();
    /* Room for four regions: a fifth needs an eviction. */
    m = test_manager(g, 4 * g, 4, 8, 0);
    f = test_open(m, fixture_file("data", 8 * g));
    test_map_windows(f, 4);
    smmap_cursor_init(&c, f);
    switch_to(&c, 0);
    switch_to(&c, 1);
    switch_to(&c, 0);
    REQUIRE_EQ(c.by_hazard != 0, 1);
    /* c is between its store of window 3's region and its check of its
     * state: no pin, only the slot names it. */
    b = region_at(f, 3);
    REQUIRE_EQ(b != NULL, 1);
    slot_store(&c, b);
    barrier_calls = 0;
    CHECK_EQ(smmap_manager_collect(m), 2); /* windows 1 and 2 */
    CHECK(barrier_calls >= 1);
    CHECK(region_at(f, 3) == b);
    CHECK_EQ(smmap__load_relaxed(&b->state) & SMMAP__DEAD, 0);
    CHECK_EQ(b->doomed, 0);
    CHECK_EQ(smmap_manager_release_path(m, ""), -EBUSY);
    CHECK(region_at(f, 3) == b);
    /* Budget eviction spares it too: two more windows fit only by evicting
     * what is unused, and b is neither. */
    smmap_cursor_init(&d, f);
    REQUIRE_EQ(smmap_cursor_use(&d, 4 * g, 1), 0);
    REQUIRE_EQ(smmap_cursor_use(&d, 5 * g, 1), 0);
    REQUIRE_EQ(smmap_cursor_use(&d, 6 * g, 1), 0);
    CHECK(region_at(f, 3) == b);
    CHECK_EQ(smmap__load_relaxed(&b->state) & SMMAP__DEAD, 0);
    st = test_stats(m);
    CHECK(st.regions <= 4);
    CHECK(st.evictions >= 1);
    CHECK(pattern_matches(b->base, b->offset, b->size));
    CHECK(pattern_matches(c.data, c.begin, c.size));
    CHECK(pattern_matches(d.data, d.begin, d.size));
    /* The reader found it dead, or moved on: the slot is cleared, and b
     * goes like any unused region. */
    slot_store(&c, NULL);
    smmap_cursor_release(&d);
    CHECK(smmap_manager_collect(m) >= 2);
    CHECK(region_at(f, 3) == NULL);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
    teardown();
}

static void test_hazard__failed_barrier_unmaps_nothing(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c, d;
    smmap_stats before, after;

    setup();
    m = test_manager(g, 4 * g, 4, 8, 0);
    f = test_open(m, fixture_file("data", 8 * g));
    test_map_windows(f, 4);
    /* No cursor has slots: no barrier is needed, and none is called. */
    barrier_result = -EPERM;
    CHECK_EQ(smmap_manager_collect(m), 4);
    CHECK_EQ(barrier_calls, 0);
    test_map_windows(f, 4);
    smmap_cursor_init(&c, f);
    switch_to(&c, 0);
    switch_to(&c, 1);
    switch_to(&c, 2);
    REQUIRE_EQ(c.by_hazard != 0, 1);
    /* Now the slots cannot be checked: nothing may go. */
    before = test_stats(m);
    CHECK_EQ(smmap_manager_collect(m), 0);
    CHECK(barrier_calls >= 1);
    CHECK_EQ(smmap_manager_release_path(m, ""), -EPERM);
    smmap_cursor_init(&d, f);
    /* max_regions is hard: no region can be evicted for a fifth. */
    CHECK_EQ(smmap_cursor_use(&d, 6 * g, 1), -EMFILE);
    after = test_stats(m);
    CHECK_EQ(after.regions, before.regions);
    CHECK_EQ(after.unmaps, before.unmaps);
    CHECK_EQ(after.evictions, before.evictions);
    CHECK(pattern_matches(c.data, c.begin, c.size));
    /* Every region is still claimable once the barrier works again. */
    barrier_result = 0;
    REQUIRE_EQ(smmap_cursor_use(&d, 6 * g, 1), 0);
    CHECK(pattern_matches(d.data, d.begin, d.size));
    smmap_cursor_release(&d);
    smmap_cursor_release(&c);
    CHECK_EQ(smmap_manager_collect(m), 4);
    smmap_file_close(f);
    smmap_manager_free(m);
    teardown();
}

static void test_hazard__without_barrier_readers_fence(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c;
    unsigned i;

    setup();
    smmap__os.barrier_init = no_barrier_init;
    m = test_manager(g, 4 * g, 4, 8, 0);
    CHECK_EQ(m->barrier, 0);
    f = test_open(m, fixture_file("data", 8 * g));
    smmap_cursor_init(&c, f);
    /* Eight windows through a budget of four: switches and evictions. */
    for (i = 0; i < 64; i++)
        switch_to(&c, (i * 3) % 8);
    REQUIRE_EQ(c.hazard != NULL, 1);
    CHECK_EQ(c.hazard->fence, 1);
    CHECK(test_stats(m).evictions > 0);
    CHECK_EQ(barrier_calls, 0);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
    teardown();
}

static void test_hazard__slots_are_reused(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c[40];
    smmap_stats st;
    unsigned i, k;

    setup();
    m = test_manager(g, 64 * g, 64, 8, 0);
    f = test_open(m, fixture_file("data", 4 * g));
    test_map_windows(f, 4);
    /* 100 cursors one after another: one block of slots serves them. */
    for (i = 0; i < 100; i++) {
        smmap_cursor_init(&c[0], f);
        for (k = 0; k < 4; k++)
            switch_to(&c[0], k);
        CHECK(c[0].by_hazard);
        smmap_cursor_release(&c[0]);
    }
    CHECK_EQ(m->hazards, 32);
    /* 40 at once: two blocks of 32 lines. */
    for (i = 0; i < 40; i++) {
        smmap_cursor_init(&c[i], f);
        for (k = 0; k < 3; k++)
            switch_to(&c[i], (i + k) % 4);
        CHECK(c[i].by_hazard);
    }
    CHECK_EQ(m->hazards, 64);
    for (i = 0; i < 40; i++)
        smmap_cursor_release(&c[i]);
    /* Every switch and every use counted as a reuse, through the slots. */
    st = test_stats(m);
    CHECK_EQ(st.maps, 4);
    CHECK_EQ(st.reuses, 100 * 4 + 40 * 3);
    smmap_file_close(f);
    smmap_manager_free(m);
    teardown();
}

static void test_hazard__costly_barriers_turn_readers_to_fences(void)
{
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c;
    unsigned i, calls;

    setup();
    clock_now = 0;
    clock_step = 1000000; /* a barrier costs 1 ms */
    smmap__os.clock_ns = stepping_clock;
    smmap__os.barrier_init = barrier_init_ok;
    smmap__os.barrier = single_thread_barrier;
    /* Every miss mapped (not served by pread): an eviction each. */
    m = test_manager(g, 4 * g, 4, 8, SMMAP_ALWAYS_MAP);
    REQUIRE_EQ(m->barrier, 1);
    f = test_open(m, fixture_file("data", 8 * g));
    smmap_cursor_init(&c, f);
    /* Eight windows through a budget of four, in an order that misses
     * every time: an eviction (and a barrier) per switch. */
    for (i = 0; i < 200; i++)
        switch_to(&c, (i * 3) % 8);
    REQUIRE_EQ(c.hazard != NULL, 1);
    /* 64 barriers of 1 ms against 64 ns per switch: readers fence. */
    CHECK_EQ(m->fenced, 1);
    CHECK_EQ(c.hazard->fence, 1);
    calls = barrier_calls;
    for (i = 0; i < 40; i++)
        switch_to(&c, (i * 3 + 1) % 8);
    /* No barrier for those evictions (but a probe per 64 of them). */
    CHECK(barrier_calls <= calls + 1);
    CHECK(pattern_matches(c.data, c.begin, c.size));
    /* Barriers turn cheap and switches among cached windows many: back to
     * barriers, after the window's probe. */
    clock_step = 1;
    for (i = 0; i < 64 && m->fenced; i++) {
        unsigned k;
        for (k = 0; k < 2000; k++)
            switch_to(&c, k % 2 == 0 ? (i * 3) % 8 : c.begin == 0 ? 1 : 0);
        switch_to(&c, (i * 3 + 5) % 8);
        for (k = 0; k < 3; k++)
            switch_to(&c, (i + k * 3) % 8);
    }
    CHECK_EQ(m->fenced, 0);
    CHECK_EQ(c.hazard->fence, 0);
    CHECK(test_stats(m).evictions > 64);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
    teardown();
}

static const test_case tests[] = {
    TEST_ENTRY(test_hazard__switching_cursor_holds_by_hazard),
    TEST_ENTRY(test_hazard__region_a_reader_just_stored_is_spared),
    TEST_ENTRY(test_hazard__failed_barrier_unmaps_nothing),
    TEST_ENTRY(test_hazard__without_barrier_readers_fence),
    TEST_ENTRY(test_hazard__slots_are_reused),
    TEST_ENTRY(test_hazard__costly_barriers_turn_readers_to_fences),
};

TEST_MAIN(tests)
