/*
 * pressure.c - the misses served by pread: pressure windows (a cursor's
 * miss under pressure gets the bytes it asked for in a small heap buffer)
 * and direct reads (smmap_read's), and the descriptor a cursor holds for
 * them. policy.c decides when; region.c sends them here.
 */
#include "smmap_int.h"

#include <string.h>

/* Pressure windows (a cursor's miss served by one pread, see
 * smmap__pressure_acquire): aligned to cache lines, at most PRESSURE_MAX
 * long, their buffers at least PRESSURE_MIN_CAPACITY so that one serves
 * the next request; one up to SPARE_MAX is kept for reuse when given up. */
#define PRESSURE_ALIGN 64u
#define PRESSURE_MAX (64u * 1024u)
#define PRESSURE_MIN_CAPACITY 1024u
#define SPARE_MAX (4u * 1024u)

void smmap__pressure_free(smmap_region *r)
{
    smmap__os.free((void *)r->base);
    smmap__os.free(r);
}

/* With the lock held: r, out of every list and counter, is given up. Its
 * buffer is freed without a system call, so under the lock. */
static void retire_pressure_window(smmap_manager *m, smmap_region *r)
{
    if (m->spare_window == NULL && r->max_end <= SPARE_MAX)
        m->spare_window = r;
    else
        smmap__pressure_free(r);
}

void smmap__region_free_spare(smmap_manager *m)
{
    if (m->spare_window != NULL) {
        smmap__pressure_free(m->spare_window);
        m->spare_window = NULL;
    }
}

static void transient_link(smmap_entry *e, smmap_region *r)
{
    r->lru_prev = NULL;
    r->lru_next = e->transients;
    if (e->transients)
        e->transients->lru_prev = r;
    e->transients = r;
}

static void transient_unlink(smmap_entry *e, smmap_region *r)
{
    assert(r->transient);
    if (r->lru_prev)
        r->lru_prev->lru_next = r->lru_next;
    else
        e->transients = r->lru_next;
    if (r->lru_next)
        r->lru_next->lru_prev = r->lru_prev;
    r->lru_prev = r->lru_next = NULL;
}

void smmap__pressure_unlink(smmap_region *r)
{
    transient_unlink(r->entry, r);
}

void smmap__pressure_left(smmap_manager *m, smmap_region *r)
{
    /* Made because windows were not being reused: not cached. */
    transient_unlink(r->entry, r);
    smmap__region_unaccount(m, r);
    retire_pressure_window(m, r);
}

void smmap__cursor_drop_fd(smmap_manager *m, smmap_cursor *c)
{
    smmap_entry *e = c->file->entry;
    if (!c->holds_fd)
        return;
    c->holds_fd = 0;
    assert(e->fd_busy > 0);
    e->fd_busy--;
    smmap__fd_lru_update(m, e);
    smmap__fd_trim(m, m->opt.max_open_files);
}

/* The pread of direct reads and pressure windows: all len bytes or an
 * error (-EIO, and the file marked changed, when it ends early). Called
 * without the lock. */
static int pread_held(smmap_cursor *c, smmap_os_fd fd, uint64_t off,
                      void *dst, size_t len);

int smmap__pressure_fits(const smmap_manager *m, const smmap_file *f,
                         uint64_t off, uint64_t need, uint64_t *pa,
                         uint64_t *pb)
{
    uint64_t end = off + need;
    *pa = off - off % PRESSURE_ALIGN;
    *pb = smmap__min_u64(end + (PRESSURE_ALIGN - 1) - (end - 1) % PRESSURE_ALIGN,
                         smmap__file_size(f));
    return *pb - *pa <= smmap__min_u64(m->opt.window_size / 2, PRESSURE_MAX);
}

/* c holds its file's descriptor (for direct reads and pressure windows):
 * it stays open, and out of the closable LRU, until c lets go of it, which
 * spares a lock round trip after each pread. Held descriptors cannot be
 * closed for the budget, so a hold that would leave more than
 * max_open_files of them busy is for one pread only (SMMAP__HOLD_ONCE,
 * given back by give_back_once): many cursors on many files under pressure
 * would otherwise keep one descriptor each. */
smmap_os_fd smmap__cursor_hold_fd(smmap_manager *m, smmap_cursor *c)
{
    smmap_entry *e = c->file->entry;
    if (!c->holds_fd) {
        /* A hold adds a busy descriptor unless e's already is (busy, or
         * kept open for a handle opened from a descriptor). */
        int adds = e->fd_busy == 0 &&
                   (e->fd == SMMAP_OS_NO_FD || e->in_fd_lru);
        uint32_t busy = m->stats.open_fds - m->fd_idle;
        c->holds_fd = adds && busy + 1 > m->opt.max_open_files
                          ? SMMAP__HOLD_ONCE
                          : SMMAP__HOLD_KEPT;
        e->fd_busy++;
        smmap__fd_lru_update(m, e);
    }
    return e->fd;
}

/* After the pread of a hold for one pread: give the descriptor back (and
 * close idle ones down to the budget). Called without the lock. */
static void give_back_once(smmap_cursor *c)
{
    smmap_manager *m = c->file->manager;
    if (c->holds_fd != SMMAP__HOLD_ONCE)
        return;
    smmap__mutex_lock(&m->lock);
    smmap__cursor_drop_fd(m, c);
    smmap__mutex_unlock(&m->lock);
}

/*
 * A cursor's miss under pressure: the read policy found that new windows
 * do not pay and that a mapped one would evict. The cursor needs memory it
 * can point into, so it gets a pressure window: the file bytes [a, b) in a
 * heap buffer filled by one pread, as a direct read of smmap_read would be,
 * from the descriptor the cursor holds (no identity check: the descriptor
 * is the file; a truncation shows as a short read). It is a region for the
 * budgets and the stats (read_windows), pinned by this cursor, but it
 * belongs to it alone: it is never looked up, so it is in no tree and needs
 * no second lock round trip once filled; it is freed when its last cursor
 * leaves (made because windows were not reused, it would not be either).
 * Called with the lock held; releases it.
 */
int smmap__pressure_acquire(smmap_cursor *c, uint64_t a, uint64_t b,
                            smmap_region **out)
{
    smmap_manager *m = c->file->manager;
    smmap_entry *e = c->file->entry;
    size_t len = (size_t)(b - a);
    smmap_region *r = NULL, *victims = NULL;
    uint64_t reserved;
    smmap_os_fd fd;
    int err = smmap__budget_reserve(m, len, len, &reserved, &victims);

    if (err == 0) {
        r = m->spare_window;
        if (r != NULL && r->max_end >= len) {
            m->spare_window = NULL;
        } else {
            /* Not in the spare: allocated under the lock, at most
             * PRESSURE_MAX bytes (below malloc's mmap threshold). */
            size_t capacity = len < PRESSURE_MIN_CAPACITY
                                  ? PRESSURE_MIN_CAPACITY
                                  : len;
            void *buf = smmap__os.malloc(capacity);
            r = buf != NULL ? smmap__os.malloc(sizeof(*r)) : NULL;
            if (r == NULL) {
                smmap__os.free(buf);
                smmap__budget_unreserve(m, len);
                err = -ENOMEM;
            } else {
                r->base = buf;
                r->max_end = capacity;
            }
        }
    }
    if (err != 0) {
        smmap__cursor_drop_fd(m, c);
        smmap__mutex_unlock(&m->lock);
        smmap__region_unmap_chain(m, victims);
        return err;
    }
    r->offset = a;
    r->size = len;
    r->left = r->right = NULL;
    r->state = 1; /* never looked up: no flags */
    r->height = 0;
    r->heap = 1;
    r->transient = 1;
    r->past_end = 0; /* within the handle, which is within any seen end */
    r->served = 0;
    r->first_hold = 1;
    r->entry = e;
    transient_link(e, r);
    if (e->nregions++ == 0)
        m->stats.files_mapped++;
    smmap__stats_peaks(&m->stats);
    m->stats.read_windows++; /* taken back if the pread fails */
    fd = smmap__cursor_hold_fd(m, c);
    smmap__mutex_unlock(&m->lock);

    smmap__region_unmap_chain(m, victims);
    err = pread_held(c, fd, a, (void *)r->base, len);
    if (err == 0) {
        give_back_once(c);
        *out = r;
        return 0;
    }
    smmap__mutex_lock(&m->lock);
    m->stats.read_windows--;
    transient_unlink(e, r);
    smmap__region_unaccount(m, r);
    if (err == -EIO && smmap__entry_may_map(e, c->file) != 0)
        err = -ESTALE; /* truncated: like a window of a changed file */
    smmap__cursor_drop_fd(m, c);
    smmap__mutex_unlock(&m->lock);
    smmap__pressure_free(r);
    return err;
}

static int pread_held(smmap_cursor *c, smmap_os_fd fd, uint64_t off,
                      void *dst, size_t len)
{
    smmap_manager *m = c->file->manager;
    smmap_entry *e = c->file->entry;
    unsigned char *out = dst;
    smmap_os_fd own = SMMAP_OS_NO_FD;
    uint64_t seen = UINT64_MAX;
    uint64_t need = smmap__file_size(c->file);
    size_t done = 0;
    int err = 0;

    if (fd == SMMAP_OS_NO_FD) {
        /* Closed for the budget: reopen (a refusal for want of descriptors
         * is relieved and retried once, as for a map), and give it to the
         * entry unless another thread did first (then ours is used once and
         * closed). */
        int retried = 0;
        err = smmap__entry_reopen(e, need, &fd, &seen);
        if (smmap__is_os_refusal(err)) {
            smmap__manager_relieve(m);
            err = smmap__entry_reopen(e, need, &fd, &seen);
            retried = err == 0;
        }
        smmap__mutex_lock(&m->lock);
        smmap__entry_saw_end(e, seen);
        if (err == 0) {
            own = smmap__entry_adopt_fd(m, e, fd);
            if (retried)
                m->stats.retries++;
            smmap__fd_trim(m, m->opt.max_open_files);
        }
        smmap__mutex_unlock(&m->lock);
    }
    while (err == 0 && done < len) {
        int64_t got = smmap__os.pread(fd, out + done, len - done, off + done);
        if (got < 0) {
            err = (int)got;
        } else if (got == 0) {
            /* The file ends before the handle's size: truncated (not a
             * transient EIO of the device, which leaves it usable). */
            uint64_t end = smmap__short_read_end(fd, off + done);
            err = -EIO;
            smmap__mutex_lock(&m->lock);
            smmap__entry_saw_end(e, end);
            smmap__mutex_unlock(&m->lock);
        } else {
            done += (size_t)got;
        }
    }
    if (own != SMMAP_OS_NO_FD)
        (void)smmap__os.close(own);
    return err;
}

int64_t smmap__read_direct(smmap_cursor *c, smmap_os_fd fd, uint64_t off,
                           void *dst, size_t len)
{
    smmap_manager *m = c->file->manager;
    int err = pread_held(c, fd, off, dst, len);
    if (err == 0) {
        give_back_once(c);
        return (int64_t)len;
    }
    smmap__mutex_lock(&m->lock);
    m->stats.direct_reads--;
    smmap__cursor_drop_fd(m, c);
    smmap__mutex_unlock(&m->lock);
    return err;
}
