/*
 * region.c - regions: where a window is placed, the budgets reserved before
 * mapping it, the LRU of unused regions, and eviction.
 *
 * A region with no cursor (pins == 0) sits in the manager's LRU list, most
 * recently released at the tail. Evicting takes the head: O(1) to choose,
 * O(log n) to unlink from its file's tree, whatever the number of files.
 */
#include "smmap_int.h"

#include <string.h>

static void lru_append(smmap_manager *m, smmap_region *r)
{
    r->lru_next = NULL;
    r->lru_prev = m->lru_tail;
    if (m->lru_tail)
        m->lru_tail->lru_next = r;
    else
        m->lru_head = r;
    m->lru_tail = r;
}

static void lru_unlink(smmap_manager *m, smmap_region *r)
{
    if (r->lru_prev)
        r->lru_prev->lru_next = r->lru_next;
    else
        m->lru_head = r->lru_next;
    if (r->lru_next)
        r->lru_next->lru_prev = r->lru_prev;
    else
        m->lru_tail = r->lru_prev;
    r->lru_prev = r->lru_next = NULL;
}

void smmap__region_credit(smmap_region *r, uint64_t served)
{
    uint64_t total = (uint64_t)r->served + served;
    r->served = total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
}

void smmap__region_pin(smmap_manager *m, smmap_region *r)
{
    if (r->pins++ == 0) {
        lru_unlink(m, r);
        r->entry->npinned++;
    }
}

static void account_removed(smmap_manager *m, smmap_region *r);

/* Pressure windows (a cursor's miss served by one pread, see
 * acquire_pressure_window): aligned to cache lines, at most PRESSURE_MAX
 * long, their buffers at least PRESSURE_MIN_CAPACITY so that one serves
 * the next request; one up to SPARE_MAX is kept for reuse when given up. */
#define PRESSURE_ALIGN 64u
#define PRESSURE_MAX (64u * 1024u)
#define PRESSURE_MIN_CAPACITY 1024u
#define SPARE_MAX (4u * 1024u)

static void free_pressure_window(smmap_region *r)
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
        free_pressure_window(r);
}

void smmap__region_free_spare(smmap_manager *m)
{
    if (m->spare_window != NULL) {
        free_pressure_window(m->spare_window);
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
    if (r->lru_prev)
        r->lru_prev->lru_next = r->lru_next;
    else
        e->transients = r->lru_next;
    if (r->lru_next)
        r->lru_next->lru_prev = r->lru_prev;
    r->lru_prev = r->lru_next = NULL;
}

/*
 * The slot filter of an entry (slot_bits): one bit per slot of
 * 2^slot_shift bytes, set while some region of the tree overlaps the slot.
 * A region covering an offset overlaps that offset's slot, so a clear bit
 * proves a miss. Slots are the largest power of two not above window_size,
 * coarser for files that would need more than SLOT_BITS_MAX of them (8 KiB
 * of bits at most); slots past the bits (a file that grew) are searched.
 */
#define SLOT_BITS_MAX 65536u

static void slot_geometry(const smmap_manager *m, uint64_t size,
                          uint32_t *shift, uint32_t *nbits)
{
    uint32_t sh = 0;
    /* window_size is below 2^63 (validated), so the first loop ends with
     * sh <= 62; a 64-bit size needs sh <= 48 for the second. */
    while (sh < 62 && (2ull << sh) <= m->opt.window_size)
        sh++;
    while (sh < 63 && (size >> sh) >= SLOT_BITS_MAX)
        sh++;
    *shift = sh;
    *nbits = (uint32_t)(size >> sh) + 1;
}

static size_t slot_words(uint32_t nbits)
{
    return (nbits + 63) / 64;
}

static int slot_may_cover(const smmap_entry *e, uint64_t off)
{
    uint64_t s;
    if (e->slot_bits == NULL)
        return 1;
    s = off >> e->slot_shift;
    return s >= e->slot_nbits || ((e->slot_bits[s / 64] >> (s % 64)) & 1);
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

/* Take r out of whichever index of its entry holds it. */
static void index_remove(smmap_region *r)
{
    if (r->transient) {
        transient_unlink(r->entry, r);
    } else {
        smmap__tree_remove(&r->entry->tree, r);
        slot_clear(r->entry, r);
    }
}

void smmap__region_unpin(smmap_manager *m, smmap_region *r)
{
    assert(r->pins > 0);
    if (--r->pins == 0) {
        assert(r->entry->npinned > 0);
        r->entry->npinned--;
        if (r->transient) {
            /* Made because windows were not being reused: not cached. */
            transient_unlink(r->entry, r);
            account_removed(m, r);
            retire_pressure_window(m, r);
            return;
        }
        lru_append(m, r);
    }
}

/* Called with the lock held, for a region already unlinked from the LRU
 * (or never in it) and from its tree. */
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
    if (r->pins == 0)
        lru_unlink(m, r);
    else
        r->entry->npinned--;
    index_remove(r);
    account_removed(m, r);
    r->lru_next = *chain;
    *chain = r;
}

size_t smmap__region_detach_unused(smmap_manager *m, smmap_region **chain)
{
    size_t count = 0;
    while (m->lru_head != NULL) {
        smmap__region_detach(m, m->lru_head, chain);
        count++;
    }
    return count;
}

void smmap__region_unmap_chain(smmap_region *chain)
{
    while (chain != NULL) {
        smmap_region *next = chain->lru_next;
        if (chain->heap)
            smmap__os.free((void *)chain->base);
        else
            /* munmap of a range we mapped only fails on a corrupted
             * address; nothing useful can be done then. */
            (void)smmap__os.unmap((void *)chain->base, chain->size);
        smmap__os.free(chain);
        chain = next;
    }
}

/*
 * Where to map [off, end): smmap's placement. The window grows left into the
 * gap up to the neighbouring region's end, then right up to the next
 * region's start, to at most window_size (or the aligned request, if
 * larger), never past the end of the file. The start is aligned up inside
 * the left gap (down only when the request itself needs it), so that
 * alignment never makes a window larger than window_size nor overlap a
 * neighbour it need not overlap. The minimal window is the aligned request
 * alone, used when the full one does not fit the budget.
 */
static void place(const smmap_manager *m, const smmap_entry *e, uint64_t fsize,
                  uint64_t off, uint64_t end, int minimal, uint64_t *pa,
                  uint64_t *pb)
{
    uint64_t g = m->granularity, w = m->opt.window_size;
    uint64_t lo, hi, a, b, span, first = off - off % g;

    if (w == 0) {
        *pa = 0;
        *pb = fsize;
        return;
    }
    span = end - first;
    if (span % g != 0)
        span += g - span % g;
    if (minimal) {
        *pa = first;
        *pb = smmap__min_u64(first + span, fsize);
        return;
    }
    smmap__tree_gap(e->tree, off, end, &lo, &hi);
    if (w < span)
        w = span;
    a = off - smmap__min_u64(off - lo, w - (end - off));
    if (a % g != 0)
        a += g - a % g;
    if (a > first)
        a = first;
    b = smmap__min_u64(a + w, smmap__min_u64(hi, fsize));
    *pa = a;
    *pb = b;
}

/*
 * Evict unused regions, oldest first, until a region of len bytes fits both
 * budgets, then reserve it. Called with the lock held.
 */
static int reserve(smmap_manager *m, uint64_t len, uint64_t min_len,
                   uint64_t *chosen, smmap_region **victims)
{
    smmap_stats *s = &m->stats;
    while (m->lru_head != NULL && !smmap__budget_fits(m, len, 1)) {
        smmap__region_detach(m, m->lru_head, victims);
        s->evictions++;
    }
    if (s->regions >= m->opt.max_regions)
        return -EMFILE;
    if (s->mapped_bytes + len > m->opt.max_mapped) {
        /* Everything left is pinned: shrink to the request itself. */
        len = min_len;
        if ((m->opt.flags & SMMAP_HARD_LIMITS) &&
            s->mapped_bytes + len > m->opt.max_mapped)
            return -ENOMEM;
    }
    s->mapped_bytes += len;
    s->regions++;
    *chosen = len;
    return 0;
}

static void unreserve(smmap_manager *m, uint64_t len)
{
    m->stats.mapped_bytes -= len;
    m->stats.regions--;
}

static int is_os_refusal(int err)
{
    return err == -ENOMEM || err == -EMFILE || err == -ENFILE;
}

/* Errors of mmap that mean "this file system cannot map": switch the file
 * to the read backend rather than fail. */
static int cannot_map(int err)
{
    return err == -ENODEV || err == -EACCES || err == -EINVAL;
}

/* The read backend: a heap buffer filled by pread. A file that ends before
 * the window does was truncated since it was opened (*seen). */
static int fill_window(smmap_os_fd fd, uint64_t a, size_t len, void **base,
                       uint64_t *seen)
{
    unsigned char *buf = smmap__os.malloc(len ? len : 1);
    size_t done = 0;
    if (buf == NULL)
        return -ENOMEM;
    while (done < len) {
        int64_t n = smmap__os.pread(fd, buf + done, len - done, a + done);
        if (n <= 0) {
            smmap__os.free(buf);
            if (n < 0)
                return (int)n;
            *seen = smmap__short_read_end(fd, a + done);
            return -ESTALE;
        }
        done += (size_t)n;
    }
    *base = buf;
    return 0;
}

/* What one map call needs to know and tells back, outside the lock. */
typedef struct map_job {
    smmap_os_fd fd;  /* SMMAP_OS_NO_FD: reopen first */
    uint64_t need;   /* the size of the handle asking: the file must hold
                        at least this much */
    uint64_t offset;
    size_t len;
    int no_mmap;     /* in: use the read backend; out: switched to it */
    int filled;      /* out: base is a heap buffer filled by pread */
    int advice;
    int populate;
    int guard;       /* install the fault handler before the first copy */
    void *base;      /* out */
    int retried;     /* out: an OS refusal was relieved and retried */
    uint64_t seen;   /* out: a truncation seen (UINT64_MAX: none) */
} map_job;

/* The smallest page of the systems smmap runs on: the touch loop below
 * steps by it, since windows are aligned to a granularity that may be
 * larger than the page (64 KiB on Windows, or SMMAP_GRANULARITY). A larger
 * page is touched several times, each time a load from a page already in. */
#define POPULATE_STEP 4096u

/* Fault in every page of a new window now rather than on first access.
 * A page that is gone (truncated since the size check) fails the
 * populate call with EFAULT, and the touch of it is a guarded copy:
 * -EIO, never SIGBUS. */
static int populate(const void *base, size_t len)
{
    const unsigned char *p = base;
    unsigned char byte;
    size_t i;
    int err = smmap__os.advise((void *)base, len, SMMAP_OS_POPULATE);
    if (err == 0)
        return 0;
    for (i = 0; i < len; i += POPULATE_STEP)
        if (smmap__os.guarded_copy(&byte, p + i, 1) < 0)
            return -EIO;
    return 0;
}

/* Check the file is unchanged, then map or fill the window. */
static int map_once(smmap_entry *e, map_job *job)
{
    smmap_os_stat st;
    int err;
    if (job->fd == SMMAP_OS_NO_FD) {
        err = smmap__entry_reopen(e, job->need, &job->fd, &job->seen);
    } else {
        /* An open descriptor is the version; only its size can change. */
        err = smmap__os.fstat(job->fd, &st);
        if (err == 0)
            err = smmap__entry_check_size(e, &st, job->need, &job->seen);
    }
    if (err != 0)
        return err;
    if (!job->no_mmap) {
        err = smmap__os.map(job->fd, job->offset, job->len, &job->base);
        if (err == 0) {
            /* Copies from this window are guarded from now on. */
            if (job->guard)
                smmap__os.guard_install();
            if (job->advice != SMMAP_ADVICE_NORMAL)
                (void)smmap__os.advise(job->base, job->len, job->advice);
            if (job->populate && populate(job->base, job->len) != 0) {
                /* A page is gone: truncated since the check (-ESTALE, the
                 * end seen), or an error of the device (-EIO). */
                (void)smmap__os.unmap(job->base, job->len);
                if (smmap__os.fstat(job->fd, &st) == 0 && st.size < job->need) {
                    job->seen = st.size;
                    return -ESTALE;
                }
                return -EIO;
            }
            return 0;
        }
        /* EOVERFLOW: the window reaches past what the kernel maps of a
         * file (offset + length over its largest file size, the last page
         * of a file near 2^63 bytes): this window alone is read. */
        if (err != -EOVERFLOW && !cannot_map(err))
            return err;
        if (err != -EOVERFLOW)
            job->no_mmap = 1;
    }
    job->filled = 1;
    return fill_window(job->fd, job->offset, job->len, &job->base,
                       &job->seen);
}

/* Map outside the lock, retrying once after freeing everything unused if
 * the system refuses. */
static int map_unlocked(smmap_manager *m, smmap_entry *e, map_job *job)
{
    int err = map_once(e, job);
    if (is_os_refusal(err)) {
        smmap__manager_relieve(m);
        job->retried = 1;
        err = map_once(e, job);
    }
    return err;
}

static void set_peaks(smmap_stats *s)
{
    if (s->mapped_bytes > s->peak_mapped_bytes)
        s->peak_mapped_bytes = s->mapped_bytes;
    if (s->regions > s->peak_regions)
        s->peak_regions = s->regions;
}

/* Under the lock: a region of e covering [off, end), pinned, or NULL. The
 * cursor's current region (held) is credited with the reads it served and
 * unpinned either way. */
static smmap_region *find_and_pin(smmap_manager *m, smmap_entry *e,
                                  uint64_t off, uint64_t end,
                                  smmap_region *held, uint64_t served)
{
    smmap_region *r;
    uint64_t reach;
    if (held != NULL) {
        smmap__region_credit(held, served);
        if (held->offset <= off && end <= held->offset + held->size) {
            m->stats.reuses++;
            return held;
        }
        /* Moving on to bytes that touch the window: a scan, which windows
         * serve well, though the reads a cursor made in place were not
         * counted (smmap_cursor_at's hits count nothing). From a pressure
         * window, bytes within a window's reach count the same: a mapped
         * window would have served them. */
        reach = held->transient ? m->opt.window_size : 0;
        if (off <= held->offset + held->size + reach &&
            end + reach >= held->offset)
            smmap__policy_scanned(held);
    }
    r = slot_may_cover(e, off) ? smmap__tree_find_covering(e->tree, off, end)
                               : NULL;
    if (r != NULL) {
        smmap__region_pin(m, r);
        smmap__region_credit(r, 1);
        m->stats.reuses++;
    }
    if (held != NULL) {
        smmap__policy_left(m, held);
        smmap__region_unpin(m, held);
    }
    return r;
}

/* Under the lock, after a map job: take over a reopened descriptor, note a
 * switch to the read backend, and put the descriptor back in the cache. */
/* Under the lock: give a descriptor reopened outside it to the entry, or,
 * when another thread reopened it first, return it for closing. */
static smmap_os_fd adopt_reopened(smmap_manager *m, smmap_entry *e,
                                  smmap_os_fd fd)
{
    m->stats.fd_reopens++;
    if (e->fd != SMMAP_OS_NO_FD)
        return fd;
    e->fd = fd;
    m->stats.open_fds++;
    return SMMAP_OS_NO_FD;
}

static smmap_os_fd finish_job(smmap_manager *m, smmap_entry *e,
                              const map_job *job, int reopened)
{
    smmap_os_fd extra = SMMAP_OS_NO_FD;
    e->fd_busy--;
    if (reopened && job->fd != SMMAP_OS_NO_FD)
        extra = adopt_reopened(m, e, job->fd);
    if (job->no_mmap && !e->no_mmap) {
        e->no_mmap = 1;
        m->stats.files_no_mmap++;
    }
    smmap__fd_lru_update(m, e);
    smmap__fd_trim(m, m->opt.max_open_files);
    return extra;
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

/* Whether [off, off + need) of f, rounded to cache lines as [*pa, *pb),
 * is small enough for a pressure window. */
static int pressure_window(const smmap_manager *m, const smmap_file *f,
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
static smmap_os_fd hold_fd(smmap_manager *m, smmap_cursor *c)
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
static int acquire_pressure_window(smmap_cursor *c, uint64_t a, uint64_t b,
                                   smmap_region **out)
{
    smmap_manager *m = c->file->manager;
    smmap_entry *e = c->file->entry;
    size_t len = (size_t)(b - a);
    smmap_region *r = NULL, *victims = NULL;
    uint64_t reserved;
    smmap_os_fd fd;
    int err = reserve(m, len, len, &reserved, &victims);

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
                unreserve(m, len);
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
        smmap__region_unmap_chain(victims);
        return err;
    }
    r->offset = a;
    r->size = len;
    r->left = r->right = NULL;
    r->pins = 1;
    r->height = 0;
    r->heap = 1;
    r->transient = 1;
    r->past_end = 0; /* within the handle, which is within any seen end */
    r->served = 0;
    r->first_hold = 1;
    r->entry = e;
    e->npinned++;
    transient_link(e, r);
    if (e->nregions++ == 0)
        m->stats.files_mapped++;
    set_peaks(&m->stats);
    m->stats.read_windows++; /* taken back if the pread fails */
    fd = hold_fd(m, c);
    smmap__mutex_unlock(&m->lock);

    smmap__region_unmap_chain(victims);
    err = pread_held(c, fd, a, (void *)r->base, len);
    if (err == 0) {
        give_back_once(c);
        *out = r;
        return 0;
    }
    smmap__mutex_lock(&m->lock);
    m->stats.read_windows--;
    e->npinned--;
    transient_unlink(e, r);
    account_removed(m, r);
    if (err == -EIO && smmap__entry_may_map(e, c->file) != 0)
        err = -ESTALE; /* truncated: like a window of a changed file */
    smmap__cursor_drop_fd(m, c);
    smmap__mutex_unlock(&m->lock);
    free_pressure_window(r);
    return err;
}

/* A miss that is not served by a direct read: a pressure window or a new
 * window. Called with the lock held, which it releases. Out of line, so
 * that a reuse (the switch among cached windows) and a direct read run in
 * a small function. */
static SMMAP__NOINLINE int acquire_miss(smmap_cursor *c, uint64_t off,
                                        uint64_t need, uint64_t n,
                                        smmap_os_fd *direct_fd,
                                        smmap_region **out)
{
    smmap_file *f = c->file;
    smmap_manager *m = f->manager;
    smmap_entry *e = f->entry;
    uint64_t end = off + n, a, b, min_a, min_b, len = 0;
    smmap_region *r, *victims = NULL, *loser = NULL;
    smmap_os_fd extra_fd;
    map_job job = {0};
    int err, reopened;
    uint32_t inserts, bits_shift = 0, bits_n = 0;
    uint64_t *bits = NULL;

    if (direct_fd == NULL && m->opt.window_size != 0 &&
        pressure_window(m, f, off, need, &a, &b) &&
        smmap__policy_prefer_direct(m, m->opt.window_size))
        return acquire_pressure_window(c, a, b, out);
    smmap__cursor_drop_fd(m, c);
    job.need = smmap__file_size(f);
    place(m, e, job.need, off, end, 1, &min_a, &min_b);
    place(m, e, job.need, off, end, 0, &a, &b);
    if (min_b - min_a > (uint64_t)(SIZE_MAX >> 1)) {
        /* More than half the address space can never be mapped: refused
         * before anything is evicted for it. */
        smmap__mutex_unlock(&m->lock);
        return -ENOMEM;
    }
    if (b - a > (uint64_t)SIZE_MAX) {
        a = min_a;
        b = min_b;
    }
    err = reserve(m, b - a, min_b - min_a, &len, &victims);
    if (err != 0) {
        smmap__mutex_unlock(&m->lock);
        smmap__region_unmap_chain(victims);
        return err;
    }
    if (len != b - a)
        a = min_a;
    job.fd = e->fd;
    job.offset = a;
    job.len = (size_t)len;
    job.no_mmap = e->no_mmap || (m->opt.flags & SMMAP_NO_MMAP);
    job.advice = e->advice;
    job.populate = (m->opt.flags & SMMAP_POPULATE) != 0;
    job.guard = !(m->opt.flags & SMMAP_NO_SIGNAL_HANDLER);
    job.seen = UINT64_MAX;
    reopened = job.fd == SMMAP_OS_NO_FD;
    inserts = e->tree_inserts;
    if (e->slot_bits == NULL && m->opt.window_size != 0)
        slot_geometry(m, e->max_size, &bits_shift, &bits_n);
    e->fd_busy++;
    smmap__fd_lru_update(m, e);
    smmap__mutex_unlock(&m->lock);

    smmap__region_unmap_chain(victims);
    if (bits_n != 0) {
        /* The entry's first window: its slot filter (not needed to work,
         * so a failure leaves it out). */
        bits = smmap__os.malloc(slot_words(bits_n) * 8);
        if (bits != NULL)
            memset(bits, 0, slot_words(bits_n) * 8);
    }
    r = smmap__os.malloc(sizeof(*r));
    err = r == NULL ? -ENOMEM : map_unlocked(m, e, &job);

    smmap__mutex_lock(&m->lock);
    extra_fd = finish_job(m, e, &job, reopened);
    smmap__entry_saw_end(e, job.seen);
    if (err == 0 && job.retried)
        m->stats.retries++;
    if (err != 0) {
        unreserve(m, len);
        smmap__mutex_unlock(&m->lock);
        if (extra_fd != SMMAP_OS_NO_FD)
            (void)smmap__os.close(extra_fd);
        smmap__os.free(r);
        smmap__os.free(bits);
        return err;
    }
    if (bits != NULL && e->slot_bits == NULL) {
        e->slot_bits = bits;
        e->slot_shift = (uint8_t)bits_shift;
        e->slot_nbits = bits_n;
        slot_set_tree(e, e->tree);
        bits = NULL;
    }
    memset(r, 0, sizeof(*r));
    r->base = job.base;
    r->offset = a;
    r->size = (size_t)len;
    r->entry = e;
    r->heap = (uint8_t)(job.filled != 0);
    if (job.filled)
        m->stats.read_windows++;
    else
        m->stats.maps++;

    /* While unlocked, another thread may have mapped a covering region
     * (only if one was inserted meanwhile). */
    *out = e->tree_inserts == inserts
               ? NULL
               : find_and_pin(m, e, off, off + need, NULL, 0);
    if (*out != NULL) {
        if (!r->heap)
            m->stats.unmaps++;
        unreserve(m, len);
        loser = r;
    } else {
        r->pins = 1;
        e->npinned++;
        r->first_hold = 1;
        smmap__region_mark_past_end(r);
        smmap__tree_insert(&e->tree, r);
        if (e->slot_bits != NULL)
            slot_set(e, r->offset, r->offset + r->size);
        e->tree_inserts++;
        if (e->nregions++ == 0)
            m->stats.files_mapped++;
        set_peaks(&m->stats);
        *out = r;
    }
    smmap__mutex_unlock(&m->lock);
    if (extra_fd != SMMAP_OS_NO_FD)
        (void)smmap__os.close(extra_fd);
    smmap__region_unmap_chain(loser);
    smmap__os.free(bits);
    return 0;
}

int smmap__region_acquire(smmap_cursor *c, uint64_t off, uint64_t need,
                          uint64_t n, smmap_os_fd *direct_fd,
                          smmap_region **out)
{
    smmap_manager *m = c->file->manager;
    smmap_entry *e = c->file->entry;
    smmap__mutex_lock(&m->lock);
    *out = find_and_pin(m, e, off, off + need, c->region, c->served);
    if (*out == NULL) {
        int err = smmap__entry_may_map(e, c->file);
        if (err != 0) {
            smmap__cursor_drop_fd(m, c);
            smmap__mutex_unlock(&m->lock);
            return err;
        }
        if (direct_fd != NULL &&
            smmap__policy_prefer_direct(m, m->opt.window_size != 0
                                               ? m->opt.window_size
                                               : c->file->size)) {
            /* The cursor holds the descriptor across its direct reads, so
             * one lock round trip per read suffices. */
            *direct_fd = hold_fd(m, c);
            m->stats.direct_reads++;
            smmap__mutex_unlock(&m->lock);
            return SMMAP__DIRECT;
        }
        return acquire_miss(c, off, need, n, direct_fd, out);
    }
    /* The caller reads at off next, most often a cache and TLB miss in
     * another window: start it now, so that it overlaps giving the lock
     * back and the return (switching among 16 cached 64 MiB windows: 200-230
     * -> 110-125 ns per read here, alternating runs). */
    smmap__prefetch((*out)->base + (size_t)(off - (*out)->offset));
    if (c->holds_fd)
        smmap__cursor_drop_fd(m, c);
    smmap__mutex_unlock(&m->lock);
    return 0;
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
        if (is_os_refusal(err)) {
            smmap__manager_relieve(m);
            err = smmap__entry_reopen(e, need, &fd, &seen);
            retried = err == 0;
        }
        smmap__mutex_lock(&m->lock);
        smmap__entry_saw_end(e, seen);
        if (err == 0) {
            own = adopt_reopened(m, e, fd);
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
