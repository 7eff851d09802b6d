/*
 * cursor.c - cursors: caller-allocated views that pin one region at a time.
 *
 * The hit path (smmap_cursor_at inside the window) lives in smmap.h and
 * touches only the cursor. A switch to a cached window and a release take
 * no lock: a cursor that switches holds its region in its hazard slots
 * (hazard.c), with plain stores; one that has none yet pins with one
 * atomic (cache.c). The rest takes the manager lock once.
 */
#include "smmap_int.h"

static void clear_window(smmap_cursor *c)
{
    c->data = NULL;
    c->begin = 0;
    c->size = 0;
    c->region = NULL;
    c->served = 0;
}

/* Describe r as seen through handle f: never past the handle's size, which
 * may be smaller than a region another handle of the same file mapped. */
static void set_window(smmap_cursor *c, const smmap_file *f,
                       smmap_region *r)
{
    uint64_t end = r->offset + r->size, size = smmap__file_size(f);
    if (end > size)
        end = size;
    c->region = r;
    c->data = r->base;
    c->begin = r->offset;
    c->size = (size_t)(end - r->offset);
    c->error = 0;
}

void smmap_cursor_init(smmap_cursor *c, smmap_file *f)
{
    if (c == NULL)
        return;
    clear_window(c);
    c->error = 0;
    c->holds_fd = 0;
    c->by_hazard = 0;
    c->hazard = NULL;
    c->file = f;
}

/* Give back c's hazard slots (its region already let go). */
static void free_hazard(smmap_cursor *c)
{
    if (c->hazard != NULL) {
        smmap__hazard_free(c->hazard);
        c->hazard = NULL;
    }
}

void smmap_cursor_release(smmap_cursor *c)
{
    smmap_manager *m;
    smmap_region *r;
    if (c == NULL || (c->region == NULL && !c->holds_fd))
        return;
    m = c->file->manager;
    r = c->region;
    if (r != NULL && !c->holds_fd && !r->transient &&
        !smmap__load_relaxed(&r->first_hold)) {
        /* Nothing to tell the read policy: no lock. */
        smmap__cursor_unhold(c, 0);
        clear_window(c);
        free_hazard(c);
        return;
    }
    smmap__mutex_lock(&m->lock);
    if (c->region != NULL) {
        smmap__region_credit(c->region, c->served);
        smmap__policy_left(m, c->region);
        smmap__cursor_unhold(c, 1);
    }
    smmap__cursor_drop_fd(m, c);
    smmap__mutex_unlock(&m->lock);
    clear_window(c);
    free_hazard(c);
}

/*
 * The switch of a cursor holding its region by hazard to a cached window
 * found in the first way of its slot's bucket (where a window aligned to
 * its slot always is): 1 when done, 0 for the general path, which handles
 * everything else. Short on purpose: a random read after a switch is most
 * often a cache and TLB miss, and the processor overlaps misses only as
 * far as its reorder buffer (some 200-500 instructions) reaches past the
 * oldest. At 160 instructions a switch (the general path), reads ran one
 * miss at a time, 6-7x the time of reads through one map; this path is
 * about 65 (BENCHMARKS.md, "Hazard slots"). Inlined into both callers:
 * a call would cost its spills.
 */
static SMMAP__ALWAYS_INLINE int switch_fast(smmap_cursor *c, uint64_t off,
                                             uint64_t end)
{
    smmap_hazard *hz = c->hazard;
    smmap_file *f = c->file;
    smmap_entry *e = f->entry;
    const smmap_hints *h = smmap__load_acquire(&e->hints);
    uint64_t size = smmap__file_size(f), slot, ro, rs;
    smmap_region *r;
    uintptr_t way;
    /* The held window first (the general path reuses it; the cursor's
     * view of it, not past the handle's size, is what counts here). */
    if (h == NULL || end > size || end > smmap__entry_seen_end(e) ||
        (c->begin <= off && end - c->begin <= c->size))
        return 0;
    SMMAP__HG_AFTER(&e->hints);
    slot = off >> h->shift;
    way = smmap__load_acquire(&h->way[2 * (slot & h->mask)]);
    r = (smmap_region *)(way & ~(uintptr_t)SMMAP__HINT_TAG);
    if (r == NULL ||
        (way & SMMAP__HINT_TAG) != ((slot >> h->bits) & SMMAP__HINT_TAG))
        return 0;
    SMMAP__HG_AFTER(r);
    ro = smmap__load_relaxed(&r->offset);
    rs = smmap__load_relaxed(&r->size);
    if (off < ro || end - ro > rs)
        return 0;
    /* Start the caller's read now (a prefetch never faults). */
    smmap__prefetch(smmap__load_relaxed(&r->base) + (size_t)(off - ro));
    /* Held, by a slot that names it from here on, if not dead; check that
     * it is still the region the hint named (its descriptor may have been
     * reused). */
    if (smmap__hazard_hold(hz, r) == 0 ||
        smmap__load_relaxed(&r->first_hold) ||
        smmap__load_relaxed(&r->entry) != e ||
        smmap__load_relaxed(&r->offset) != ro ||
        smmap__load_relaxed(&r->size) != rs) {
        smmap__store_relaxed(&hz->slot[hz->cur ^ 1], (smmap_region *)NULL);
        return 0;
    }
    SMMAP__HG_BEFORE(hz);
    smmap__store_release(&hz->slot[hz->cur], (smmap_region *)NULL);
    /* smmap__hazard_took, written out: through the helper, gcc 12 saves
     * three registers more here (133 -> 139 instructions per switch). */
    smmap__store_relaxed(&hz->cur, hz->cur ^ 1);
    smmap__store_relaxed(&hz->uses, smmap__load_relaxed(&hz->uses) + 1);
    c->by_hazard = SMMAP__BY_HAZARD_SETTLED;
    c->region = r;
    c->served = 0;
    c->data = smmap__load_relaxed(&r->base);
    c->begin = ro;
    c->size = (size_t)smmap__min_u64(rs, size - ro);
    c->error = 0;
    return 1;
}

int smmap__cursor_move(smmap_cursor *c, uint64_t off, uint64_t need,
                       uint64_t n, smmap_os_fd *direct_fd)
{
    smmap_file *f = c->file;
    smmap_region *r;
    int err;
    /* smmap_read's misses come here (smmap_cursor_use tries first). */
    if (c->by_hazard == SMMAP__BY_HAZARD_SETTLED &&
        switch_fast(c, off, off + need))
        return 0;
    if (smmap__cursor_switch_cached(c, off, off + need, &r)) {
        c->served = 0;
        set_window(c, f, r);
        return 0;
    }
    err = smmap__region_acquire(c, off, need, n, direct_fd, &r);
    /* A map in flight will hold the bytes: its thread inserts its region
     * (or fails and gives its reservation back) without waiting for
     * anything of this one's, so the loop ends. */
    while (err == SMMAP__WAIT) {
        clear_window(c);
        smmap__os.yield();
        err = smmap__region_acquire(c, off, need, n, direct_fd, &r);
    }
    c->served = 0;
    if (err != 0) {
        /* acquire released the old window whenever it failed (or chose a
         * direct read) */
        clear_window(c);
        return err == SMMAP__DIRECT ? err : (c->error = err);
    }
    set_window(c, f, r);
    return 0;
}

/* smmap_cursor_use, smmap_cursor_use_range and smmap_cursor_use_exact,
 * inlined into each: the switch among cached windows is one call from
 * smmap_cursor_at. exact: need bytes past the end are refused with
 * -ERANGE, and nothing moves. */
static inline int use_range(smmap_cursor *c, uint64_t offset, size_t need,
                            size_t want, int exact)
{
    smmap_file *f;
    uint64_t avail, n, min;

    if (c == NULL)
        return -EINVAL;
    f = c->file;
    if (f == NULL)
        return c->error = -EINVAL;
    avail = smmap__file_size(f);
    if (exact && (offset >= avail || need > avail - offset))
        return c->error = -ERANGE;
    if (offset >= avail) {
        smmap_cursor_release(c);
        return c->error = -ERANGE;
    }
    avail -= offset;
    min = need == 0 ? 1 : smmap__min_u64(need, avail);
    if (offset + min > smmap__entry_seen_end(f->entry)) {
        /* Those bytes were seen truncated away: no window shows them. */
        smmap_cursor_release(c);
        return c->error = -ESTALE;
    }
    n = smmap__min_u64(want, avail);
    if (n < min)
        n = min;
    return smmap__cursor_move(c, offset, min, n, NULL);
}

int smmap_cursor_use_range(smmap_cursor *c, uint64_t offset, size_t need,
                           size_t want)
{
    return use_range(c, offset, need, want, 0);
}

/* Out of line, so that the short path below saves no registers for them. */
static SMMAP__NOINLINE int use_general(smmap_cursor *c, uint64_t offset,
                                       size_t need)
{
    return use_range(c, offset, need, need, 0);
}

static SMMAP__NOINLINE int use_exact_general(smmap_cursor *c, uint64_t offset,
                                             size_t need)
{
    return use_range(c, offset, need, need, 1);
}

/* The short path of smmap_cursor_use and smmap_cursor_use_exact: a region
 * that covers [offset, offset + need) lies inside the file, so a switch to
 * one serves both. */
static inline int use_short(smmap_cursor *c, uint64_t offset, size_t need)
{
    /* Settled by hazard: it holds a region of a tree that the read policy
     * need not hear about leaving (nor be told the reads it served), and
     * no descriptor (holds_fd is for direct reads and pressure windows,
     * which leave it none). */
    return c != NULL && c->by_hazard == SMMAP__BY_HAZARD_SETTLED &&
           offset + need >= offset && switch_fast(c, offset, offset + need);
}

int smmap_cursor_use(smmap_cursor *c, uint64_t offset, size_t size)
{
    size_t need = size == 0 ? 1 : size;
    if (use_short(c, offset, need))
        return 0;
    return use_general(c, offset, need);
}

int smmap_cursor_use_exact(smmap_cursor *c, uint64_t offset, size_t len)
{
    size_t need = len == 0 ? 1 : len;
    if (use_short(c, offset, need))
        return 0;
    return use_exact_general(c, offset, need);
}

/* Pin src's region for a copy. One held by hazard may be claimed for a
 * moment by an eviction that will spare it: under the lock, none is. */
static uint64_t copy_pin(smmap_manager *m, const smmap_cursor *src)
{
    uint64_t state;
    if (!src->by_hazard)
        return smmap__region_try_pin(src->region, 0);
    smmap__mutex_lock(&m->lock);
    state = smmap__region_try_pin(src->region, 0);
    smmap__mutex_unlock(&m->lock);
    return state;
}

void smmap_cursor_copy(smmap_cursor *dst, const smmap_cursor *src)
{
    smmap_manager *m;
    if (dst == NULL || src == NULL || dst == src)
        return;
    if (src->region == NULL) {
        smmap_cursor_release(dst);
        dst->file = src->file;
        dst->error = src->error;
        return;
    }
    /* Pin first: dst may hold the same region, which must not become
     * unused in between. src's pin keeps it alive, so the pin succeeds
     * (but for 2^29 cursors on one region: then dst is left released). A
     * pressure window's pins change under the lock only. */
    m = src->file->manager;
    if (src->region->transient) {
        smmap__mutex_lock(&m->lock);
        __atomic_fetch_add(&src->region->state, (uint64_t)1,
                           __ATOMIC_RELAXED);
        smmap__mutex_unlock(&m->lock);
    } else if (copy_pin(m, src) == 0) {
        smmap_cursor_release(dst);
        dst->file = src->file;
        dst->error = -EMFILE;
        return;
    }
    smmap_cursor_release(dst);
    dst->file = src->file;
    dst->region = src->region;
    dst->data = src->data;
    dst->begin = src->begin;
    dst->size = src->size;
    dst->error = src->error;
    dst->served = 0;
}
