/*
 * hazard.c - hazard slots: how a cursor that switches among cached windows
 * holds its region with plain stores, and how eviction makes that safe.
 *
 * A pin on the region's state word (cache.c) is a locked instruction, and
 * a locked instruction waits for every load before it, the caller's last
 * read from a window included: most often a cache and TLB miss. So each
 * switch would wait for one miss, where reads through one whole-file map
 * keep several in flight. A cursor that switches instead owns a line of
 * two slots. To take a region it stores it in its free slot, then loads
 * the region's state: not DEAD, it holds it (after checking again that the
 * region covers its range: the descriptor may have been reused); DEAD, it
 * tries elsewhere. To leave it, it stores NULL, with release.
 *
 * Eviction, under the manager lock, first claims its victims as before (a
 * compare-and-swap from no pins to DEAD) and marks them doomed, then makes
 * every earlier store of every thread visible (the asymmetric barrier of
 * the OS layer: membarrier(2) on Linux, FlushProcessWriteBuffers on
 * Windows), then reads every slot. A doomed region found there is spared
 * (DEAD again cleared). This is Dekker's pattern with the reader's fence
 * moved into the barrier: a reader whose store came before the barrier is
 * seen by the scan; one whose store came after it loads the state after
 * the barrier and sees DEAD. Either way no held region is unmapped, and
 * the reader's path has no locked instruction and no fence, only a
 * compiler barrier. Where the system has no such barrier, the reader
 * fences itself (hazard->fence). The barrier costs the evictor a system
 * call (about 150 ns with one thread, 10-20 us with another running on
 * this 2-CPU machine: an interrupt to each processor running the
 * process), paid only while some cursor has slots. When evictions are
 * frequent against switches, that costs more than a fence per switch
 * would: the manager then asks the readers to fence and evicts without
 * the barrier, and asks them to stop when the balance turns (see
 * choose_side). Two threads mapping a 1 MiB window at most reads paid
 * 17-28% more per map with a barrier at every eviction; with the choice,
 * the same as before hazard slots.
 *
 * A cursor gets its slots on its first switch away from a region (the
 * locked path) and gives them back with smmap_cursor_release, so a cursor
 * used once never takes them. Slots live in line-aligned blocks, never
 * freed before the manager: eviction reads them without their owners.
 */
#include "smmap_int.h"

#include <string.h>

#define HAZARDS_PER_BLOCK 32u
/* See choose_side. */
#define SMMAP__HAZARD_WINDOW 64u
#define SMMAP__FENCE_NS 64u
#define LINE 64u

/* A line holds one cursor's slots, so that no two cursors write a line. */
typedef char smmap__hazard_fits_a_line[sizeof(smmap_hazard) <= LINE ? 1 : -1];

typedef struct hazard_block {
    void *next; /* the next block (smmap__blocks_free) */
    smmap_hazard *first; /* line aligned, LINE bytes apart */
} hazard_block;

static smmap_hazard *hazard_at(const hazard_block *b, uint32_t i)
{
    return (smmap_hazard *)((unsigned char *)b->first + (size_t)i * LINE);
}

static hazard_block *block_new(smmap_manager *m)
{
    unsigned char *raw = smmap__os.malloc(sizeof(hazard_block) + LINE +
                                          LINE * HAZARDS_PER_BLOCK);
    hazard_block *b = (hazard_block *)raw;
    if (raw == NULL)
        return NULL;
    b->first = (smmap_hazard *)(((uintptr_t)(raw + sizeof(*b)) + LINE - 1) &
                                ~(uintptr_t)(LINE - 1));
    memset(b->first, 0, LINE * HAZARDS_PER_BLOCK);
    /* Only ever accessed atomically (helgrind cannot tell; TSan checks). */
    SMMAP__HG_ATOMIC(b->first, LINE * HAZARDS_PER_BLOCK);
    b->next = m->hazard_blocks;
    m->hazard_blocks = b;
    m->hazards += HAZARDS_PER_BLOCK;
    return b;
}

void smmap__hazard_init(smmap_manager *m)
{
    m->barrier = smmap__os.barrier_init() == 0;
}

smmap_hazard *smmap__hazard_alloc(smmap_manager *m)
{
    hazard_block *b;
    smmap_hazard *h = NULL;
    uint32_t n = 0, i;
    /* Look from where the last allocation stopped, so that a manager
     * whose cursors come and go finds a free line in O(1) amortized. */
    for (b = m->hazard_blocks; b != NULL && h == NULL; b = b->next) {
        for (i = 0; i < HAZARDS_PER_BLOCK; i++, n++) {
            smmap_hazard *c = hazard_at(b, i);
            if (n >= m->hazard_next && !smmap__load_acquire(&c->owner)) {
                h = c;
                break;
            }
        }
    }
    if (h == NULL && m->hazard_next != 0) {
        m->hazard_next = 0;
        return smmap__hazard_alloc(m);
    }
    if (h == NULL) {
        b = block_new(m);
        if (b == NULL)
            return NULL; /* the cursor keeps pinning with counts */
        h = hazard_at(b, 0);
        n = 0;
    }
    m->hazard_next = n + 1;
    smmap__store_relaxed(&h->slot[0], (smmap_region *)NULL);
    smmap__store_relaxed(&h->slot[1], (smmap_region *)NULL);
    smmap__store_relaxed(&h->cur, (uint32_t)0);
    smmap__store_relaxed(&h->fence, (uint32_t)(!m->barrier || m->fenced));
    smmap__store_relaxed(&h->owner, (uint32_t)1);
    return h;
}

void smmap__hazard_free(smmap_hazard *h)
{
    SMMAP__HG_BEFORE(h);
    smmap__store_release(&h->owner, (uint32_t)0);
}

/* Apply fn to each region in a slot of an owned line: how many times it
 * returned non-zero. */
static uint32_t each_held(const smmap_manager *m,
                          int (*fn)(smmap_region *r, const void *arg),
                          const void *arg)
{
    const hazard_block *b;
    uint32_t i, k, n = 0;
    for (b = m->hazard_blocks; b != NULL; b = b->next) {
        for (i = 0; i < HAZARDS_PER_BLOCK; i++) {
            smmap_hazard *h = hazard_at(b, i);
            if (!smmap__load_acquire(&h->owner))
                continue;
            for (k = 0; k < 2; k++) {
                smmap_region *r = smmap__load_acquire(&h->slot[k]);
                SMMAP__HG_AFTER(h);
                if (r != NULL && fn(r, arg))
                    n++;
            }
        }
    }
    return n;
}

static int is_region(smmap_region *r, const void *arg)
{
    return r == arg;
}

int smmap__hazard_holds(const smmap_manager *m, const smmap_region *r)
{
    return each_held(m, is_region, r) != 0;
}

uint32_t smmap__region_pins(const smmap_region *r)
{
    return (uint32_t)(smmap__load_relaxed(&r->state) & SMMAP__PINS) +
           each_held(r->entry->manager, is_region, r);
}

static int any_owned(const smmap_manager *m)
{
    const hazard_block *b;
    uint32_t i;
    for (b = m->hazard_blocks; b != NULL; b = b->next)
        for (i = 0; i < HAZARDS_PER_BLOCK; i++)
            if (smmap__load_acquire(&hazard_at(b, i)->owner))
                return 1;
    return 0;
}

static int spare(smmap_region *r, const void *arg)
{
    (void)arg;
    /* Only this lock holder dooms regions, so r is one of its own. */
    if (!r->doomed)
        return 0;
    r->doomed = 0;
    __atomic_fetch_and(&r->state, ~(uint64_t)SMMAP__DEAD, __ATOMIC_RELAXED);
    return 1;
}

/* The barrier, its time added to m->barrier_ns. */
static int timed_barrier(smmap_manager *m)
{
    uint64_t t0 = smmap__os.clock_ns(), t1;
    int err = smmap__os.barrier();
    t1 = smmap__os.clock_ns();
    m->barrier_ns += t1 > t0 ? t1 - t0 : 0;
    return err == 0 ? 0 : err < 0 ? err : -EIO;
}

/* Set every line's fence flag (new lines take m->fenced). */
static void set_fences(smmap_manager *m, uint32_t fence)
{
    const hazard_block *b;
    uint32_t i;
    for (b = m->hazard_blocks; b != NULL; b = b->next)
        for (i = 0; i < HAZARDS_PER_BLOCK; i++)
            smmap__store_relaxed(&hazard_at(b, i)->fence, fence);
}

/*
 * Who pays for the safety of the slots: each eviction a barrier, or each
 * switch a fence. A window of SMMAP__HAZARD_WINDOW confirms compares what
 * its barriers cost (timed; while readers fence, one probe per window)
 * with what fences would cost the switches made through slots meanwhile,
 * at SMMAP__FENCE_NS each (a fence waits for the reader's previous read,
 * most often a miss). Readers fence when barriers cost more, and stop
 * when they cost less than half. Switching readers to fences: their flags
 * are set, then one barrier makes every reader either see the flag or
 * have its slot store visible (hazard_hold checks the flag again after
 * its load); from then on evictions run no barrier. Back: the flags are
 * cleared, and evictions run the barrier again at once.
 */
static void choose_side(smmap_manager *m)
{
    uint64_t uses = smmap__hazard_uses(m), fences;
    fences = (uses - m->window_uses) * SMMAP__FENCE_NS;
    if (m->fenced) {
        m->barrier_ns = 0;
        if (timed_barrier(m) == 0 &&
            m->barrier_ns * SMMAP__HAZARD_WINDOW * 2 < fences) {
            m->fenced = 0;
            set_fences(m, 0);
        }
    } else {
        if (m->barrier_ns > fences) {
            set_fences(m, 1);
            m->fenced = 1;
            if (smmap__os.barrier() != 0) {
                m->fenced = 0;
                set_fences(m, 0);
            }
        }
    }
    m->window_uses = uses;
    m->confirms = 0;
    m->barrier_ns = 0;
}

int smmap__hazard_confirm(smmap_manager *m)
{
    int err;
    uint32_t spared;
    /* No slot is owned, and none can become so while the lock is held. */
    if (!any_owned(m))
        return 0;
    /* The claims (compare-and-swaps) before the scan's loads: with the
     * readers' fences, Dekker's pattern. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (m->barrier && !m->fenced) {
        err = timed_barrier(m);
        if (err != 0)
            return err;
    }
    spared = each_held(m, spare, NULL);
    if (m->barrier && ++m->confirms >= SMMAP__HAZARD_WINDOW)
        choose_side(m);
    return (int)spared;
}

uint64_t smmap__hazard_uses(const smmap_manager *m)
{
    const hazard_block *b;
    uint64_t sum = 0;
    uint32_t i;
    for (b = m->hazard_blocks; b != NULL; b = b->next)
        for (i = 0; i < HAZARDS_PER_BLOCK; i++)
            sum += smmap__load_relaxed(&hazard_at(b, i)->uses);
    return sum;
}

void smmap__hazard_blocks_free(smmap_manager *m)
{
    smmap__blocks_free(m->hazard_blocks);
    m->hazard_blocks = NULL;
}
