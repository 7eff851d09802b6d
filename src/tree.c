/*
 * tree.c - the regions of one file, as an interval tree.
 *
 * An AVL tree ordered by (offset, size, address), each node carrying the
 * largest end offset of its subtree. That gives O(log n) insertion, removal,
 * the search for a region that covers a range (regions may overlap where a
 * contiguous request straddles neighbours, so the region with the nearest
 * start is not always the one that covers) and the search for the free gap
 * around a request, which window placement needs.
 */
#include "smmap_int.h"

static uint64_t region_end(const smmap_region *r)
{
    return r->offset + r->size;
}

static int32_t height(const smmap_region *r)
{
    return r ? r->height : 0;
}

static void update(smmap_region *r)
{
    int32_t hl = height(r->left), hr = height(r->right);
    uint64_t end = region_end(r);
    r->height = 1 + (hl > hr ? hl : hr);
    if (r->left && r->left->max_end > end)
        end = r->left->max_end;
    if (r->right && r->right->max_end > end)
        end = r->right->max_end;
    r->max_end = end;
}

static smmap_region *rotate_right(smmap_region *y)
{
    smmap_region *x = y->left;
    y->left = x->right;
    x->right = y;
    update(y);
    update(x);
    return x;
}

static smmap_region *rotate_left(smmap_region *x)
{
    smmap_region *y = x->right;
    x->right = y->left;
    y->left = x;
    update(x);
    update(y);
    return y;
}

static smmap_region *balance(smmap_region *n)
{
    int32_t bf;
    update(n);
    bf = height(n->left) - height(n->right);
    if (bf > 1) {
        if (height(n->left->left) < height(n->left->right))
            n->left = rotate_left(n->left);
        return rotate_right(n);
    }
    if (bf < -1) {
        if (height(n->right->right) < height(n->right->left))
            n->right = rotate_right(n->right);
        return rotate_left(n);
    }
    return n;
}

static int compare(const smmap_region *a, const smmap_region *b)
{
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    if (a->size != b->size)
        return a->size < b->size ? -1 : 1;
    if (a != b)
        return (uintptr_t)a < (uintptr_t)b ? -1 : 1;
    return 0;
}

static smmap_region *insert(smmap_region *n, smmap_region *r)
{
    if (n == NULL) {
        r->left = r->right = NULL;
        update(r);
        return r;
    }
    if (compare(r, n) < 0)
        n->left = insert(n->left, r);
    else
        n->right = insert(n->right, r);
    return balance(n);
}

static smmap_region *remove_min(smmap_region *n, smmap_region **min)
{
    if (n->left == NULL) {
        *min = n;
        return n->right;
    }
    n->left = remove_min(n->left, min);
    return balance(n);
}

static smmap_region *remove_node(smmap_region *n, smmap_region *r)
{
    int c;
    if (n == NULL)
        return NULL;
    c = compare(r, n);
    if (c < 0) {
        n->left = remove_node(n->left, r);
    } else if (c > 0) {
        n->right = remove_node(n->right, r);
    } else {
        smmap_region *left = n->left, *right = n->right, *min;
        if (right == NULL)
            return left;
        right = remove_min(right, &min);
        min->left = left;
        min->right = right;
        return balance(min);
    }
    return balance(n);
}

void smmap__tree_insert(smmap_region **root, smmap_region *r)
{
    *root = insert(*root, r);
}

void smmap__tree_remove(smmap_region **root, smmap_region *r)
{
    *root = remove_node(*root, r);
    r->left = r->right = NULL;
}

/*
 * If a node does not cover [lo, hi): a node starting after lo rules out its
 * right subtree; otherwise its whole left subtree starts at or before lo, so
 * any left node ending at or after hi covers, and max_end says whether one
 * exists. Either way one path from the root suffices.
 */
smmap_region *smmap__tree_find_covering(smmap_region *n, uint64_t lo,
                                        uint64_t hi)
{
    while (n != NULL) {
        if (n->offset <= lo && region_end(n) >= hi)
            return n;
        if (n->offset > lo)
            n = n->left;
        else if (n->left && n->left->max_end >= hi)
            n = n->left;
        else
            n = n->right;
    }
    return NULL;
}

/*
 * Any interval overlapping [lo, hi): when the left subtree holds one ending
 * after lo but none of its intervals overlaps, that one starts at or after
 * hi, and so does everything to the right: one path suffices.
 */
int smmap__tree_any_overlap(const smmap_region *n, uint64_t lo, uint64_t hi)
{
    while (n != NULL) {
        if (n->offset < hi && region_end(n) > lo)
            return 1;
        if (n->left && n->left->max_end > lo)
            n = n->left;
        else
            n = n->right;
    }
    return 0;
}

void smmap__tree_gap(smmap_region *root, uint64_t lo, uint64_t hi,
                     uint64_t *gap_lo, uint64_t *gap_hi)
{
    uint64_t left_end = 0, right_start = UINT64_MAX;
    smmap_region *n;

    /* The largest end among regions starting at or before lo. */
    for (n = root; n != NULL;) {
        if (n->offset <= lo) {
            if (region_end(n) > left_end)
                left_end = region_end(n);
            if (n->left && n->left->max_end > left_end)
                left_end = n->left->max_end;
            n = n->right;
        } else {
            n = n->left;
        }
    }
    /* The smallest start after lo. */
    for (n = root; n != NULL;) {
        if (n->offset > lo) {
            right_start = n->offset;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    *gap_lo = left_end > lo ? lo : left_end;
    *gap_hi = right_start < hi ? hi : right_start;
}
