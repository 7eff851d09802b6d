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

void smmap__region_unpin(smmap_manager *m, smmap_region *r)
{
    assert(r->pins > 0);
    if (--r->pins == 0) {
        lru_append(m, r);
        assert(r->entry->npinned > 0);
        r->entry->npinned--;
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
    smmap__tree_remove(&r->entry->tree, r);
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
    while (m->lru_head != NULL &&
           (s->mapped_bytes + len > m->opt.max_mapped ||
            s->regions >= m->opt.max_regions)) {
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
 * the window does was truncated since it was opened. */
static int fill_window(smmap_os_fd fd, uint64_t a, size_t len, void **base)
{
    unsigned char *buf = smmap__os.malloc(len ? len : 1);
    size_t done = 0;
    if (buf == NULL)
        return -ENOMEM;
    while (done < len) {
        int64_t n = smmap__os.pread(fd, buf + done, len - done, a + done);
        if (n <= 0) {
            smmap__os.free(buf);
            return n == 0 ? -ESTALE : (int)n;
        }
        done += (size_t)n;
    }
    *base = buf;
    return 0;
}

/* What one map call needs to know and tells back, outside the lock. */
typedef struct map_job {
    smmap_os_fd fd;  /* SMMAP_OS_NO_FD: reopen first */
    uint64_t offset;
    size_t len;
    int no_mmap;     /* in: use the read backend; out: switched to it */
    int advice;
    int populate;
    int guard;       /* install the fault handler before the first copy */
    void *base;      /* out */
    int retried;     /* out: an OS refusal was relieved and retried */
} map_job;

/* Fault in every page of a new window now rather than on first access. */
static void populate(const void *base, size_t len, uint64_t granularity)
{
    volatile const unsigned char *p = base;
    unsigned char sum = 0;
    size_t i;
    if (smmap__os.advise((void *)base, len, SMMAP_OS_POPULATE) == 0)
        return;
    for (i = 0; i < len; i += (size_t)granularity)
        sum ^= p[i];
    (void)sum;
}

/* Check the file is unchanged, then map or fill the window. */
static int map_once(smmap_entry *e, map_job *job, uint64_t g)
{
    smmap_os_stat st;
    int err;
    if (job->fd == SMMAP_OS_NO_FD) {
        err = smmap__entry_reopen(e, &job->fd);
    } else {
        err = smmap__os.fstat(job->fd, &st);
        if (err == 0)
            err = smmap__entry_check(e, &st);
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
            if (job->populate)
                populate(job->base, job->len, g);
            return 0;
        }
        if (!cannot_map(err))
            return err;
        job->no_mmap = 1;
    }
    return fill_window(job->fd, job->offset, job->len, &job->base);
}

/* Map outside the lock, retrying once after freeing everything unused if
 * the system refuses. */
static int map_unlocked(smmap_manager *m, smmap_entry *e, map_job *job)
{
    int err = map_once(e, job, m->granularity);
    if (is_os_refusal(err)) {
        smmap__manager_relieve(m);
        job->retried = 1;
        err = map_once(e, job, m->granularity);
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
    if (held != NULL) {
        smmap__region_credit(held, served);
        if (held->offset <= off && end <= held->offset + held->size) {
            m->stats.reuses++;
            return held;
        }
    }
    r = smmap__tree_find_covering(e->tree, off, end);
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

int smmap__region_acquire(smmap_cursor *c, uint64_t off, uint64_t need,
                          uint64_t n, smmap_os_fd *direct_fd,
                          smmap_region **out)
{
    smmap_file *f = c->file;
    smmap_manager *m = f->manager;
    smmap_entry *e = f->entry;
    uint64_t end = off + n, a, b, min_a, min_b, len = 0;
    smmap_region *r, *victims = NULL, *loser = NULL;
    smmap_os_fd extra_fd;
    map_job job;
    int err, reopened;

    smmap__mutex_lock(&m->lock);
    *out = find_and_pin(m, e, off, off + need, c->region, c->served);
    if (*out != NULL || e->changed) {
        smmap__cursor_drop_fd(m, c);
        smmap__mutex_unlock(&m->lock);
        return *out != NULL ? 0 : -ESTALE;
    }
    if (direct_fd != NULL &&
        smmap__policy_prefer_direct(m, m->opt.window_size != 0
                                           ? m->opt.window_size
                                           : f->size)) {
        /* The cursor holds the descriptor across its direct reads, so one
         * lock round trip per read suffices. */
        if (!c->holds_fd) {
            c->holds_fd = 1;
            e->fd_busy++;
            smmap__fd_lru_update(m, e);
        }
        *direct_fd = e->fd;
        m->stats.direct_reads++;
        smmap__mutex_unlock(&m->lock);
        return SMMAP__DIRECT;
    }
    smmap__cursor_drop_fd(m, c);
    place(m, e, f->size, off, end, 0, &a, &b);
    place(m, e, f->size, off, end, 1, &min_a, &min_b);
    if (min_b - min_a > (uint64_t)SIZE_MAX) {
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
    memset(&job, 0, sizeof(job));
    job.fd = e->fd;
    job.offset = a;
    job.len = (size_t)len;
    job.no_mmap = e->no_mmap || (m->opt.flags & SMMAP_NO_MMAP);
    job.advice = e->advice;
    job.populate = (m->opt.flags & SMMAP_POPULATE) != 0;
    job.guard = !(m->opt.flags & SMMAP_NO_SIGNAL_HANDLER);
    reopened = job.fd == SMMAP_OS_NO_FD;
    e->fd_busy++;
    smmap__fd_lru_update(m, e);
    smmap__mutex_unlock(&m->lock);

    smmap__region_unmap_chain(victims);
    r = smmap__os.malloc(sizeof(*r));
    err = r == NULL ? -ENOMEM : map_unlocked(m, e, &job);

    smmap__mutex_lock(&m->lock);
    extra_fd = finish_job(m, e, &job, reopened);
    if (err == 0 && job.retried)
        m->stats.retries++;
    if (err != 0) {
        unreserve(m, len);
        smmap__mutex_unlock(&m->lock);
        if (extra_fd != SMMAP_OS_NO_FD)
            (void)smmap__os.close(extra_fd);
        smmap__os.free(r);
        return err;
    }
    memset(r, 0, sizeof(*r));
    r->base = job.base;
    r->offset = a;
    r->size = (size_t)len;
    r->entry = e;
    r->heap = (uint16_t)job.no_mmap;
    if (job.no_mmap)
        m->stats.read_windows++;
    else
        m->stats.maps++;

    /* While unlocked, another thread may have mapped a covering region. */
    *out = find_and_pin(m, e, off, off + need, NULL, 0);
    if (*out != NULL) {
        if (!r->heap)
            m->stats.unmaps++;
        unreserve(m, len);
        loser = r;
    } else {
        r->pins = 1;
        e->npinned++;
        r->first_hold = 1;
        smmap__tree_insert(&e->tree, r);
        if (e->nregions++ == 0)
            m->stats.files_mapped++;
        set_peaks(&m->stats);
        *out = r;
    }
    smmap__mutex_unlock(&m->lock);
    if (extra_fd != SMMAP_OS_NO_FD)
        (void)smmap__os.close(extra_fd);
    smmap__region_unmap_chain(loser);
    return 0;
}

int64_t smmap__read_direct(smmap_cursor *c, smmap_os_fd fd, uint64_t off,
                           void *dst, size_t len)
{
    smmap_manager *m = c->file->manager;
    smmap_entry *e = c->file->entry;
    unsigned char *out = dst;
    smmap_os_fd own = SMMAP_OS_NO_FD;
    size_t done = 0;
    int err = 0, truncated = 0;

    if (fd == SMMAP_OS_NO_FD) {
        /* Closed for the budget: reopen, and give it to the entry unless
         * another thread did first (then ours is used once and closed). */
        err = smmap__entry_reopen(e, &fd);
        if (err == 0) {
            smmap__mutex_lock(&m->lock);
            own = adopt_reopened(m, e, fd);
            smmap__mutex_unlock(&m->lock);
        }
    }
    while (err == 0 && done < len) {
        int64_t got = smmap__os.pread(fd, out + done, len - done, off + done);
        if (got < 0)
            err = (int)got;
        else if (got == 0)
            err = -EIO, truncated = 1; /* ends before the handle's size */
        else
            done += (size_t)got;
    }
    if (own != SMMAP_OS_NO_FD)
        (void)smmap__os.close(own);
    if (err == 0)
        return (int64_t)done;
    smmap__mutex_lock(&m->lock);
    m->stats.direct_reads--;
    if (truncated)
        e->changed = 1; /* not for a transient EIO of the device */
    smmap__cursor_drop_fd(m, c);
    smmap__mutex_unlock(&m->lock);
    return err;
}
