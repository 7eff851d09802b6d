/*
 * test_cursor.c - cursors: the inline hit path, moving, copying, releasing,
 * and the errors of use and at.
 */
#include "test.h"

static void test_cursor__at_hits_and_moves(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(2 * g, 100 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 10 * g));
    smmap_cursor c;
    const unsigned char *p;
    uint64_t maps, begin;

    smmap_cursor_init(&c, f);
    CHECK(c.data == NULL);
    CHECK_EQ(c.size, 0);
    CHECK(!smmap_cursor_includes(&c, 0));
    p = smmap_cursor_at(&c, 100, 8);
    REQUIRE_EQ(p != NULL, 1);
    CHECK(pattern_matches(p, 100, 8));
    CHECK(smmap_cursor_includes(&c, 100));
    CHECK(smmap_cursor_includes(&c, c.begin + c.size - 1));
    CHECK(!smmap_cursor_includes(&c, c.begin + c.size));
    maps = test_stats(m).maps;
    /* Inside the window: no map, no reuse counted (no call at all). */
    p = smmap_cursor_at(&c, 2 * g - 8, 8);
    CHECK(p == c.data + 2 * g - 8);
    CHECK_EQ(test_stats(m).reuses, 0);
    /* Across the window's end: the cursor moves, bytes stay contiguous. */
    p = smmap_cursor_at(&c, 2 * g - 4, 8);
    REQUIRE_EQ(p != NULL, 1);
    CHECK(pattern_matches(p, 2 * g - 4, 8));
    CHECK_EQ(test_stats(m).maps, maps + 1);
    /* Past the end, and a range that ends past it: refused, and the cursor
     * keeps its window; nothing is mapped. */
    maps = test_stats(m).maps;
    begin = c.begin;
    CHECK(smmap_cursor_at(&c, 10 * g, 1) == NULL);
    CHECK_EQ(c.error, -ERANGE);
    CHECK(c.data != NULL && c.begin == begin);
    CHECK(smmap_cursor_at(&c, 10 * g - 4, 8) == NULL);
    CHECK_EQ(c.error, -ERANGE);
    CHECK(c.data != NULL && c.begin == begin);
    CHECK(smmap_cursor_at(&c, 0, 10 * g + 1) == NULL);
    CHECK_EQ(c.error, -ERANGE);
    CHECK_EQ(test_stats(m).maps, maps);
    CHECK(pattern_matches(c.data, c.begin, c.size));
    /* The last bytes: the cursor moves; an inline hit that follows changes
     * nothing, not even the error, which only calls set. */
    REQUIRE_EQ(smmap_cursor_use_exact(&c, 10 * g - 4, 4), 0);
    CHECK(pattern_matches(c.data, c.begin, c.size));
    CHECK(c.begin + c.size == 10 * g);
    c.error = -ERANGE;
    p = smmap_cursor_at(&c, 10 * g - 4, 4);
    REQUIRE_EQ(p != NULL, 1);
    CHECK(pattern_matches(p, 10 * g - 4, 4));
    CHECK_EQ(c.error, -ERANGE);
    REQUIRE_EQ(smmap_cursor_use(&c, 10 * g - 4, 4), 0);
    CHECK_EQ(c.error, 0);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* smmap_cursor_at for bytes past the end maps nothing first: not the rest
 * of the file in one oversized window (which a hard budget refused with
 * -ENOMEM, and a soft one took over budget), only -ERANGE. */
static void test_cursor__at_past_end_maps_nothing(void)
{
    uint64_t g = test_granularity();
    uint32_t hard;
    for (hard = 0; hard <= 1; hard++) {
        smmap_manager *m = test_manager(4 * g, 4 * g, 10, 10,
                                        hard ? SMMAP_HARD_LIMITS : 0);
        smmap_file *f = test_open(m, fixture_file("data", 20 * g));
        smmap_cursor c;
        smmap_stats st;
        smmap_cursor_init(&c, f);
        CHECK(smmap_cursor_at(&c, 0, 20 * g + 1) == NULL);
        CHECK_EQ(c.error, -ERANGE);
        CHECK(smmap_cursor_at(&c, 16 * g, 4 * g + 1) == NULL);
        CHECK_EQ(c.error, -ERANGE);
        CHECK_EQ(smmap_cursor_use_exact(&c, 20 * g - 1, 2), -ERANGE);
        CHECK_EQ(smmap_cursor_use_exact(&c, 20 * g, 0), -ERANGE);
        CHECK_EQ(smmap_cursor_use_exact(&c, UINT64_MAX, SIZE_MAX), -ERANGE);
        CHECK_EQ(smmap_cursor_use_exact(NULL, 0, 1), -EINVAL);
        st = test_stats(m);
        CHECK_EQ(st.maps, 0);
        CHECK_EQ(st.mapped_bytes, 0);
        CHECK(c.data == NULL);
        /* The same bytes a window holds are given as usual. */
        REQUIRE_EQ(smmap_cursor_at(&c, 16 * g, 4 * g) != NULL, 1);
        CHECK(pattern_matches(c.data, c.begin, c.size));
        CHECK(test_stats(m).mapped_bytes <= 4 * g);
        smmap_cursor_release(&c);
        smmap_file_close(f);
        smmap_manager_free(m);
    }
}

static void test_cursor__use_errors(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g, 100 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 3 * g));
    smmap_cursor c;

    CHECK_EQ(smmap_cursor_use(NULL, 0, 1), -EINVAL);
    smmap_cursor_init(&c, NULL);
    CHECK_EQ(smmap_cursor_use(&c, 0, 1), -EINVAL);
    CHECK_EQ(c.error, -EINVAL);
    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_cursor_use(&c, 0, 1), 0);
    CHECK_EQ(smmap_cursor_use(&c, 3 * g, 1), -ERANGE);
    CHECK(c.data == NULL);
    CHECK_EQ(c.size, 0);
    CHECK_EQ(smmap_cursor_use(&c, UINT64_MAX, SIZE_MAX), -ERANGE);
    /* A size that would wrap past the end is clamped to the file. */
    REQUIRE_EQ(smmap_cursor_use(&c, 3 * g - 1, SIZE_MAX), 0);
    CHECK_EQ(c.begin + c.size, 3 * g);
    CHECK_EQ(c.data[3 * g - 1 - c.begin], pattern_byte(3 * g - 1));
    CHECK_EQ(c.begin, 2 * g); /* [0, g) stays cached beside it */
    smmap_cursor_release(&c);
    CHECK_EQ(test_stats(m).regions, 2);
    CHECK_EQ(smmap_manager_collect(m), 2);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_cursor__copy_shares_and_pins(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g, 100 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 3 * g));
    smmap_cursor a, b, empty;

    smmap_cursor_init(&a, f);
    smmap_cursor_init(&b, f);
    smmap_cursor_init(&empty, f);
    REQUIRE_EQ(smmap_cursor_use(&a, g, 1), 0);
    REQUIRE_EQ(smmap_cursor_use(&b, 2 * g, 1), 0);
    {
        unsigned char byte;
        REQUIRE_EQ(smmap_read(&a, g + 1, &byte, 1), 1);
        CHECK_EQ(a.served, 1); /* a copy read, credited when a leaves */
    }
    smmap_cursor_copy(&b, &a); /* b's region is released, a's shared */
    CHECK_EQ(b.served, 0);     /* the copy served nothing yet */
    CHECK(b.data == a.data);
    CHECK_EQ(b.begin, a.begin);
    CHECK_EQ(b.size, a.size);
    CHECK_EQ(test_stats(m).maps, 2);
    smmap_cursor_release(&a);
    /* b still pins it: only b's old region is collectable. */
    CHECK_EQ(smmap_manager_collect(m), 1);
    CHECK(pattern_matches(b.data, b.begin, b.size));
    smmap_cursor_copy(&b, &empty);
    CHECK(b.data == NULL);
    CHECK_EQ(smmap_manager_collect(m), 1);
    smmap_cursor_copy(&b, &b);
    smmap_cursor_copy(NULL, &b);
    smmap_cursor_copy(&b, NULL);
    smmap_cursor_release(&b);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_cursor__release_is_idempotent(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(g, 100 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 3 * g));
    smmap_cursor c;

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_cursor_use(&c, 0, 0), 0);
    CHECK_EQ(c.size, g);
    smmap_cursor_release(&c);
    smmap_cursor_release(&c);
    smmap_cursor_release(NULL);
    smmap_cursor_init(NULL, f);
    CHECK(c.data == NULL);
    CHECK_EQ(smmap_manager_collect(m), 1);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_cursor__use_range_reuses_any_containing_region(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(4 * g, 100 * g, 10, 10, 0);
    smmap_file *f = test_open(m, fixture_file("data", 20 * g));
    smmap_cursor a, b, c;

    smmap_cursor_init(&a, f);
    smmap_cursor_init(&b, f);
    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_cursor_use(&a, 10, 10), 0);
    CHECK_EQ(a.size, 4 * g);
    /* smmap_cursor_use would map again for 4g bytes at 20; use_range
     * reuses the region that holds the one byte needed. */
    REQUIRE_EQ(smmap_cursor_use_range(&b, 20, 1, 4 * g), 0);
    CHECK(b.data == a.data);
    CHECK_EQ(test_stats(m).maps, 1);
    CHECK_EQ(test_stats(m).reuses, 1);
    /* Nothing holds 5g: a window is placed for the whole want. */
    REQUIRE_EQ(smmap_cursor_use_range(&c, 5 * g, 0, 4 * g), 0);
    CHECK_EQ(c.begin, 5 * g);
    CHECK_EQ(c.size, 4 * g);
    CHECK(pattern_matches(c.data, 5 * g, 4 * g));
    /* need larger than want is taken as want; both clamp at the end. */
    REQUIRE_EQ(smmap_cursor_use_range(&c, 20 * g - 3, 100, 1), 0);
    CHECK_EQ(c.begin + c.size, 20 * g);
    CHECK_EQ(smmap_cursor_use_range(&c, 20 * g, 1, 1), -ERANGE);
    CHECK(c.data == NULL);
    CHECK_EQ(smmap_cursor_use_range(NULL, 0, 1, 1), -EINVAL);
    smmap_cursor_release(&a);
    smmap_cursor_release(&b);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static const test_case tests[] = {
    TEST_ENTRY(test_cursor__use_range_reuses_any_containing_region),
    TEST_ENTRY(test_cursor__at_hits_and_moves),
    TEST_ENTRY(test_cursor__at_past_end_maps_nothing),
    TEST_ENTRY(test_cursor__use_errors),
    TEST_ENTRY(test_cursor__copy_shares_and_pins),
    TEST_ENTRY(test_cursor__release_is_idempotent),
};

TEST_MAIN(tests)
