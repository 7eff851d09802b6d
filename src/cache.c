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
 * Counters. A reuse is counted on the region (uses), not the manager,
 * whose line would otherwise bounce between threads at every switch; the
 * stats add the live regions' counts to those of the regions gone.
 */
#include "smmap_int.h"

#include <string.h>

/* ---- pins ---------------------------------------------------------------- */

int smmap__region_try_pin(smmap_region *r)
{
    uint32_t s = smmap__load_relaxed(&r->state);
    do {
        if ((s & SMMAP__DEAD) || (s & SMMAP__PINS) == SMMAP__PINS)
            return 0;
    } while (!smmap__cas(&r->state, &s, (s + 1) | SMMAP__REFERENCED));
    return 1;
}

/* With the lock held: r, parked, lost its last pin; back to the tail of
 * the clock list, unless a cursor pinned it again meanwhile (then its
 * last unpin comes here again) or it is no longer parked. */
static void unpark(smmap_manager *m, smmap_region *r);

void smmap__region_unpin_fast(smmap_manager *m, smmap_region *r)
{
    uint32_t old = smmap__fetch_sub_release(&r->state, 1u);
    assert((old & SMMAP__PINS) > 0 && !(old & SMMAP__DEAD));
    if ((old & SMMAP__PINS) == 1 && (old & SMMAP__PARKED)) {
        smmap__mutex_lock(&m->lock);
        unpark(m, r);
        smmap__mutex_unlock(&m->lock);
    }
}

void smmap__region_count_use(smmap_region *r)
{
    smmap__fetch_add_relaxed(&r->uses, (uint64_t)1);
    if (smmap__load_relaxed(&r->first_hold))
        smmap__region_credit(r, 1);
}

void smmap__region_credit(smmap_region *r, uint64_t served)
{
    if (served != 0)
        smmap__fetch_add_relaxed(&r->served, served);
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
    uint32_t s = smmap__load_relaxed(&r->state);
    do {
        if (!(s & SMMAP__PARKED) || (s & SMMAP__PINS) || (s & SMMAP__DEAD))
            return;
    } while (!smmap__cas(&r->state, &s, s & ~SMMAP__PARKED));
    list_unlink(&m->parked_head, NULL, r);
    list_append(&m->lru_head, &m->lru_tail, r);
}

void smmap__region_unpin(smmap_manager *m, smmap_region *r)
{
    uint32_t old = smmap__fetch_sub_release(&r->state, 1u);
    assert((old & SMMAP__PINS) > 0);
    if ((old & SMMAP__PINS) != 1)
        return;
    if (r->transient)
        smmap__pressure_left(m, r);
    else if (old & SMMAP__PARKED)
        unpark(m, r);
}

/*
 * The head of the clock list, claimed (DEAD) if it may be evicted now:
 * pinned ones are parked, referenced ones get their second chance. NULL
 * when no region is unused. With force, the reference flags are ignored
 * (collect, and a sweep that went round twice).
 */
static smmap_region *claim_head(smmap_manager *m, int force)
{
    smmap_region *r;
    while ((r = m->lru_head) != NULL) {
        uint32_t s = smmap__load_relaxed(&r->state);
        assert(!(s & (SMMAP__DEAD | SMMAP__PARKED)));
        if (s & SMMAP__PINS) {
            if (smmap__cas(&r->state, &s, s | SMMAP__PARKED))
                park(m, r);
        } else if ((s & SMMAP__REFERENCED) && !force) {
            if (smmap__cas(&r->state, &s, s & ~SMMAP__REFERENCED)) {
                list_unlink(&m->lru_head, &m->lru_tail, r);
                list_append(&m->lru_head, &m->lru_tail, r);
                return NULL; /* the caller counts and asks again */
            }
        } else if (smmap__cas(&r->state, &s, SMMAP__DEAD)) {
            return r;
        }
        /* a failed compare-and-swap: a cursor pinned or left r meanwhile;
         * look at it again */
    }
    return NULL;
}

smmap_region *smmap__cache_evict(smmap_manager *m)
{
    /* Each second chance moves one region to the tail; after as many as
     * the list holds, every region has had its chance. */
    uint32_t chances = 0, limit = m->stats.regions + 1;
    while (m->lru_head != NULL) {
        smmap_region *r = claim_head(m, chances > limit);
        if (r != NULL)
            return r;
        chances++;
    }
    return NULL;
}

int smmap__cache_has_unused(smmap_manager *m)
{
    smmap_region *r;
    while ((r = m->lru_head) != NULL) {
        uint32_t s = smmap__load_relaxed(&r->state);
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
/* Hints: up to 2^20 slots (a directory of at most 4096 chunk pointers);
 * a region spanning more slots than HINT_SPAN_MAX is hinted in its first
 * ones when mapped, and in the others when found there. */
#define HINT_SLOTS_MAX (1u << 20)
#define HINT_SPAN_MAX 64u

/* The largest power of two not above the window (the whole file in static
 * mode), coarser until the slots of a file of size bytes fit in max. */
static uint32_t slot_shift_for(const smmap_manager *m, uint64_t size,
                               uint64_t max)
{
    uint32_t sh = 0;
    if (m->opt.window_size == 0)
        return 63;
    /* window_size is below 2^63 (validated), so the first loop ends with
     * sh <= 62. */
    while (sh < 62 && (2ull << sh) <= m->opt.window_size)
        sh++;
    while (sh < 63 && (size >> sh) >= max)
        sh++;
    return sh;
}

static size_t slot_words(uint64_t nbits)
{
    return (size_t)((nbits + 63) / 64);
}

static size_t hint_chunks(uint64_t nslots)
{
    return (size_t)((nslots + SMMAP__HINT_CHUNK - 1) / SMMAP__HINT_CHUNK);
}

int smmap__index_plan(const smmap_manager *m, const smmap_entry *e,
                      smmap_index_alloc *a)
{
    memset(a, 0, sizeof(*a));
    if (e->hint_dir != NULL)
        return 0;
    a->hint_shift = slot_shift_for(m, e->max_size, HINT_SLOTS_MAX);
    a->hint_nslots = (e->max_size >> a->hint_shift) + 1;
    if (m->opt.window_size != 0) {
        a->bits_shift = slot_shift_for(m, e->max_size, SLOT_BITS_MAX);
        a->bits_n = (uint32_t)(e->max_size >> a->bits_shift) + 1;
    }
    return 1;
}

void smmap__index_alloc(smmap_index_alloc *a)
{
    size_t n = hint_chunks(a->hint_nslots);
    a->dir = smmap__os.malloc(n * sizeof(*a->dir));
    if (a->dir != NULL)
        memset(a->dir, 0, n * sizeof(*a->dir));
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

/* The hint pair of slot s, its chunk made if create (NULL when it cannot
 * be). Lock-free readers load the directory and the chunks with acquire. */
static smmap_region **hint_pair(smmap_entry *e, uint64_t s, int create)
{
    smmap_hint_pair **dir = smmap__load_acquire(&e->hint_dir), *chunk;
    if (dir == NULL || s >= e->hint_nslots)
        return NULL;
    chunk = smmap__load_acquire(&dir[s / SMMAP__HINT_CHUNK]);
    if (chunk == NULL && create) {
        chunk = smmap__os.malloc(SMMAP__HINT_CHUNK * sizeof(*chunk));
        if (chunk == NULL)
            return NULL; /* hints are not needed to work */
        memset(chunk, 0, SMMAP__HINT_CHUNK * sizeof(*chunk));
        smmap__store_release(&dir[s / SMMAP__HINT_CHUNK], chunk);
    }
    return chunk != NULL ? chunk[s % SMMAP__HINT_CHUNK] : NULL;
}

/* With the lock held: r is the newest region of its slot. */
static void hint_slot(smmap_entry *e, uint64_t s, smmap_region *r)
{
    smmap_region **pair = hint_pair(e, s, 1), *first;
    if (pair == NULL)
        return;
    first = pair[0];
    if (first == r)
        return;
    if (first != NULL)
        smmap__store_release(&pair[1], first);
    smmap__store_release(&pair[0], r);
}

void smmap__cache_hint(smmap_entry *e, smmap_region *r, uint64_t off)
{
    hint_slot(e, off >> e->hint_shift, r);
}

static void hint_forget(smmap_entry *e, const smmap_region *r)
{
    uint64_t s, first = r->offset >> e->hint_shift,
                last = (r->offset + r->size - 1) >> e->hint_shift;
    if (last - first >= HINT_SPAN_MAX)
        last = first + HINT_SPAN_MAX - 1;
    for (s = first; s <= last; s++) {
        smmap_region **pair = hint_pair(e, s, 0);
        if (pair == NULL)
            continue;
        if (pair[1] == r)
            smmap__store_release(&pair[1], (smmap_region *)NULL);
        if (pair[0] == r) {
            smmap__store_release(&pair[0], pair[1]);
            smmap__store_release(&pair[1], (smmap_region *)NULL);
        }
    }
}

void smmap__index_install(smmap_entry *e, smmap_index_alloc *a)
{
    if (a->dir != NULL && e->hint_dir == NULL) {
        e->hint_shift = a->hint_shift;
        e->hint_nslots = a->hint_nslots;
        smmap__store_release(&e->hint_dir, a->dir);
        a->dir = NULL;
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
    smmap__os.free(a->dir);
    smmap__os.free(a->bits);
}

void smmap__index_destroy(smmap_entry *e)
{
    if (e->hint_dir != NULL) {
        size_t i, n = hint_chunks(e->hint_nslots);
        for (i = 0; i < n; i++)
            smmap__os.free(e->hint_dir[i]);
        smmap__os.free(e->hint_dir);
    }
    smmap__os.free(e->slot_bits);
}

void smmap__cache_insert(smmap_manager *m, smmap_entry *e, smmap_region *r)
{
    uint64_t s, first = r->offset >> e->hint_shift,
                last = (r->offset + r->size - 1) >> e->hint_shift;
    smmap__tree_insert(&e->tree, r);
    if (e->slot_bits != NULL)
        slot_set(e, r->offset, r->offset + r->size);
    if (e->hint_dir != NULL) {
        if (last - first >= HINT_SPAN_MAX)
            last = first + HINT_SPAN_MAX - 1;
        for (s = first; s <= last; s++)
            hint_slot(e, s, r);
    }
    list_append(&m->lru_head, &m->lru_tail, r);
}

smmap_region *smmap__cache_find_pin(smmap_entry *e, uint64_t off,
                                    uint64_t end)
{
    smmap_region **pair;
    int k;
    /* Acquire: hint_shift and hint_nslots were written before. */
    if (smmap__load_acquire(&e->hint_dir) == NULL)
        return NULL;
    pair = hint_pair(e, off >> e->hint_shift, 0);
    if (pair == NULL)
        return NULL;
    for (k = 0; k < 2; k++) {
        smmap_region *r = smmap__load_acquire(&pair[k]);
        uint64_t ro;
        if (r == NULL)
            continue;
        ro = smmap__load_relaxed(&r->offset);
        if (!(ro <= off && end - ro <= smmap__load_relaxed(&r->size)))
            continue;
        if (!smmap__region_try_pin(r))
            continue;
        /* Pinned: nothing below can change until it is unpinned. It may
         * be another region than the one checked above, though. */
        if (r->entry == e && r->offset <= off && end - r->offset <= r->size)
            return r;
        smmap__region_unpin_fast(e->manager, r);
    }
    return NULL;
}

/* ---- removal and accounting (with the lock held) ------------------------ */

/* Called with the lock held, for a region out of every list and index. */
static void account_removed(smmap_manager *m, smmap_region *r)
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
        uint32_t s = __atomic_fetch_or(&r->state, SMMAP__DEAD,
                                       __ATOMIC_ACQ_REL);
        if (s & SMMAP__PARKED)
            list_unlink(&m->parked_head, NULL, r);
        else
            list_unlink(&m->lru_head, &m->lru_tail, r);
        m->stats.reuses += smmap__load_relaxed(&r->uses);
        smmap__tree_remove(&r->entry->tree, r);
        slot_clear(r->entry, r);
        if (r->entry->hint_dir != NULL)
            hint_forget(r->entry, r);
    }
    account_removed(m, r);
    r->lru_next = *chain;
    *chain = r;
}

void smmap__region_unaccount(smmap_manager *m, smmap_region *r)
{
    account_removed(m, r);
}

/* Kill the unused regions of a list (pinned ones of the clock list are
 * parked); returns how many went to *chain. */
static size_t detach_unused_of(smmap_manager *m, smmap_region *r,
                               smmap_region **chain)
{
    size_t count = 0;
    while (r != NULL) {
        smmap_region *next = r->lru_next;
        uint32_t s = smmap__load_relaxed(&r->state);
        while (!(s & SMMAP__PINS)) {
            if (smmap__cas(&r->state, &s, s | SMMAP__DEAD)) {
                smmap__region_detach(m, r, chain);
                count++;
                break;
            }
        }
        r = next;
    }
    return count;
}

size_t smmap__region_detach_unused(smmap_manager *m, smmap_region **chain)
{
    size_t count = detach_unused_of(m, m->lru_head, chain);
    /* A parked region whose last cursor is on its way to unpark it. */
    count += detach_unused_of(m, m->parked_head, chain);
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
        uint32_t s;
        r = stack[--top];
        s = smmap__load_relaxed(&r->state);
        while (!busy && !(s & SMMAP__DEAD)) {
            if (s & SMMAP__PINS)
                busy = 1;
            else if (smmap__cas(&r->state, &s, s | SMMAP__DEAD))
                break;
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
        __atomic_fetch_and(&r->state, ~SMMAP__DEAD, __ATOMIC_RELAXED);
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
        sum += smmap__load_relaxed(&r->uses);
    for (r = m->parked_head; r != NULL; r = r->lru_next)
        sum += smmap__load_relaxed(&r->uses);
    return sum;
}

/* ---- descriptors ---------------------------------------------------------- */

/* Descriptors come in blocks of REGIONS_PER_BLOCK, cache-line aligned, and
 * go back to the manager's free list, never to the allocator, until the
 * manager is freed: a lock-free switch may still be looking at one. */
#define REGIONS_PER_BLOCK 16u
#define LINE 64u

typedef struct region_block {
    struct region_block *next;
} region_block;

smmap_region *smmap__region_alloc(smmap_manager *m)
{
    smmap_region *r = m->free_regions;
    if (r == NULL) {
        size_t stride = (sizeof(smmap_region) + LINE - 1) / LINE * LINE, i;
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
            memset(d, 0, sizeof(*d));
            d->state = SMMAP__DEAD;
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

void smmap__region_blocks_free(smmap_manager *m)
{
    region_block *b = m->region_blocks;
    while (b != NULL) {
        region_block *next = b->next;
        smmap__os.free(b);
        b = next;
    }
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
    smmap__store_relaxed(&r->past_end, (uint8_t)0);
    smmap__store_relaxed(&r->first_hold, (uint8_t)1);
    smmap__store_relaxed(&r->uses, (uint64_t)0);
    smmap__store_relaxed(&r->served, (uint64_t)0);
    r->heap = (uint8_t)(heap != 0);
    r->transient = 0;
    r->left = r->right = NULL;
    r->lru_prev = r->lru_next = NULL;
    r->height = 0;
    r->max_end = offset + size;
    smmap__store_release(&r->state, 1u); /* pinned by its cursor */
}
