/*
 * region.c - how a cursor gets a region: a reuse found without the lock
 * (cache.c), or under it, or a new window: placed like smmap's, its budget
 * reserved (evicting what cache.c chooses), then mapped outside the lock.
 */
#include "smmap_int.h"

#include <string.h>


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

int smmap__budget_reserve(smmap_manager *m, uint64_t len, uint64_t min_len,
                          uint64_t *chosen, smmap_region **victims)
{
    smmap_stats *s = &m->stats;
    while (!smmap__budget_fits(m, len, 1)) {
        smmap_region *r = smmap__cache_evict(m);
        if (r == NULL)
            break;
        smmap__region_detach(m, r, victims);
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
    /* The peaks count a reservation at once, so that no snapshot taken
     * while the map runs shows regions above peak_regions. */
    smmap__stats_peaks(s);
    *chosen = len;
    return 0;
}

void smmap__budget_unreserve(smmap_manager *m, uint64_t len)
{
    m->stats.mapped_bytes -= len;
    m->stats.regions--;
}

int smmap__is_os_refusal(int err)
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
    struct map_job *next; /* m->jobs, while the map is in flight */
    const smmap_entry *entry;
    uint64_t cover_offset, cover_len; /* what it reserved (under the lock;
                                         offset and len may shrink) */
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
    if (smmap__is_os_refusal(err)) {
        smmap__manager_relieve(m);
        job->retried = 1;
        err = map_once(e, job);
    }
    return err;
}

void smmap__stats_peaks(smmap_stats *s)
{
    if (s->mapped_bytes > s->peak_mapped_bytes)
        s->peak_mapped_bytes = s->mapped_bytes;
    if (s->regions > s->peak_regions)
        s->peak_regions = s->regions;
}

/* Under the lock: a region of e's tree covering [off, end), pinned, or
 * NULL. */
static smmap_region *pin_covering(smmap_manager *m, smmap_entry *e,
                                  uint64_t off, uint64_t end)
{
    smmap_region *r = smmap__slot_may_cover(e, off)
                          ? smmap__tree_find_covering(e->tree, off, end)
                          : NULL;
    uint64_t state;
    /* A region in a tree is never dead under the lock; a pin fails only
     * when 2^29 cursors hold it (then the caller maps another). */
    if (r == NULL || (state = smmap__region_try_pin(r, SMMAP__USE)) == 0)
        return NULL;
    if (state & SMMAP__USES_FOLD)
        smmap__region_fold_locked(m, r);
    if (smmap__load_relaxed(&r->first_hold))
        smmap__region_credit(r, 1);
    smmap__cache_hint(e, r);
    return r;
}

/* Under the lock: a region of e covering [off, end), pinned, or NULL. The
 * cursor's current region (held) is credited with the reads it served and
 * let go either way. A cursor switching away from a region gets hazard
 * slots, so that its next switches take no lock. */
static smmap_region *find_and_pin(smmap_manager *m, smmap_entry *e,
                                  uint64_t off, uint64_t end,
                                  smmap_cursor *c)
{
    smmap_region *r, *held = c->region;
    uint64_t reach;
    if (held != NULL) {
        smmap__region_credit(held, c->served);
        if (held->offset <= off && end <= held->offset + held->size) {
            if (c->by_hazard)
                smmap__cursor_count_reuse(c, held);
            else if (smmap__region_count_use(held))
                smmap__region_fold_locked(m, held);
            return held;
        }
        if (c->hazard == NULL && !held->transient)
            c->hazard = smmap__hazard_alloc(m);
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
    r = pin_covering(m, e, off, end);
    if (held != NULL) {
        smmap__policy_left(m, held);
        smmap__cursor_unhold(c, 1);
    }
    return r;
}

/* With the lock held: whether a map in flight of e will hold [off, end).
 * Two cursors that miss the same window at once both map it (the second
 * gives its copy up); under a budget the first one's reservation fills,
 * the second waits for it instead of failing. */
static int job_covers(const smmap_manager *m, const smmap_entry *e,
                      uint64_t off, uint64_t end)
{
    const map_job *j;
    for (j = m->jobs; j != NULL; j = j->next)
        if (j->entry == e && j->cover_offset <= off &&
            end - j->cover_offset <= j->cover_len)
            return 1;
    return 0;
}

static void job_start(smmap_manager *m, map_job *job, const smmap_entry *e)
{
    job->entry = e;
    job->cover_offset = job->offset;
    job->cover_len = job->len;
    job->next = m->jobs;
    m->jobs = job;
}

static smmap_os_fd finish_job(smmap_manager *m, smmap_entry *e,
                              const map_job *job, int reopened)
{
    smmap_os_fd extra = SMMAP_OS_NO_FD;
    map_job **p;
    for (p = &m->jobs; *p != NULL; p = &(*p)->next)
        if (*p == job) {
            *p = job->next;
            break;
        }
    e->fd_busy--;
    if (reopened && job->fd != SMMAP_OS_NO_FD)
        extra = smmap__entry_adopt_fd(m, e, job->fd);
    if (job->no_mmap && !e->no_mmap) {
        e->no_mmap = 1;
        m->stats.files_no_mmap++;
    }
    smmap__fd_lru_update(m, e);
    smmap__fd_trim(m, m->opt.max_open_files);
    return extra;
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
    uint64_t end = off + n, a, b, min_a, min_b, need_a, need_b, len = 0;
    smmap_region *r, *victims = NULL;
    smmap_os_fd extra_fd;
    smmap_index_alloc index;
    map_job job = {0};
    int err, reopened, new_index;
    uint32_t inserts;

    if (direct_fd == NULL && m->opt.window_size != 0 &&
        smmap__pressure_fits(m, f, off, need, &a, &b) &&
        smmap__policy_prefer_direct(m, m->opt.window_size))
        return smmap__pressure_acquire(c, a, b, out);
    smmap__cursor_drop_fd(m, c);
    job.need = smmap__file_size(f);
    place(m, e, job.need, off, end, 1, &min_a, &min_b);
    place(m, e, job.need, off, end, 0, &a, &b);
    place(m, e, job.need, off, off + need, 1, &need_a, &need_b);
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
    r = smmap__region_alloc(m);
    err = r == NULL ? -ENOMEM
                    : smmap__budget_reserve(m, b - a, min_b - min_a, &len,
                                            &victims);
    if (err != 0) {
        if ((err == -ENOMEM || err == -EMFILE) && r != NULL &&
            job_covers(m, e, off, off + need))
            err = SMMAP__WAIT;
        if (r != NULL)
            smmap__region_recycle(m, r);
        smmap__mutex_unlock(&m->lock);
        smmap__region_unmap_chain(m, victims);
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
    new_index = smmap__index_plan(m, e, &index);
    job_start(m, &job, e);
    e->fd_busy++;
    smmap__fd_lru_update(m, e);
    smmap__mutex_unlock(&m->lock);

    victims = smmap__region_unmap_only(victims);
    if (new_index)
        /* The entry's first window: its slot filter and hints (not needed
         * to work, so a failure leaves them out). */
        smmap__index_alloc(m, &index);
    err = map_unlocked(m, e, &job);
    if (err == -ENOMEM && job.len > need_b - need_a) {
        /* The system cannot give a window this large (a window_size beyond
         * the address space): the smallest one that holds the bytes
         * needed. */
        job.offset = need_a;
        job.len = (size_t)(need_b - need_a);
        job.retried = 0;
        err = map_unlocked(m, e, &job);
    }

    smmap__mutex_lock(&m->lock);
    if (job.len != len) {
        /* shrunk: the budgets give the rest back */
        m->stats.mapped_bytes -= len - job.len;
        len = job.len;
        a = job.offset;
    }
    smmap__region_recycle(m, victims);
    extra_fd = finish_job(m, e, &job, reopened);
    smmap__entry_saw_end(e, job.seen);
    if (err == 0 && job.retried)
        m->stats.retries++;
    if (err != 0) {
        smmap__budget_unreserve(m, len);
        smmap__region_recycle(m, r);
        smmap__mutex_unlock(&m->lock);
        if (extra_fd != SMMAP_OS_NO_FD)
            (void)smmap__os.close(extra_fd);
        smmap__index_free(&index);
        return err;
    }
    smmap__index_install(e, &index);
    if (job.filled)
        m->stats.read_windows++;
    else
        m->stats.maps++;

    /* While unlocked, another thread may have mapped a covering region
     * (only if one was inserted meanwhile): ours is given up. */
    *out = e->tree_inserts == inserts
               ? NULL
               : pin_covering(m, e, off, off + need);
    if (*out != NULL) {
        if (!job.filled)
            m->stats.unmaps++;
        smmap__budget_unreserve(m, len);
        smmap__region_recycle(m, r);
    } else {
        smmap__region_init(r, e, a, (size_t)len, job.base, job.filled);
        smmap__cache_insert(m, e, r);
        e->tree_inserts++;
        if (e->nregions++ == 0)
            m->stats.files_mapped++;
        smmap__stats_peaks(&m->stats);
        *out = r;
    }
    smmap__mutex_unlock(&m->lock);
    if (extra_fd != SMMAP_OS_NO_FD)
        (void)smmap__os.close(extra_fd);
    if (*out != r) {
        if (job.filled)
            smmap__os.free(job.base);
        else
            (void)smmap__os.unmap(job.base, job.len);
    }
    smmap__index_free(&index);
    return 0;
}

int smmap__region_acquire(smmap_cursor *c, uint64_t off, uint64_t need,
                          uint64_t n, smmap_os_fd *direct_fd,
                          smmap_region **out)
{
    smmap_manager *m = c->file->manager;
    smmap_entry *e = c->file->entry;
    smmap__mutex_lock(&m->lock);
    *out = find_and_pin(m, e, off, off + need, c);
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
            *direct_fd = smmap__cursor_hold_fd(m, c);
            m->stats.direct_reads++;
            smmap__mutex_unlock(&m->lock);
            return SMMAP__DIRECT;
        }
        return acquire_miss(c, off, need, n, direct_fd, out);
    }
    /* As in smmap__cache_find_hold: start the caller's next read
     * (switching among 16 cached 64 MiB windows under the lock: 200-230 ->
     * 110-125 ns per read here, alternating runs). */
    smmap__prefetch((*out)->base + (size_t)(off - (*out)->offset));
    if (c->holds_fd)
        smmap__cursor_drop_fd(m, c);
    smmap__mutex_unlock(&m->lock);
    return 0;
}
