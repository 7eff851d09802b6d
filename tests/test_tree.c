/*
 * test_tree.c - the interval tree of regions (src/tree.c) against a brute
 * force over the same set: after every insertion and removal, in sorted,
 * reverse and random orders, with overlapping regions and regions of equal
 * offset and size, the tree's invariants hold exactly (order by offset,
 * size and address; every node's height and max_end; AVL balance), and
 * every query (covering region, any overlap, the gap around a range)
 * answers what a scan of the live set answers.
 */
#include "test.h"
#include "smmap_int.h"

enum { POOL = 300 };

static smmap_region pool[POOL];
static int live[POOL];

static uint64_t end_of(const smmap_region *r)
{
    return r->offset + r->size;
}

static int before(const smmap_region *a, const smmap_region *b)
{
    if (a->offset != b->offset)
        return a->offset < b->offset;
    if (a->size != b->size)
        return a->size < b->size;
    return (uintptr_t)a < (uintptr_t)b;
}

/* Checks the subtree at n; returns its true height and sets *max_end and
 * *count. Reports the first broken invariant of each kind it meets. */
static int check_subtree(const smmap_region *n, const smmap_region *lo_bound,
                         const smmap_region *hi_bound, uint64_t *max_end,
                         int *count)
{
    int hl, hr, cl = 0, cr = 0;
    uint64_t el = 0, er = 0, m;
    if (n == NULL) {
        *max_end = 0;
        *count = 0;
        return 0;
    }
    if ((lo_bound && !before(lo_bound, n)) ||
        (hi_bound && !before(n, hi_bound)))
        CHECK(!"tree order");
    hl = check_subtree(n->left, lo_bound, n, &el, &cl);
    hr = check_subtree(n->right, n, hi_bound, &er, &cr);
    CHECK_EQ(n->height, 1 + (hl > hr ? hl : hr));
    CHECK(hl - hr <= 1 && hr - hl <= 1);
    m = end_of(n);
    if (el > m)
        m = el;
    if (er > m)
        m = er;
    CHECK_EQ(n->max_end, m);
    *max_end = m;
    *count = 1 + cl + cr;
    return 1 + (hl > hr ? hl : hr);
}

static void check_tree(const smmap_region *root)
{
    uint64_t max_end;
    int count, expected = 0, i;
    for (i = 0; i < POOL; i++)
        expected += live[i];
    check_subtree(root, NULL, NULL, &max_end, &count);
    CHECK_EQ(count, expected);
}

static uint32_t rng_state;
static uint32_t rng(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

/* Queries at random ranges (and at every region's own edges) against a
 * scan of the live regions. */
static void check_queries(smmap_region *root, uint64_t span)
{
    int q, i;
    for (q = 0; q < 60; q++) {
        uint64_t lo, hi, gap_lo, gap_hi, want_lo = 0, want_hi = UINT64_MAX;
        int any = 0, covered = 0;
        const smmap_region *found;
        if (q < 20) {
            lo = rng() % span;
            hi = lo + 1 + rng() % 64;
        } else {
            const smmap_region *r = &pool[rng() % POOL];
            lo = q % 2 ? r->offset : end_of(r);
            hi = lo + (q % 3 ? 1 : r->size);
        }
        for (i = 0; i < POOL; i++) {
            const smmap_region *r = &pool[i];
            if (!live[i])
                continue;
            any |= r->offset < hi && end_of(r) > lo;
            covered |= r->offset <= lo && end_of(r) >= hi;
            if (r->offset <= lo && end_of(r) > want_lo)
                want_lo = end_of(r);
            if (r->offset > lo && r->offset < want_hi)
                want_hi = r->offset;
        }
        if (want_lo > lo)
            want_lo = lo;
        if (want_hi < hi)
            want_hi = hi;
        CHECK_EQ(smmap__tree_any_overlap(root, lo, hi), any);
        found = smmap__tree_find_covering(root, lo, hi);
        CHECK_EQ(found != NULL, covered);
        if (found != NULL) {
            CHECK(found->offset <= lo && end_of(found) >= hi);
            CHECK_EQ(live[found - pool], 1);
        }
        smmap__tree_gap(root, lo, hi, &gap_lo, &gap_hi);
        CHECK_EQ(gap_lo, want_lo);
        CHECK_EQ(gap_hi, want_hi);
    }
}

/* Fill the pool: order 0 ascending offsets, 1 descending, 2 random with
 * overlaps and exact duplicates of offset and size. */
static void fill(int order, uint64_t span)
{
    int i;
    memset(pool, 0, sizeof(pool));
    memset(live, 0, sizeof(live));
    for (i = 0; i < POOL; i++) {
        smmap_region *r = &pool[i];
        switch (order) {
        case 0: r->offset = (uint64_t)i * 10; r->size = 10; break;
        case 1: r->offset = (uint64_t)(POOL - i) * 10; r->size = 5; break;
        default:
            r->offset = rng() % span;
            r->size = 1 + rng() % (i % 7 == 0 ? span / 4 : 40);
            if (i % 11 == 0 && i > 0) { /* same offset and size as another */
                r->offset = pool[i - 1].offset;
                r->size = pool[i - 1].size;
            }
        }
    }
}

static void run(int order, uint32_t seed)
{
    smmap_region *root = NULL;
    uint64_t span = 4000;
    int i, step;

    rng_state = seed;
    fill(order, span);
    for (i = 0; i < POOL; i++) {
        smmap__tree_insert(&root, &pool[i]);
        live[i] = 1;
        if (i % 17 == 0 || i == POOL - 1) {
            check_tree(root);
            check_queries(root, span);
        }
    }
    /* The AVL bound: height <= 1.44 log2(n + 2), 11 for 300 nodes. */
    CHECK(root->height <= 11);
    /* Remove in a scrambled order, re-insert some, until empty. */
    for (step = 0; step < 3 * POOL; step++) {
        i = (int)(rng() % POOL);
        if (live[i]) {
            smmap__tree_remove(&root, &pool[i]);
            live[i] = 0;
            CHECK(pool[i].left == NULL && pool[i].right == NULL);
        } else if (step % 3 == 0) {
            smmap__tree_insert(&root, &pool[i]);
            live[i] = 1;
        }
        if (step % 13 == 0) {
            check_tree(root);
            check_queries(root, span);
        }
    }
    for (i = 0; i < POOL; i++) {
        if (live[i]) {
            smmap__tree_remove(&root, &pool[i]);
            live[i] = 0;
        }
    }
    CHECK(root == NULL);
}

static void test_tree__ascending_inserts(void)
{
    run(0, 1);
}

static void test_tree__descending_inserts(void)
{
    run(1, 2);
}

static void test_tree__random_overlapping_and_equal_regions(void)
{
    uint32_t seed;
    for (seed = 3; seed < 13; seed++)
        run(2, seed);
}

static void test_tree__empty_tree_answers(void)
{
    uint64_t lo = 7, hi = 9;
    CHECK_EQ(smmap__tree_any_overlap(NULL, 0, UINT64_MAX), 0);
    CHECK(smmap__tree_find_covering(NULL, 0, 1) == NULL);
    smmap__tree_gap(NULL, 100, 200, &lo, &hi);
    CHECK_EQ(lo, 0);
    CHECK_EQ(hi, UINT64_MAX);
}

static const test_case tests[] = {
    TEST_ENTRY(test_tree__ascending_inserts),
    TEST_ENTRY(test_tree__descending_inserts),
    TEST_ENTRY(test_tree__random_overlapping_and_equal_regions),
    TEST_ENTRY(test_tree__empty_tree_answers),
};

TEST_MAIN(tests)
