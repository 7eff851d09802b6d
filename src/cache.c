/*
 * cache.c - the mapped regions of the trees as a cache: how a cursor finds
 * and pins one without the manager lock, which unused one eviction takes,
 * and the descriptors regions live in.
 *
 * Pins. A region's state word holds its pins and three flags (smmap_int.h).
 * A cursor pins with one compare-and-swap that fails on a DEAD region;
 * eviction, under the manager lock, kills an unused region with a
 * compare-and-swap from no pins to DEAD, after which no pin succeeds, and
 * only then unmaps it. So a pinned region is never unmapped, and neither
 * side of a switch takes a lock. The unpin is a release and the kill an
 * acquire: every read a cursor made from a window happens before its unmap.
 *
 * Lookup. Each entry keeps hints: for each slot of 2^hint_shift bytes of
 * its file (about a window), the two regions last mapped or found there. A
 * switch loads them, checks that one covers its range, pins it and checks
 * again: a region it saw may have been evicted and its descriptor reused
 * for other bytes meanwhile. Descriptors are never freed while the manager
 * lives, only reused, so a stale hint costs a failed check, never a
 * dangling pointer. A miss in the hints is not a miss: the caller searches
 * the tree under the lock, and what it finds there becomes a hint.
 *
 * Eviction order. Exact LRU would need the lock at every release. Instead
 * (CLOCK, the second-chance algorithm): every pin sets the region's
 * REFERENCED flag, and regions wait in one list in the order they were
 * mapped or last given a second chance. Eviction looks at the head: a
 * pinned region is set aside (PARKED) until its last cursor leaves, which
 * puts it back at the tail; a referenced one loses the flag and goes to
 * the tail; the first one neither pinned nor referenced is evicted. A
 * region is passed over at most once per pin, so an eviction costs O(1)
 * amortized. bench/eviction-quality.sh measures its hit rate against exact
 * LRU's on recorded traces.
 *
 * Counters. A reuse is counted on the region, in the high half of its
 * state word (the pin counts it), not on the manager, whose line would
 * otherwise bounce between threads at every switch; the stats add the live
 * regions' counts to those of the regions gone.
 */
#include "smmap_int.h"

#include <stddef.h>
#include <string.h>

/* ---- pins ---------------------------------------------------------------- */

/* With the lock held: r, parked, lost its last pin; back to the tail of
 * the clock list, unless a cursor pinned it again meanwhile (then its
 * last unpin comes here again) or it is no longer parked. */
static void unpark(smmap_manager *m, smmap_region *r);

void smmap__region_unpin_fast(smmap_manager *m, smmap_region *r,
                              uint64_t uses)
{
    uint64_t old;
    SMMAP__HG_BEFORE(&r->state);
    old = smmap__fetch_sub_release(&r->state, 1 + uses);
    assert((old & SMMAP__PINS) > 0 && !(old & SMMAP__DEAD));
    if ((old & SMMAP__PINS) == 1 && (old & SMMAP__PARKED)) {
        smmap__mutex_lock(&m->lock);
        unpark(m, r);
        smmap__mutex_unlock(&m->lock);
    }
}

int smmap__region_count_use(smmap_region *r)
{
    uint64_t old = smmap__fetch_add_relaxed(&r->state, SMMAP__USE);
    if (smmap__load_relaxed(&r->first_hold))
        smmap__region_credit(r, 1);
    return ((old + SMMAP__USE) & SMMAP__USES_FOLD) != 0;
}

/* Half the count (not all of it) moves to the manager, so that a reuse
 * counted with a pin that turns out to be of a reused descriptor can be
 * taken back from the region without going below zero. */
#define FOLD_AMOUNT (1ull << 30)

void smmap__region_fold_locked(smmap_manager *m, smmap_region *r)
{
    uint64_t s = smmap__load_relaxed(&r->state);
    while (s & SMMAP__USES_FOLD) {
        if (smmap__cas(&r->state, &s, s - FOLD_AMOUNT * SMMAP__USE)) {
            m->stats.reuses += FOLD_AMOUNT;
            break;
        }
    }
}

void smmap__region_fold(smmap_manager *m, smmap_region *r)
{
    smmap__mutex_lock(&m->lock);
    smmap__region_fold_locked(m, r);
    smmap__mutex_unlock(&m->lock);
}

void smmap__region_credit(smmap_region *r, uint64_t served)
{
    /* The policy samples it when the first hold ends, and takes at most
     * 2^20 of it: nothing to count after that (a credit racing with the
     * end of the first hold may count or not), nor far from wrapping. */
    if (served != 0 && smmap__load_relaxed(&r->first_hold) &&
        smmap__load_relaxed(&r->served) < (1u << 30))
        smmap__fetch_add_relaxed(&r->served,
                                 (uint32_t)smmap__min_u64(served, 1u << 30));
}

/* ---- the clock and parked lists (with the lock held) -------------------- */

static void list_append(smmap_region **head, smmap_region **tail,
                        smmap_region *r)
{
    r->lru_next = NULL;
    r->lru_prev = *tail;
    if (*tail)
        (*tail)->lru_next = r;
    else
        *head = r;
    *tail = r;
}

static void list_unlink(smmap_region **head, smmap_region **tail,
                        smmap_region *r)
{
    if (r->lru_prev)
        r->lru_prev->lru_next = r->lru_next;
    else
        *head = r->lru_next;
    if (r->lru_next)
        r->lru_next->lru_prev = r->lru_prev;
    else if (tail != NULL)
        *tail = r->lru_prev;
    r->lru_prev = r->lru_next = NULL;
}

static void park(smmap_manager *m, smmap_region *r)
{
    list_unlink(&m->lru_head, &m->lru_tail, r);
    r->lru_prev = NULL;
    r->lru_next = m->parked_head;
    if (m->parked_head)
        m->parked_head->lru_prev = r;
    m->parked_head = r;
}

static void unpark(smmap_manager *m, smmap_region *r)
{
    uint64_t s = smmap__load_relaxed(&r->state);
    do {
        if (!(s & SMMAP__PARKED) || (s & SMMAP__PINS) || (s & SMMAP__DEAD))
            return;
    } while (!smmap__cas(&r->state, &s, s & ~(uint64_t)SMMAP__PARKED));
    list_unlink(&m->parked_head, NULL, r);
    list_append(&m->lru_head, &m->lru_tail, r);
}

void smmap__region_unpin(smmap_manager *m, smmap_region *r)
{
    uint64_t old;
    SMMAP__HG_BEFORE(&r->state);
    old = smmap__fetch_sub_release(&r->state, (uint64_t)1);
    assert((old & SMMAP__PINS) > 0);
    if ((old & SMMAP__PINS) != 1)
        return;
    if (r->transient)
        smmap__pressure_left(m, r);
    else if (old & SMMAP__PARKED)
        unpark(m, r);
}

/* What claim_head did. */
enum { CLAIM_NONE, CLAIM_AGAIN, CLAIM_GIVE_UP };

/* Move the head of the clock list to its tail (a second chance). */
static void to_tail(smmap_manager *m, smmap_region *r)
{
    list_unlink(&m->lru_head, &m->lru_tail, r);
    list_append(&m->lru_head, &m->lru_tail, r);
}

/*
 * The head of the clock list, claimed (DEAD) into *out if it may be
 * evicted now: pinned ones are parked, referenced ones and those a hazard
 * slot holds get a second chance. Returns CLAIM_NONE (with *out, or none
 * when no region is unused), CLAIM_AGAIN after a second chance (the
 * caller counts and asks again), CLAIM_GIVE_UP when the hazard slots
 * cannot be checked. With force, the reference flags are ignored (a sweep
 * that has given every region its chance).
 */
static int claim_head(smmap_manager *m, int force, smmap_region **out)
{
    smmap_region *r;
    int held;
    *out = NULL;
    while ((r = m->lru_head) != NULL) {
        uint64_t s = smmap__load_relaxed(&r->state);
        assert(!(s & (SMMAP__DEAD | SMMAP__PARKED)));
        if (s & SMMAP__PINS) {
            if (smmap__cas(&r->state, &s, s | SMMAP__PARKED))
                park(m, r);
        } else if ((s & SMMAP__REFERENCED) && !force) {
            if (smmap__cas(&r->state, &s,
                           s & ~(uint64_t)SMMAP__REFERENCED)) {
                to_tail(m, r);
                return CLAIM_AGAIN;
            }
        } else if (smmap__hazard_holds(m, r)) {
            to_tail(m, r); /* seen held: no barrier spent on it */
            return CLAIM_AGAIN;
        } else if (smmap__cas(&r->state, &s, s | SMMAP__DEAD)) {
            SMMAP__HG_AFTER(&r->state);
            r->doomed = 1;
            held = smmap__hazard_confirm(m);
            if (held < 0) {
                r->doomed = 0;
                __atomic_fetch_and(&r->state, ~(uint64_t)SMMAP__DEAD,
                                   __ATOMIC_RELAXED);
                return CLAIM_GIVE_UP;
            }
            if (held) {
                to_tail(m, r); /* spared: a cursor took it meanwhile */
                return CLAIM_AGAIN;
            }
            r->doomed = 0;
            *out = r;
            return CLAIM_NONE;
        }
        /* a failed compare-and-swap: a cursor pinned or left r meanwhile;
         * look at it again */
    }
    return CLAIM_NONE;
}

smmap_region *smmap__cache_evict(smmap_manager *m)
{
    /* Each second chance moves one region to the tail; after as many as
     * the list holds, every region has had its chance, and after as many
     * again, each was found held by a hazard slot. */
    uint32_t chances = 0, limit = m->stats.regions + 1;
    smmap_region *r;
    while (m->lru_head != NULL && chances <= 2 * limit) {
        if (claim_head(m, chances > limit, &r) != CLAIM_AGAIN)
            return r;
        chances++;
    }
    return NULL;
}

int smmap__cache_has_unused(smmap_manager *m)
{
    smmap_region *r;
    while ((r = m->lru_head) != NULL) {
        uint64_t s = smmap__load_relaxed(&r->state);
        if (!(s & SMMAP__PINS))
            return 1;
        if (smmap__cas(&r->state, &s, s | SMMAP__PARKED))
            park(m, r);
    }
    return 0;
}

/* ---- the index of an entry: its tree, slot filter and hints ------------- */

/*
 * The slot filter (slot_bits): one bit per slot of 2^slot_shift bytes, set
 * while some region of the tree overlaps the slot. A region covering an
 * offset overlaps that offset's slot, so a clear bit proves a miss without
 * a tree search (the common case under pressure). Slots past the bits (a
 * file that grew) are searched.
 */
#define SLOT_BITS_MAX 65536u
/* Hints: two regions per bucket; at least 2^HINT_MIN_BITS buckets, and
 * at least as many as the entry has regions (doubled when it passes). */
#define HINT_MIN_BITS 2u /* 4 buckets */

/* The largest power of two not above the window (sliding mode), coarser
 * until the slots of a file of size bytes fit in max. */
static uint32_t slot_shift_for(const smmap_manager *m, uint64_t size,
                               uint64_t max)
{
    uint32_t sh = 0;
    /* window_size is below 2^63 (validated), so the first loop ends with
     * sh <= 62. */
    while (sh < 62 && (2ull << sh) <= m->opt.window_size)
        sh++;
    while (sh < 63 && (size >> sh) >= max)
        sh++;
    return sh;
}

/* Hint slots: the smallest power of two not below the window, so that a
 * region no larger than a window that covers an offset in slot t starts
 * in slot t or t - 1. */
static uint32_t hint_shift_for(const smmap_manager *m)
{
    uint32_t sh = 0;
    if (m->opt.window_size == 0)
        return 63;
    while (sh < 62 && (1ull << sh) < m->opt.window_size)
        sh++;
    return sh;
}

static size_t slot_words(uint64_t nbits)
{
    return (size_t)((nbits + 63) / 64);
}

static smmap_hints *hints_new(uint32_t shift, uint32_t bits)
{
    uint64_t nways = 2ull << bits;
    size_t size = sizeof(smmap_hints) + (size_t)nways * sizeof(uintptr_t);
    smmap_hints *h = smmap__os.malloc(size);
    if (h == NULL)
        return NULL;
    memset(h, 0, size);
    SMMAP__HG_ATOMIC(h->way, (size_t)nways * sizeof(h->way[0]));
    h->shift = shift;
    h->bits = bits;
    h->mask = (1ull << bits) - 1;
    return h;
}

int smmap__index_plan(const smmap_manager *m, const smmap_entry *e,
                      smmap_index_alloc *a)
{
    memset(a, 0, sizeof(*a));
    if (e->hints != NULL)
        return 0;
    if (m->opt.window_size != 0) {
        a->bits_shift = slot_shift_for(m, e->max_size, SLOT_BITS_MAX);
        a->bits_n = (uint32_t)(e->max_size >> a->bits_shift) + 1;
    }
    return 1;
}

void smmap__index_alloc(const smmap_manager *m, smmap_index_alloc *a)
{
    a->hints = hints_new(hint_shift_for(m), HINT_MIN_BITS);
    if (a->bits_n != 0) {
        a->bits = smmap__os.malloc(slot_words(a->bits_n) * 8);
        if (a->bits != NULL)
            memset(a->bits, 0, slot_words(a->bits_n) * 8);
    }
}

static void slot_set(smmap_entry *e, uint64_t a, uint64_t b)
{
    uint64_t s, last = (b - 1) >> e->slot_shift;
    for (s = a >> e->slot_shift; s <= last && s < e->slot_nbits; s++)
        e->slot_bits[s / 64] |= 1ull << (s % 64);
}

static void slot_set_tree(smmap_entry *e, const smmap_region *n)
{
    for (; n != NULL; n = n->right) {
        slot_set(e, n->offset, n->offset + n->size);
        slot_set_tree(e, n->left);
    }
}

/* After r left the tree: clear the slots no other region overlaps. A
 * region over many slots (an oversized one) has them all recomputed. */
static void slot_clear(smmap_entry *e, const smmap_region *r)
{
    uint64_t s, first = r->offset >> e->slot_shift,
                last = (r->offset + r->size - 1) >> e->slot_shift;
    if (e->slot_bits == NULL || first >= e->slot_nbits)
        return;
    if (last >= e->slot_nbits)
        last = e->slot_nbits - 1;
    if (last - first >= 64) {
        memset(e->slot_bits, 0, slot_words(e->slot_nbits) * 8);
        slot_set_tree(e, e->tree);
        return;
    }
    for (s = first; s <= last; s++)
        if (!smmap__tree_any_overlap(e->tree, s << e->slot_shift,
                                     (s + 1) << e->slot_shift))
            e->slot_bits[s / 64] &= ~(1ull << (s % 64));
}

int smmap__slot_may_cover(const smmap_entry *e, uint64_t off)
{
    uint64_t s;
    if (e->slot_bits == NULL)
        return 1;
    s = off >> e->slot_shift;
    return s >= e->slot_nbits || ((e->slot_bits[s / 64] >> (s % 64)) & 1);
}

/* With the lock held: r is the newest region starting in its slot. A
 * bucket keeps the two newest; the older one moves to the second way. */
static void hint_put(smmap_hints *h, smmap_region *r)
{
    uint64_t slot = r->offset >> h->shift;
    uintptr_t *b = &h->way[2 * (slot & h->mask)], way;
    way = smmap__hint_way(h, r, slot);
    if (b[0] == way)
        return;
    SMMAP__HG_BEFORE(r);
    if (b[1] != way && b[0] != 0)
        smmap__store_release(&b[1], b[0]);
    smmap__store_release(&b[0], way);
}

static void hint_drop(smmap_hints *h, const smmap_region *r)
{
    uint64_t slot = r->offset >> h->shift;
    uintptr_t *b = &h->way[2 * (slot & h->mask)];
    uintptr_t way = smmap__hint_way(h, r, slot);
    if (b[1] == way)
        smmap__store_release(&b[1], (uintptr_t)0);
    if (b[0] == way) {
        smmap__store_release(&b[0], b[1]);
        smmap__store_release(&b[1], (uintptr_t)0);
    }
}

static void hint_tree(smmap_hints *h, smmap_region *n)
{
    for (; n != NULL; n = n->right) {
        hint_put(h, n);
        hint_tree(h, n->left);
    }
}

/* With the lock held: a table with a bucket per region at least, once the
 * entry has more regions than buckets. The old one is kept (a reader may
 * be in it) until the entry is freed: at most as much again. A failed
 * allocation keeps the old table. */
static void hints_grow(smmap_entry *e)
{
    smmap_hints *old = e->hints, *h;
    if (old == NULL || e->nregions <= old->mask + 1)
        return;
    h = hints_new(old->shift, old->bits + 1);
    if (h == NULL)
        return;
    hint_tree(h, e->tree);
    h->retired = old;
    SMMAP__HG_BEFORE(&e->hints);
    smmap__store_release(&e->hints, h);
}

void smmap__cache_hint(smmap_entry *e, smmap_region *r)
{
    if (e->hints != NULL)
        hint_put(e->hints, r);
}

void smmap__index_install(smmap_entry *e, smmap_index_alloc *a)
{
    if (a->hints != NULL && e->hints == NULL) {
        hint_tree(a->hints, e->tree);
        SMMAP__HG_BEFORE(&e->hints);
        smmap__store_release(&e->hints, a->hints);
        a->hints = NULL;
    }
    if (a->bits != NULL && e->slot_bits == NULL) {
        e->slot_bits = a->bits;
        e->slot_shift = (uint8_t)a->bits_shift;
        e->slot_nbits = a->bits_n;
        slot_set_tree(e, e->tree);
        a->bits = NULL;
    }
}

void smmap__index_free(smmap_index_alloc *a)
{
    smmap__os.free(a->hints);
    smmap__os.free(a->bits);
}

void smmap__index_destroy(smmap_entry *e)
{
    smmap_hints *h = e->hints;
    while (h != NULL) {
        smmap_hints *next = h->retired;
        smmap__os.free(h);
        h = next;
    }
    smmap__os.free(e->slot_bits);
}

void smmap__cache_insert(smmap_manager *m, smmap_entry *e, smmap_region *r)
{
    smmap__tree_insert(&e->tree, r);
    if (e->slot_bits != NULL)
        slot_set(e, r->offset, r->offset + r->size);
    if (e->hints != NULL) {
        hints_grow(e);
        hint_put(e->hints, r);
    }
    list_append(&m->lru_head, &m->lru_tail, r);
}

/* ---- removal and accounting (with the lock held) ------------------------ */

/* Called with the lock held, for a region out of every list and index. */
void smmap__region_unaccount(smmap_manager *m, smmap_region *r)
{
    smmap_entry *e = r->entry;
    assert(m->stats.mapped_bytes >= r->size && m->stats.regions > 0);
    m->stats.mapped_bytes -= r->size;
    m->stats.regions--;
    if (!r->heap)
        m->stats.unmaps++;
    if (--e->nregions == 0)
        m->stats.files_mapped--;
}

void smmap__region_detach(smmap_manager *m, smmap_region *r,
                          smmap_region **chain)
{
    if (r->transient) {
        smmap__pressure_unlink(r);
    } else {
        /* Claimed by the caller, or (a file closed with a cursor still on
         * it, the caller's bug) killed here all the same. */
        uint64_t s = __atomic_fetch_or(&r->state, SMMAP__DEAD,
                                       __ATOMIC_ACQ_REL);
        r->doomed = 0;
        if (s & SMMAP__PARKED)
            list_unlink(&m->parked_head, NULL, r);
        else
            list_unlink(&m->lru_head, &m->lru_tail, r);
        m->stats.reuses += s >> 32;
        smmap__tree_remove(&r->entry->tree, r);
        slot_clear(r->entry, r);
        if (r->entry->hints != NULL)
            hint_drop(r->entry->hints, r);
    }
    smmap__region_unaccount(m, r);
    r->lru_next = *chain;
    *chain = r;
}

/* Claim the unused regions of a list and mark them doomed. */
static void doom_unused_of(smmap_region *r)
{
    for (; r != NULL; r = r->lru_next) {
        uint64_t s = smmap__load_relaxed(&r->state);
        while (!(s & SMMAP__PINS)) {
            if (smmap__cas(&r->state, &s, s | SMMAP__DEAD)) {
                SMMAP__HG_AFTER(&r->state);
                r->doomed = 1;
                break;
            }
        }
    }
}

/* The doomed regions of a list: detached into *chain (evict), or spared;
 * returns how many were detached. */
static size_t end_doomed_of(smmap_manager *m, smmap_region *r, int evict,
                            smmap_region **chain)
{
    size_t count = 0;
    while (r != NULL) {
        smmap_region *next = r->lru_next;
        if (r->doomed && evict) {
            smmap__region_detach(m, r, chain);
            count++;
        } else if (r->doomed) {
            r->doomed = 0;
            __atomic_fetch_and(&r->state, ~(uint64_t)SMMAP__DEAD,
                               __ATOMIC_RELAXED);
        }
        r = next;
    }
    return count;
}

size_t smmap__region_detach_unused(smmap_manager *m, smmap_region **chain)
{
    size_t count;
    int evict;
    doom_unused_of(m->lru_head);
    /* A parked region whose last cursor is on its way to unpark it. */
    doom_unused_of(m->parked_head);
    /* The slots spare what they hold; the rest goes, unless they cannot
     * be checked. */
    evict = smmap__hazard_confirm(m) >= 0;
    count = end_doomed_of(m, m->lru_head, evict, chain);
    count += end_doomed_of(m, m->parked_head, evict, chain);
    (void)smmap__cache_has_unused(m); /* parks the pinned rest */
    return count;
}

int smmap__entry_claim_all(smmap_entry *e)
{
    /* Depth-first over the tree, iteratively: the tree is an AVL tree, so
     * a stack of 2 * 64 nodes always suffices. */
    smmap_region *stack[128], *r;
    int top = 0, busy = 0;
    if (e->tree != NULL)
        stack[top++] = e->tree;
    while (top > 0) {
        uint64_t s;
        r = stack[--top];
        s = smmap__load_relaxed(&r->state);
        while (!busy && !(s & SMMAP__DEAD)) {
            if (s & SMMAP__PINS)
                busy = 1;
            else if (smmap__cas(&r->state, &s, s | SMMAP__DEAD)) {
                SMMAP__HG_AFTER(&r->state);
                r->doomed = 1;
                break;
            }
        }
        if (r->left)
            stack[top++] = r->left;
        if (r->right)
            stack[top++] = r->right;
    }
    return busy ? -EBUSY : 0;
}

void smmap__entry_unclaim_all(smmap_entry *e)
{
    smmap_region *stack[128], *r;
    int top = 0;
    if (e->tree != NULL)
        stack[top++] = e->tree;
    while (top > 0) {
        r = stack[--top];
        /* Only this lock holder claims regions that stay in a tree. */
        r->doomed = 0;
        __atomic_fetch_and(&r->state, ~(uint64_t)SMMAP__DEAD,
                           __ATOMIC_RELAXED);
        if (r->left)
            stack[top++] = r->left;
        if (r->right)
            stack[top++] = r->right;
    }
}

uint64_t smmap__cache_uses(const smmap_manager *m)
{
    const smmap_region *r;
    uint64_t sum = 0;
    for (r = m->lru_head; r != NULL; r = r->lru_next)
        sum += smmap__load_relaxed(&r->state) >> 32;
    for (r = m->parked_head; r != NULL; r = r->lru_next)
        sum += smmap__load_relaxed(&r->state) >> 32;
    return sum;
}

/* ---- descriptors ---------------------------------------------------------- */

/* Descriptors come in blocks of REGIONS_PER_BLOCK, line aligned, and
 * go back to the manager's free list, never to the allocator, until the
 * manager is freed: a lock-free switch may still be looking at one. */
#define REGIONS_PER_BLOCK 16u
#define LINE 64u
/* 96 bytes apart (a descriptor is 96 bytes on 64-bit platforms): the
 * first 40 bytes of one never share a line with another's state word, and
 * every address is a multiple of 32, which leaves the 5 low bits of a hint
 * free for its tag. */
#define STRIDE ((sizeof(smmap_region) + 31) / 32 * 32)

typedef struct region_block {
    void *next; /* the next block (smmap__blocks_free) */
} region_block;

smmap_region *smmap__region_alloc(smmap_manager *m)
{
    smmap_region *r = m->free_regions;
    if (r == NULL) {
        size_t stride = STRIDE, i;
        unsigned char *raw = smmap__os.malloc(sizeof(region_block) + LINE +
                                              stride * REGIONS_PER_BLOCK);
        uintptr_t first;
        if (raw == NULL)
            return NULL;
        ((region_block *)raw)->next = m->region_blocks;
        m->region_blocks = raw;
        first = ((uintptr_t)(raw + sizeof(region_block)) + LINE - 1) &
                ~(uintptr_t)(LINE - 1);
        for (i = 0; i < REGIONS_PER_BLOCK; i++) {
            smmap_region *d = (smmap_region *)(first + i * stride);
            assert(((uintptr_t)d & SMMAP__HINT_TAG) == 0);
            memset(d, 0, sizeof(*d));
            d->state = SMMAP__DEAD;
            /* What lock-free switches read is only accessed atomically
             * (helgrind cannot tell; TSan checks it). */
            SMMAP__HG_ATOMIC(d, offsetof(smmap_region, max_end));
            d->lru_next = m->free_regions;
            m->free_regions = d;
        }
        r = m->free_regions;
    }
    m->free_regions = r->lru_next;
    r->lru_next = NULL;
    return r;
}

void smmap__region_recycle(smmap_manager *m, smmap_region *chain)
{
    while (chain != NULL) {
        smmap_region *next = chain->lru_next;
        assert(smmap__load_relaxed(&chain->state) & SMMAP__DEAD);
        chain->lru_prev = NULL;
        chain->lru_next = m->free_regions;
        m->free_regions = chain;
        chain = next;
    }
}

void smmap__blocks_free(void *head)
{
    while (head != NULL) {
        void *next = *(void **)head;
        smmap__os.free(head);
        head = next;
    }
}

void smmap__region_blocks_free(smmap_manager *m)
{
    smmap__blocks_free(m->region_blocks);
    m->region_blocks = NULL;
    m->free_regions = NULL;
}

smmap_region *smmap__region_unmap_only(smmap_region *chain)
{
    smmap_region *keep = NULL;
    while (chain != NULL) {
        smmap_region *next = chain->lru_next;
        if (chain->transient) {
            smmap__pressure_free(chain);
        } else {
            if (chain->heap)
                smmap__os.free((void *)chain->base);
            else
                /* munmap of a range we mapped only fails on a corrupted
                 * address; nothing useful can be done then. */
                (void)smmap__os.unmap((void *)chain->base, chain->size);
            chain->lru_next = keep;
            keep = chain;
        }
        chain = next;
    }
    return keep;
}

void smmap__region_unmap_chain(smmap_manager *m, smmap_region *chain)
{
    smmap_region *keep = smmap__region_unmap_only(chain);
    if (keep == NULL)
        return;
    smmap__mutex_lock(&m->lock);
    smmap__region_recycle(m, keep);
    smmap__mutex_unlock(&m->lock);
}

void smmap__region_init(smmap_region *r, smmap_entry *e, uint64_t offset,
                        size_t size, const void *base, int heap)
{
    /* A lock-free switch may be checking this descriptor (a stale hint):
     * what it reads is written atomically, and the state last, with
     * release, so a pin that succeeds sees the rest. */
    smmap__store_relaxed(&r->offset, offset);
    smmap__store_relaxed(&r->size, size);
    smmap__store_relaxed(&r->base, (const unsigned char *)base);
    smmap__store_relaxed(&r->entry, e);
    /* Set before the region can be pinned: a reader with a stale hint to
     * this descriptor may pin it as soon as its state is stored. */
    smmap__store_relaxed(&r->past_end,
                         (uint8_t)(offset + size > smmap__entry_seen_end(e)));
    smmap__store_relaxed(&r->first_hold, (uint8_t)1);
    smmap__store_relaxed(&r->served, (uint32_t)0);
    r->heap = (uint8_t)(heap != 0);
    r->transient = 0;
    r->left = r->right = NULL;
    r->lru_prev = r->lru_next = NULL;
    r->height = 0;
    r->max_end = offset + size;
    SMMAP__HG_BEFORE(&r->state);
    SMMAP__HG_BEFORE(r);
    smmap__store_release(&r->state, (uint64_t)1); /* pinned by its cursor */
}
