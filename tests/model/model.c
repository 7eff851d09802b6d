/*
 * model.c - the reference model of a manager and the engine that checks the
 * library against it, one operation at a time (see model.h).
 *
 * What the model predicts, from DESIGN.md and include/smmap.h:
 *   - placement: sliding windows grow left into the gap (up to the end of
 *     the region before the request), then right up to the next region's
 *     start, to window_size or the aligned request if larger; the start is
 *     aligned to the granularity without leaving the gap unless the request
 *     needs it (DESIGN: "a region may overlap a neighbour only where that is
 *     needed"), never past the end of the file as the handle knows it (its
 *     smmap_file_size). Static mode maps whole files.
 *   - reuse: a region that covers the request is reused, never duplicated;
 *     smmap_cursor_use_range reuses any region holding [off, off + need)
 *     and places a new one for [off, off + want); smmap_read reuses any
 *     window holding the next byte and places new ones for a window's worth
 *     from the next byte's page (the read policy's choice, not DESIGN's).
 *   - budgets: unused regions are evicted until the new window fits
 *     max_mapped and max_regions, and no more (evicting all but the largest
 *     of them would not have made it fit); a region a cursor holds is never
 *     evicted; with everything pinned, max_regions gives -EMFILE, max_mapped
 *     maps the minimal window (the aligned request) or, with
 *     SMMAP_HARD_LIMITS, gives -ENOMEM.
 *   - the descriptor cache: at most max_open_files held; the idle path-opened
 *     descriptor used longest ago (opened or mapped from) is closed first and
 *     reopened when a window is needed; descriptor-opened files keep theirs.
 *   - entries (DESIGN, VERSIONS.md 2): opens of one version of a file share
 *     one set of regions; an open of another version (a file replaced at
 *     the path, even with the old inode number; with SMMAP_CHECK_MTIME a
 *     touched one) never joins the entry of an earlier one.
 *
 * Where DESIGN leaves a choice open, the library chooses and the model
 * follows, within what DESIGN allows (issue 13):
 *   - which unused regions an eviction takes: DESIGN asks for the one
 *     released longest ago, or an approximation (the library's CLOCK). The
 *     model allows any set of unused regions whose eviction was needed (see
 *     evict_for), never a held one;
 *   - which of several regions covering a request a cursor gets (the
 *     library's lock-free hints or its tree): any of them, never a new one.
 * Each is a choice point (choose()). A cursor move (use, at, use_range,
 * read) is first run on the model with the outcomes most likely to be the
 * library's (the region its cursor holds now; the regions no longer in its
 * trees); if the move's result, the statistics and the regions do not then
 * equal the library's, it is replayed with the other allowed outcomes
 * (move_both), and fails only if none of them ends where the library did.
 * A read that passes through several windows may evict at each of them;
 * its intermediate choices are not visible, and the replay covers them.
 * Everything else is predicted and compared exactly: placement given the
 * regions that exist, every counter, pins, descriptors.
 *
 * Versions (model_versions.c) make some answers a set: a new window of a
 * handle whose file was replaced may give -ESTALE or the old bytes, a read
 * past a truncation -EIO, and so on. When the library gives one of the
 * allowed answers other than the model's own prediction, what it did on
 * the way (which regions it evicted before it found the file stale,
 * whether it reopened and closed a descriptor) is not something DESIGN
 * fixes; resync() (model_check.c) then checks what DESIGN does fix (held
 * regions stay with their pins, counters only grow and add up, budgets)
 * and takes the library's regions, descriptors and counters as
 * the model's, after which every check is exact again. Nothing else is
 * relaxed.
 */
#include "model_int.h"
#include "../portable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t model_ops_applied;
long model_live_allocations;
model_version_figures model_figures;
int model_versions_enabled = 1;

uint64_t model_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* ---------------------------------------------------------------- pool */

/* Random bytes at [off, off + n) of fd. */
static int fill_random(int fd, uint64_t off, uint64_t n, uint64_t *rng)
{
    unsigned char chunk[65536];
    while (n > 0) {
        size_t k = n < sizeof(chunk) ? (size_t)n : sizeof(chunk), i;
        int err;
        for (i = 0; i < k; i++)
            chunk[i] = (unsigned char)(model_rand(rng) >> 56);
        err = port_pwrite_all(fd, chunk, k, off);
        if (err != 0)
            return err;
        off += k;
        n -= k;
    }
    return 0;
}

int model_pool_create(model_pool *p, unsigned count, uint64_t seed,
                      int with_huge)
{
    uint64_t rng = seed * 2654435761u + 0x9E3779B97F4A7C15ull;
    unsigned i;
    int err;

    memset(p, 0, sizeof(*p));
    if (count > MODEL_MAX_POOL)
        count = MODEL_MAX_POOL;
    /* What the library aligns windows to: the page size on POSIX, 64 KiB
     * on Windows. */
    p->page = smmap__os_default.granularity();
    err = port_make_temp_dir(p->dir, sizeof(p->dir), "smmap-model");
    if (err != 0) {
        p->dir[0] = '\0';
        return err;
    }
    for (i = 0; i < count; i++) {
        model_pool_file *f = &p->files[i];
        uint64_t g = p->page, size;
        int fd;
        switch (i) {
        case 0: size = 0; break;
        case 1: size = 1; break;
        case 2: size = g; break;
        case 3: size = g + 1; break;
        case 4: size = 2 * g - 1; break;
        case 5: size = 3 * 1024 * 1024 + 77; break;
        case 6: size = 5 * 1024 * 1024 - 3; break;
        case 7: size = with_huge ? (4ull << 30) + 2 * g + 5 : 9 * g + 3; break;
        default:
            size = model_rand_below(&rng, 4) == 0
                       ? g * (1 + model_rand_below(&rng, 12))
                       : 1 + model_rand_below(&rng, 12 * g);
        }
        snprintf(f->name, sizeof(f->name), "f%u", i);
        {
            /* Through a local buffer: f->path and p->dir are both in *p,
             * which gcc's -Wrestrict cannot tell apart. */
            char path[sizeof(f->path)];
            snprintf(path, sizeof(path), "%s" PORT_SEP "%s", p->dir, f->name);
            memcpy(f->path, path, sizeof(path));
        }
        f->size = size;
        fd = port_open_write(f->path, 1);
        if (fd < 0)
            return fd;
        if (i == 7 && with_huge) {
            /* Sparse past 4 GiB: data at the start, around the 4 GiB mark
             * (where 32-bit offsets would wrap) and at the end. */
            err = port_set_size(fd, size);
            if (err == 0)
                err = fill_random(fd, 0, 16 * g, &rng);
            if (err == 0)
                err = fill_random(fd, (4ull << 30) - 4 * g, 6 * g, &rng);
            if (err == 0)
                err = fill_random(fd, size - 5, 5, &rng);
        } else {
            err = fill_random(fd, 0, size, &rng);
        }
        port_close(fd);
        if (err != 0) {
            port_remove_file(f->path);
            return err;
        }
        f->fd = port_open_read(f->path);
        if (f->fd < 0) {
            port_remove_file(f->path);
            return f->fd;
        }
        p->count = i + 1;
    }
    return 0;
}

void model_pool_destroy(model_pool *p)
{
    unsigned i;
    for (i = 0; i < p->count; i++) {
        port_close(p->files[i].fd);
        port_remove_file(p->files[i].path);
    }
    if (p->dir[0] != '\0')
        port_remove_dir(p->dir);
    p->count = 0;
}

/* ------------------------------------------------------- allocations */

/* Atomic: the refresh race calls into the library from two threads. */
static void count_allocation(long delta)
{
#if defined(__GNUC__) || defined(__clang__)
    __atomic_fetch_add(&model_live_allocations, delta, __ATOMIC_RELAXED);
#else
    model_live_allocations += delta;
#endif
}

static void *counting_malloc(size_t size)
{
    void *p = malloc(size);
    if (p != NULL)
        count_allocation(1);
    return p;
}

static void counting_free(void *p)
{
    if (p != NULL)
        count_allocation(-1);
    free(p);
}

/* --------------------------------------------------------- the model */

/* The message of the last finished run, kept after its run is freed. */
static char last_message[4096];

const char *model_run_message(const model_run *r)
{
    return r != NULL ? r->msg : last_message;
}

int model__op_fid(const model_run *r, uint8_t file)
{
    unsigned n = r->cfg.nfiles + r->nvfiles, k = file % n;
    return k < r->cfg.nfiles ? r->cfg.files[k]
                             : MODEL_VFILE_BASE + (int)(k - r->cfg.nfiles);
}

uint64_t model__fid_size(const model_run *r, int fid)
{
    if (MODEL_IS_VFILE(fid))
        return r->lineages[r->vfiles[fid - MODEL_VFILE_BASE].lineage].size;
    return r->pool->files[fid].size;
}

const char *model__fid_name(const model_run *r, int fid)
{
    if (MODEL_IS_VFILE(fid))
        return r->vfiles[fid - MODEL_VFILE_BASE].name;
    return r->pool->files[fid].name;
}

/* A short name of an entry for messages: the file, and the lineage of a
 * version file ("v1.3": version file 1, lineage 3). */
const char *model__entry_label(const model_run *r, int entry, char *buf,
                               size_t size)
{
    const mentry *e = &r->entries[entry];
    if (e->lineage >= 0)
        snprintf(buf, size, "%s.%d", model__fid_name(r, e->fid), e->lineage);
    else
        snprintf(buf, size, "%s", model__fid_name(r, e->fid));
    return buf;
}

static void set_peaks(model_run *r)
{
    if (r->st.mapped_bytes > r->st.peak_mapped_bytes)
        r->st.peak_mapped_bytes = r->st.mapped_bytes;
    if (r->st.regions > r->st.peak_regions)
        r->st.peak_regions = r->st.regions;
}

static void pin(model_run *r, int i)
{
    r->regions[i].pins++;
}

static void unpin(model_run *r, int i)
{
    r->regions[i].pins--;
}

/*
 * A choice point: one of n outcomes DESIGN allows (0 is the model's first
 * guess). The move being checked is replayed with r->picks[] until it ends
 * where the library did (move_both).
 */
static int choose(model_run *r, int n)
{
    int k = r->nchoices;
    if (n <= 1 || k >= MODEL_MAX_CHOICES)
        return 0;
    r->nchoices++;
    r->options[k] = (uint16_t)n;
    if (k >= r->npicks)
        r->picks[k] = 0;
    return r->picks[k] < n ? r->picks[k] : 0;
}

static void remove_region(model_run *r, int i)
{
    mregion *x = &r->regions[i];
    mentry *e = &r->entries[x->entry];
    x->live = 0;
    r->st.regions--;
    r->st.mapped_bytes -= x->size;
    r->st.unmaps++;
    if (--e->nregions == 0)
        r->st.files_mapped--;
}

static void fd_trim(model_run *r)
{
    while (r->st.open_fds > r->max_open_files) {
        int i, best = -1;
        for (i = 0; i < MODEL_MAX_ENTRIES; i++)
            if (model__closable(&r->entries[i]) &&
                (best < 0 ||
                 r->entries[i].fd_used < r->entries[best].fd_used))
                best = i;
        if (best < 0)
            return;
        r->entries[best].fd_open = 0;
        r->st.open_fds--;
        r->st.fd_closes++;
    }
}

/* A region of entry covering [lo, hi), or -1: any of them (a choice
 * point), the one cursor c holds in the library first. */
static int pick_covering(model_run *r, const mcursor *c, int entry,
                         uint64_t lo, uint64_t hi)
{
    int cand[MODEL_MAX_REGIONS], n = 0, i;
    const smmap_region *lib = c->c.region;
    for (i = 0; i < MODEL_MAX_REGIONS; i++) {
        const mregion *x = &r->regions[i];
        if (x->live && x->entry == entry && x->off <= lo &&
            hi <= x->off + x->size)
            cand[n++] = i;
    }
    if (n == 0)
        return -1;
    for (i = 1; lib != NULL && i < n; i++) {
        const mregion *x = &r->regions[cand[i]];
        if (lib->entry == r->entries[entry].core && lib->offset == x->off &&
            lib->size == x->size) {
            int first = cand[0];
            cand[0] = cand[i];
            cand[i] = first;
        }
    }
    return cand[choose(r, n)];
}

/* Whether a new window of len bytes fits both budgets now. */
static int fits(const model_run *r, uint64_t len)
{
    return r->st.mapped_bytes + len <= r->max_mapped &&
           r->st.regions < r->max_regions;
}

/*
 * Evict for a new window of len bytes at pos of entry (DESIGN: "unused
 * regions are evicted until the new region fits"). Which ones is the
 * library's choice: any set S of unused regions such that, after S, the
 * window fits or nothing unused is left, and evicting S without its
 * largest member would not have made it fit (no eviction beyond the need,
 * whatever the order). Each allowed set is an outcome of one choice point,
 * those of regions that are not in the library's trees after the call
 * first. A region still in them can have been evicted only if the move
 * mapped it again: a read going on past pos (in_read), and only a region
 * of its file that ends past pos. When no set is allowed the library
 * evicted too little, too much or a held region: the model then evicts
 * unused regions in slot order until the window fits, and the comparison
 * after the move says what differs.
 */
static void evict_for(model_run *r, uint64_t len, int entry, uint64_t pos,
                      int in_read)
{
    int cand[16], ncand = 0, ngone = 0, nunused = 0, nvalid = 0, i, k, pass;
    uint32_t valid[4096], mask, all;
    if (fits(r, len))
        return;
    /* Candidates: those gone from the library first, then those it may
     * have mapped again. */
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < MODEL_MAX_REGIONS; i++) {
            const mregion *x = &r->regions[i];
            int gone;
            if (!x->live || x->pins != 0)
                continue;
            gone = !model__lib_has_region(r, x->entry, x->off, x->size);
            nunused += pass == 0;
            if (ncand == 12 || gone != (pass == 0))
                continue;
            if (!gone && !(in_read && x->entry == entry &&
                           x->off + x->size > pos))
                continue;
            cand[ncand++] = i;
            ngone += gone;
        }
    }
    all = ncand == 0 ? 0u : (1u << ncand) - 1;
    /* Sets of the regions gone first (the high bits are the others). */
    for (pass = 0; pass < 2; pass++) {
        for (mask = all; mask != 0; mask--) {
            uint64_t bytes = 0, largest = 0;
            uint32_t count = 0, regions;
            if (((mask >> ngone) != 0) != (pass == 1))
                continue;
            for (k = 0; k < ncand; k++) {
                uint64_t size = r->regions[cand[k]].size;
                if (!(mask & (1u << k)))
                    continue;
                bytes += size;
                count++;
                if (size > largest)
                    largest = size;
            }
            regions = r->st.regions - count;
            /* Ends fitting, or with every unused region gone. */
            if (!((r->st.mapped_bytes - bytes + len <= r->max_mapped &&
                   regions < r->max_regions) ||
                  count == (uint32_t)nunused))
                continue;
            /* The last eviction was needed. */
            if (r->st.mapped_bytes - bytes + largest + len <= r->max_mapped &&
                regions + 1 < r->max_regions)
                continue;
            valid[nvalid++] = mask;
        }
    }
    if (nvalid == 0) {
        for (i = 0; i < MODEL_MAX_REGIONS && !fits(r, len); i++) {
            if (r->regions[i].live && r->regions[i].pins == 0) {
                remove_region(r, i);
                r->st.evictions++;
            }
        }
        return;
    }
    mask = valid[choose(r, nvalid)];
    for (k = 0; k < ncand; k++) {
        if (mask & (1u << k)) {
            remove_region(r, cand[k]);
            r->st.evictions++;
        }
    }
}

/* Placement of a window for [off, end) of entry, in sliding mode. */
static void place(const model_run *r, int entry, uint64_t fsize, uint64_t off,
                  uint64_t end, uint64_t *pa, uint64_t *pb)
{
    uint64_t g = r->g, first = model_align_down(off, g);
    uint64_t span = model_align_up(end, g) - first;
    uint64_t w = r->window > span ? r->window : span;
    uint64_t gap_lo = 0, gap_hi = UINT64_MAX, left_limit, a, b;
    int i;

    /* The gap around the request: the end of the regions before it (off
     * itself when one contains off), the start of the next one (end when one
     * starts inside the request). */
    for (i = 0; i < MODEL_MAX_REGIONS; i++) {
        const mregion *x = &r->regions[i];
        if (!x->live || x->entry != entry)
            continue;
        if (x->off <= off) {
            uint64_t e = x->off + x->size;
            if (e > off)
                e = off;
            if (e > gap_lo)
                gap_lo = e;
        } else if (x->off < gap_hi) {
            gap_hi = x->off;
        }
    }
    if (gap_hi < end)
        gap_hi = end;
    if (gap_hi > fsize)
        gap_hi = fsize;
    left_limit = end > w ? end - w : 0;
    if (left_limit < gap_lo)
        left_limit = gap_lo;
    a = model_align_up(left_limit, g);
    if (a > first)
        a = first;
    b = model_min64(a + w, gap_hi);
    *pa = a;
    *pb = b;
}

/*
 * Point a model cursor (with a file, off < its handle's size) at a region
 * holding [off, off + need), reusing one that covers it, else mapping a new
 * one placed for [off, off + n). A use needs all it asks for (need == n);
 * smmap_read needs one byte and places a window for what is left to copy.
 *
 * A new window of a handle whose version changed on disk is at risk
 * (model__window_risk): r->op_risk records it, and where -ESTALE is the
 * only answer allowed (RISK_MUST) a predicted success becomes -ESTALE (the
 * model's state is then taken from the library, see resync).
 */
static int model_acquire(model_run *r, mcursor *c, uint64_t off,
                         uint64_t need, uint64_t n)
{
    const mhandle *h = &r->handles[c->handle];
    int entry = h->entry, risk;
    mentry *e = &r->entries[entry];
    uint64_t fsize = h->size, end = off + n, a, b, ma, mb, len;
    int i, found;
    mregion *x;

    if (c->region >= 0) {
        x = &r->regions[c->region];
        if (x->off <= off && off + need <= x->off + x->size) {
            r->st.reuses++;
            c->cut = fsize;
            return 0;
        }
    }
    found = pick_covering(r, c, entry, off, off + need);
    if (found >= 0) {
        pin(r, found);
        if (c->region >= 0)
            unpin(r, c->region);
        c->region = found;
        c->cut = fsize;
        r->st.reuses++;
        return 0;
    }
    if (c->region >= 0)
        unpin(r, c->region);
    c->region = -1;
    risk = model__window_risk(r, c->handle);
    if (risk > r->op_risk)
        r->op_risk = risk;

    if (r->window == 0) {
        a = ma = 0;
        b = mb = fsize;
    } else {
        place(r, entry, fsize, off, end, &a, &b);
        ma = model_align_down(off, r->g);
        mb = model_min64(model_align_up(end, r->g), fsize);
    }
    len = b - a;
    evict_for(r, len, entry, off, r->in_read);
    if (r->st.regions >= r->max_regions)
        return -EMFILE;
    if (r->st.mapped_bytes + len > r->max_mapped) {
        a = ma;
        b = mb;
        len = b - a;
        if (r->hard && r->st.mapped_bytes + len > r->max_mapped)
            return -ENOMEM;
    }
    if (risk == RISK_MUST)
        return -ESTALE;
    if (!e->fd_open) {
        e->fd_open = 1;
        r->st.open_fds++;
        r->st.fd_reopens++;
    }
    e->fd_used = ++r->clock;
    fd_trim(r);

    for (i = 0; i < MODEL_MAX_REGIONS && r->regions[i].live; i++)
        ;
    if (i == MODEL_MAX_REGIONS)
        return -EMFILE; /* cannot happen: max_regions <= 8 in the configs */
    x = &r->regions[i];
    memset(x, 0, sizeof(*x));
    x->live = 1;
    x->entry = entry;
    x->off = a;
    x->size = len;
    x->pins = 1;
    if (e->nregions++ == 0)
        r->st.files_mapped++;
    r->st.regions++;
    r->st.mapped_bytes += len;
    r->st.maps++;
    set_peaks(r);
    c->region = i;
    c->cut = fsize;
    return 0;
}

/* smmap_cursor_use on the model. Returns the predicted result. */
static int model_use(model_run *r, mcursor *c, uint64_t off, uint64_t size)
{
    uint64_t fsize;
    if (c->handle < 0)
        return -EINVAL;
    fsize = r->handles[c->handle].size;
    if (off >= fsize) {
        if (c->region >= 0)
            unpin(r, c->region);
        c->region = -1;
        return -ERANGE;
    }
    size = size == 0 ? 1 : model_min64(size, fsize - off);
    return model_acquire(r, c, off, size, size);
}

static void model_release(model_run *r, mcursor *c)
{
    if (c->region >= 0)
        unpin(r, c->region);
    c->region = -1;
}

/* The visible window of a model cursor: the region cut at its handle's
 * size when it moved there (the cursor is the caller's memory: a refresh
 * of the handle does not reach it). */
void model__window(const model_run *r, const mcursor *c, uint64_t *begin,
                   uint64_t *size)
{
    const mregion *x = &r->regions[c->region];
    uint64_t end = x->off + x->size;
    if (end > c->cut)
        end = c->cut;
    *begin = x->off;
    *size = end - x->off;
}

/* ---------------------------------------------------------- run */

int model_backend;

static int refuse_map(smmap_os_fd fd, uint64_t offset, size_t len, void **out)
{
    (void)fd;
    (void)offset;
    (void)len;
    (void)out;
    return -ENODEV;
}



model_run *model_run_start(const model_pool *pool, const model_config *cfg,
                           int *err)
{
    model_run *r = calloc(1, sizeof(*r));
    int i;
    if (r == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    smmap__os.malloc = counting_malloc;
    smmap__os.free = counting_free;
    r->allocations_before = model_live_allocations;
    r->pool = pool;
    r->cfg = *cfg;
    r->g = pool->page;
    r->sys_page = port_page_size();
    r->window = cfg->opt.window_size == 0
                    ? 0
                    : model_align_up(cfg->opt.window_size, r->g);
    r->max_mapped = cfg->opt.max_mapped;
    r->max_regions = cfg->opt.max_regions;
    r->max_open_files = cfg->opt.max_open_files;
    r->hard = (cfg->opt.flags & SMMAP_HARD_LIMITS) != 0;
#ifdef SMMAP_CHECK_MTIME
    r->check_mtime = (cfg->opt.flags & SMMAP_CHECK_MTIME) != 0;
#endif
    r->bufsize = 1u << 20;
    r->buf = malloc(r->bufsize);
    r->replay_from = malloc(sizeof(*r));
    {
        smmap_options opt = cfg->opt;
#ifdef SMMAP_ALWAYS_MAP
        /* smmap_read may prefer a pread to a new window, by a moving average
         * of what evicted windows served; the model covers the windows, so
         * it asks for them always. The unit tests cover the read policy. */
        opt.flags |= SMMAP_ALWAYS_MAP;
#endif
        if (model_backend == 1)
            opt.flags |= SMMAP_NO_MMAP;
        smmap__os.map = model_backend == 2 ? refuse_map : smmap__os_default.map;
        *err = smmap_manager_new(&r->m, &opt);
    }
    if (*err == 0 && (r->buf == NULL || r->replay_from == NULL)) {
        smmap_manager_free(r->m);
        *err = -ENOMEM;
    }
    if (*err == 0) {
        *err = model__vfiles_create(r);
        if (*err != 0) {
            model__vfiles_destroy(r);
            smmap_manager_free(r->m);
        }
    }
    if (*err != 0) {
        smmap__os.map = smmap__os_default.map;
        free(r->replay_from);
        free(r->buf);
        free(r);
        return NULL;
    }
    for (i = 0; i < MODEL_CURSOR_SLOTS; i++) {
        r->cursors[i].handle = -1;
        r->cursors[i].region = -1;
        smmap_cursor_init(&r->cursors[i].c, NULL);
    }
    return r;
}

static void spell_path(const model_run *r, int fid, int spelling, char *out,
                       size_t size)
{
    /* Three spellings of one file; on Windows with both separators. */
#ifdef _WIN32
    static const char *const sep[] = {"\\", "\\.\\", "/"};
#else
    static const char *const sep[] = {"/", "/./", "//"};
#endif
    snprintf(out, size, "%s%s%s", r->pool->dir, sep[spelling % 3],
             model__fid_name(r, fid));
}

/*
 * A handle of fid was opened into the library's entry of f. Which entries
 * it may join (DESIGN, VERSIONS.md 1-2): one of the same version (the
 * same lineage of a version file; with SMMAP_CHECK_MTIME the same mtime),
 * and it must join one if there is one, unless the file was truncated
 * since that entry was made (a truncation the library saw takes the entry
 * out of its table, so a later open makes a new one, which DESIGN allows).
 */
static int model_open(model_run *r, int slot, int fid, int from_fd,
                      const char *path, smmap_file *f)
{
    mhandle *h = &r->handles[slot];
    int lineage = MODEL_IS_VFILE(fid)
                      ? r->vfiles[fid - MODEL_VFILE_BASE].lineage
                      : -1;
    const mlineage *l = lineage >= 0 ? &r->lineages[lineage] : NULL;
    int shared = model__entry_of_core(r, f->entry), must = -1, i;
    char label[40];
    mentry *e;

    for (i = 0; i < MODEL_MAX_ENTRIES; i++) {
        const mentry *x = &r->entries[i];
        if (!x->exists || x->fid != fid || x->lineage != lineage)
            continue;
        if (l != NULL && ((r->check_mtime && x->mtime_ns != l->mtime_ns) ||
                          x->truncations != l->truncations))
            continue;
        must = i;
    }
    if (l != NULL) {
        for (i = 0; i < MODEL_MAX_ENTRIES; i++) {
            const mentry *x = &r->entries[i];
            if (x->exists && x->lineage >= 0 && x->lineage != lineage &&
                r->lineages[x->lineage].ino == l->ino &&
                r->lineages[x->lineage].dev == l->dev)
                model_figures.shared_reused_inode++;
        }
    }
    if (shared >= 0) {
        const mentry *x = &r->entries[shared];
        if (x->fid != fid || x->lineage != lineage)
            FAIL(r, "open of %s (lineage %d, inode %llu) joined the entry "
                 "of %s (inode %llu), a file no longer at that path (its "
                 "inode number reused): the handles of one would read the "
                 "other's bytes", path, lineage,
                 l != NULL ? (unsigned long long)l->ino : 0ull,
                 model__entry_label(r, shared, label, sizeof(label)),
                 x->lineage >= 0
                     ? (unsigned long long)r->lineages[x->lineage].ino
                     : 0ull);
        if (l != NULL && r->check_mtime && x->mtime_ns != l->mtime_ns)
            FAIL(r, "SMMAP_CHECK_MTIME: open of %s (mtime %lld) joined the "
                 "entry opened at mtime %lld", path, (long long)l->mtime_ns,
                 (long long)x->mtime_ns);
    } else if (must >= 0) {
        FAIL(r, "open of %s made a new entry, but %s is the same version "
             "and open", path, model__entry_label(r, must, label, sizeof(label)));
    }

    h->live = 1;
    h->fid = fid;
    h->lineage = lineage;
    h->from_fd = from_fd;
    h->size = model__fid_size(r, fid);
    h->f = f;
    snprintf(h->path, sizeof(h->path), "%s", from_fd ? "" : path);
    if (shared < 0) {
        for (shared = 0; shared < MODEL_MAX_ENTRIES; shared++)
            if (!r->entries[shared].exists)
                break;
        e = &r->entries[shared];
        memset(e, 0, sizeof(*e));
        e->exists = 1;
        e->fid = fid;
        e->lineage = lineage;
        e->mtime_ns = l != NULL ? l->mtime_ns : 0;
        e->truncations = l != NULL ? l->truncations : 0;
        e->seen_bound = UINT64_MAX;
        e->core = f->entry;
        r->st.files++;
    }
    h->entry = shared;
    e = &r->entries[shared];
    if (!e->fd_open) {
        e->fd_open = 1;
        r->st.open_fds++;
    }
    e->handles++;
    if (from_fd)
        e->fd_handles++;
    else
        e->path_handles++;
    e->fd_used = ++r->clock;
    fd_trim(r);
    return 0;
}

static void model_close(model_run *r, int slot)
{
    mhandle *h = &r->handles[slot];
    mentry *e = &r->entries[h->entry];
    int was_closable = model__closable(e), i;
    e->handles--;
    if (h->from_fd)
        e->fd_handles--;
    else
        e->path_handles--;
    h->live = 0;
    if (e->handles == 0) {
        for (i = 0; i < MODEL_MAX_REGIONS; i++)
            if (r->regions[i].live && r->regions[i].entry == h->entry)
                remove_region(r, i);
        if (e->fd_open)
            r->st.open_fds--;
        r->st.files--;
        e->exists = 0;
        e->fd_open = 0;
        e->core = NULL;
        return;
    }
    if (!was_closable && model__closable(e)) {
        /* Its last descriptor-opened handle went: the descriptor joins the
         * cache as the most recently used, and the budget applies again. */
        e->fd_used = ++r->clock;
        fd_trim(r);
    }
}

static int path_has_prefix(const char *path, const char *prefix)
{
    return strncmp(path, prefix, strlen(prefix)) == 0;
}

static int entry_matches(const model_run *r, int entry, const char *prefix)
{
    int i;
    for (i = 0; i < MODEL_HANDLE_SLOTS; i++) {
        const mhandle *h = &r->handles[i];
        if (h->live && h->entry == entry && !h->from_fd &&
            path_has_prefix(h->path, prefix))
            return 1;
    }
    return 0;
}

static int model_release_path(model_run *r, const char *prefix)
{
    int f, i;
    for (f = 0; f < MODEL_MAX_ENTRIES; f++) {
        if (!r->entries[f].exists || !entry_matches(r, f, prefix))
            continue;
        for (i = 0; i < MODEL_MAX_REGIONS; i++)
            if (r->regions[i].live && r->regions[i].entry == f &&
                r->regions[i].pins > 0)
                return -EBUSY;
    }
    for (f = 0; f < MODEL_MAX_ENTRIES; f++) {
        mentry *e = &r->entries[f];
        if (!e->exists || !entry_matches(r, f, prefix))
            continue;
        for (i = 0; i < MODEL_MAX_REGIONS; i++)
            if (r->regions[i].live && r->regions[i].entry == f)
                remove_region(r, i);
        if (e->fd_open && e->fd_handles == 0) {
            e->fd_open = 0;
            r->st.open_fds--;
        }
    }
    return 0;
}

static void make_prefix(const model_run *r, int kind, int fid, char *out,
                        size_t size)
{
    switch (kind % 5) {
    case 0:
        snprintf(out, size, "%s" PORT_SEP "%s", r->pool->dir,
                 model__fid_name(r, fid));
        break;
    case 1:
        snprintf(out, size, "%s" PORT_SEP, r->pool->dir);
        break;
    case 2:
        snprintf(out, size, "%s" PORT_SEP "." PORT_SEP, r->pool->dir);
        break;
    case 3:
        snprintf(out, size, "/nonexistent-prefix/");
        break;
    default:
        out[0] = '\0';
    }
}

int model__release_path_both(model_run *r, int fid, int kind)
{
    char prefix[700];
    int err, expect;
    make_prefix(r, kind, fid, prefix, sizeof(prefix));
    err = smmap_manager_release_path(r->m, prefix);
    expect = model_release_path(r, prefix);
    if (err != expect)
        FAIL(r, "release_path(\"%s\") gave %d, the model says %d", prefix, err,
             expect);
    return 0;
}

/*
 * A cursor move to [off, off + need) of handle slot, need being len
 * clamped to the handle's size (0: 1), as smmap_cursor_use takes it and
 * smmap_cursor_use_range takes its need. When those bytes are past the
 * end on disk now (a truncation), the library may refuse the move with
 * -ESTALE even onto a region that is still mapped ("the file changed on
 * disk", smmap.h), as it does once it saw the truncation (VERSIONS.md 4
 * promises that for smmap_read only, as -EIO; a raw window past the end
 * is the caller's risk either way).
 */
static void note_move_risk(model_run *r, int slot, uint64_t off,
                           uint64_t len)
{
    const mhandle *h;
    uint64_t need;
    if (slot < 0)
        return;
    h = &r->handles[slot];
    if (h->lineage < 0 || off >= h->size)
        return;
    need = len == 0 ? 1 : model_min64(len, h->size - off);
    if (off + need > r->lineages[h->lineage].size && r->op_risk < RISK_MAY)
        r->op_risk = RISK_MAY;
}

/* ------------------------------------------------------ cursor moves */

/* The model's side of each move (use, at outside the window, use_range,
 * read): what the library should answer. Run by move_both, perhaps
 * several times, so nothing here counts figures or reads the library's
 * answer. */

static int64_t model_move_use(model_run *r, mcursor *c, const model_op *op)
{
    note_move_risk(r, c->handle, op->off, op->len);
    return model_use(r, c, op->off, op->len);
}

static int64_t model_move_at(model_run *r, mcursor *c, const model_op *op)
{
    /* smmap_cursor_use_exact: bytes past the handle's end are refused
     * before anything moves (the cursor keeps its window). */
    if (c->handle >= 0) {
        uint64_t fsize = r->handles[c->handle].size;
        if (op->off >= fsize || op->len > fsize - op->off)
            return -ERANGE;
    }
    note_move_risk(r, c->handle, op->off, op->len);
    return model_use(r, c, op->off, op->len);
}

static int64_t model_move_use_range(model_run *r, mcursor *c,
                                    const model_op *op)
{
    uint64_t fsize, avail, min, n;
    if (c->handle < 0)
        return -EINVAL;
    fsize = r->handles[c->handle].size;
    if (op->off >= fsize) {
        model_release(r, c);
        return -ERANGE;
    }
    avail = fsize - op->off;
    min = op->need == 0 ? 1 : model_min64(op->need, avail);
    n = model_min64(op->len, avail);
    if (n < min)
        n = min;
    note_move_risk(r, c->handle, op->off, op->need);
    return model_acquire(r, c, op->off, min, n);
}

/* The length a read asks for (its destination is half of buf). */
static uint64_t read_length(const model_run *r, const model_op *op)
{
    return model_min64(op->len, r->bufsize / 2);
}

static int64_t model_move_read(model_run *r, mcursor *c, const model_op *op)
{
    uint64_t off = op->off, len = read_length(r, op), fsize, total,
             done = 0;
    if (c->handle < 0 || ((op->b & 1) && len > 0))
        return -EINVAL;
    fsize = r->handles[c->handle].size;
    if (off >= fsize)
        return 0;
    total = model_min64(len, fsize - off);
    r->in_read = 1;
    while (done < total) {
        uint64_t pos = off + done, begin = 0, size = 0, chunk;
        if (c->region >= 0)
            model__window(r, c, &begin, &size);
        if (!(c->region >= 0 && pos - begin < size)) {
            /* A new window is placed for a window's worth from pos's page
             * (sliding), or what is left (static). */
            uint64_t want = total - done;
            int err;
            if (r->window != 0)
                want = r->window - pos % r->g;
            err = model_acquire(r, c, pos, 1, model_min64(want, fsize - pos));
            if (err != 0) {
                r->in_read = 0;
                return err;
            }
            model__window(r, c, &begin, &size);
        }
        chunk = model_min64(size - (pos - begin), total - done);
        done += chunk;
    }
    r->in_read = 0;
    return (int64_t)done;
}

typedef int64_t (*model_move_fn)(model_run *r, mcursor *c,
                                 const model_op *op);

/* Replays of one move beyond the first before the model stops looking for
 * the library's choices (a few at most in practice: the first guess is
 * right unless a read passed through several windows). */
#define MODEL_MAX_REPLAYS 1024

/*
 * Move the model's cursor c as the library moved it (it answered got):
 * run fn with the first guess at each choice point, and while the answer,
 * the statistics or the regions differ from the library's, replay it with
 * the next allowed outcomes (depth first over the choice points). If none
 * ends where the library did, the model is left as its first guess made
 * it, and the comparisons that follow say what differs. Returns fn's
 * answer.
 *
 * A move whose answer the versions may change (model__settle, resync)
 * is not replayed: its state is then taken from the library.
 */
static int64_t move_both(model_run *r, mcursor *c, const model_op *op,
                         int64_t got, model_move_fn fn)
{
    model_run *saved = r->replay_from;
    uint16_t picks[MODEL_MAX_CHOICES];
    uint64_t evictions = r->st.evictions;
    int npicks = 0, k, chose = 0, replays = 0;
    int64_t expect;

    memcpy(saved, r, sizeof(*r));
    for (;;) {
        r->nchoices = 0;
        r->npicks = npicks;
        if (npicks > 0)
            memcpy(r->picks, picks, (size_t)npicks * sizeof(picks[0]));
        expect = fn(r, c, op);
        chose |= r->nchoices > 0;
        if (expect == got && model__compare_stats(r) == 0 &&
            model__compare_state(r) == 0)
            break;
        for (k = r->nchoices - 1; k >= 0 && r->picks[k] + 1 >= r->options[k];
             k--)
            ;
        if (k < 0 || replays >= MODEL_MAX_REPLAYS ||
            (expect != got && r->op_risk != RISK_NONE)) {
            if (replays > 0) {
                memcpy(r, saved, sizeof(*r));
                r->nchoices = r->npicks = 0;
                expect = fn(r, c, op);
            }
            r->failed = 0;
            r->msg[0] = '\0';
            /* The right answer, but the library's evictions along the way
             * are not among those replayed (a read through dozens of
             * windows has more orders than MODEL_MAX_REPLAYS covers): its
             * state is checked against what DESIGN fixes and taken. */
            if (expect == got && chose && r->op_risk == RISK_NONE &&
                (model__compare_stats(r) != 0 ||
                 model__compare_state(r) != 0)) {
                r->failed = 0;
                r->msg[0] = '\0';
                (void)model__resync_choices(r, op->kind == OP_READ, "move");
            }
            break;
        }
        memcpy(picks, r->picks, (size_t)(k + 1) * sizeof(picks[0]));
        picks[k]++;
        npicks = k + 1;
        memcpy(r, saved, sizeof(*r));
        replays++;
    }
    model_figures.moves++;
    model_figures.chosen_moves += (uint64_t)chose;
    model_figures.replays += (uint64_t)replays;
    model_figures.evictions += r->st.evictions - evictions;
    return expect;
}

static int step_at(model_run *r, mcursor *c, const model_op *op)
{
    uint64_t off = op->off, len = op->len;
    const unsigned char *p = smmap_cursor_at(&c->c, off, (size_t)len);
    int expect_err = 0, settled;
    uint64_t begin = 0, size = 0;

    if (c->region >= 0) {
        model__window(r, c, &begin, &size);
        if (off - begin < size && len <= size - (off - begin)) {
            if (p != c->c.data + (off - begin))
                FAIL(r, "at() inside the window gave %p, expected %p",
                     (const void *)p, (const void *)(c->c.data + off - begin));
            return model__check_handle_bytes(r, c->handle, off, p, len, 1,
                                      "at() hit");
        }
    }
    expect_err = (int)move_both(r, c, op, p != NULL ? 0 : c->c.error,
                                model_move_at);
    settled = model__settle(r, c->handle, p != NULL ? 0 : c->c.error, expect_err, 0,
                     0, "at()");
    if (settled == 1)
        return 1;
    if (settled == 2)
        return 0;
    if (expect_err != 0) {
        if (p != NULL || c->c.error != expect_err)
            FAIL(r, "at() gave %p error %d, the model says NULL error %d",
                 (const void *)p, c->c.error, expect_err);
        return 0;
    }
    if (p == NULL)
        FAIL(r, "at() gave NULL error %d, the model says success",
             c->c.error);
    if (p != c->c.data + (off - c->c.begin))
        FAIL(r, "at() pointer is not data + (off - begin)");
    if (model__check_handle_bytes(r, c->handle, off, p, len, 1, "at()"))
        return 1;
    return model__check_window_edges(r, c, "at() window");
}

static int step_read(model_run *r, mcursor *c, const model_op *op)
{
    unsigned char *dst = (op->b & 1) ? NULL : r->buf + r->bufsize / 2;
    uint64_t off = op->off, len = read_length(r, op);
    int64_t got, expect;
    int eio_ok = 0, settled;
    got = smmap_read(&c->c, off, dst, (size_t)len);
    expect = move_both(r, c, op, got, model_move_read);
    if (c->handle >= 0 && !(dst == NULL && len > 0)) {
        const mhandle *h = &r->handles[c->handle];
        /* -EIO: the read reaches past the end a truncation left. */
        if (off < h->size)
            eio_ok = h->lineage >= 0 &&
                     off + model_min64(len, h->size - off) >
                         r->lineages[h->lineage].size;
        if (h->lineage >= 0)
            model_figures.version_reads++;
    }
    settled = model__settle(r, c->handle, got, expect, eio_ok, 1, "read");
    if (settled == 1)
        return 1;
    if (got < 0 && c->c.error != (int)got)
        FAIL(r, "read failed with %lld but cursor error is %d",
             (long long)got, c->c.error);
    if (settled == 2)
        return 0;
    if (got > 0) {
        const mhandle *h = &r->handles[c->handle];
        if (h->lineage >= 0 &&
            off + (uint64_t)got > r->entries[h->entry].seen_bound)
            FAIL(r, "read of [%llu, +%lld) gave a positive count past %llu, "
                 "where the library was seen to learn of a truncation",
                 (unsigned long long)off, (long long)got,
                 (unsigned long long)r->entries[h->entry].seen_bound);
        /* check_bytes reads into the first half of buf */
        if (model__check_handle_bytes(r, c->handle, off, dst, (uint64_t)got, 0,
                               "read"))
            return 1;
    }
    return 0;
}

/* The budget DESIGN states on its own: right after a single use mapped a
 * window, if an unused region is left (it could have been evicted), the
 * mapped bytes are within max_mapped. Run after the comparisons, so the
 * model's regions are the library's. */
static int check_budget_after_map(model_run *r, uint64_t maps_before)
{
    smmap_stats st;
    int i, unused = 0;
    smmap_manager_stats(r->m, &st);
    for (i = 0; i < MODEL_MAX_REGIONS; i++)
        if (r->regions[i].live && r->regions[i].pins == 0)
            unused++;
    if (model__windows_made(&st) > maps_before && unused > 0 &&
        st.mapped_bytes > r->max_mapped)
        FAIL(r, "mapped %llu bytes over max_mapped %llu while %d unused "
             "regions were left to evict", (unsigned long long)st.mapped_bytes,
             (unsigned long long)r->max_mapped, unused);
    return 0;
}

/* Whether an operation of this kind moves cursor a (resync needs to know
 * which one). */
static int moves_cursor(int kind)
{
    return kind == OP_USE || kind == OP_AT || kind == OP_READ ||
           kind == OP_USE_RANGE;
}

int model_run_step(model_run *r, const model_op *op)
{
    char path[700];
    int err, expect, settled;
    mcursor *c;
    uint64_t maps_before = r->st.maps;

    model_ops_applied++;
    r->op_risk = RISK_NONE;
    model__take_snapshot(r, moves_cursor(op->kind) ? op->a % MODEL_CURSOR_SLOTS : -1);
    switch (op->kind) {
    case OP_OPEN_PATH:
    case OP_OPEN_FD: {
        int slot = op->a % MODEL_HANDLE_SLOTS;
        mhandle *h = &r->handles[slot];
        int fid = model__op_fid(r, op->file);
        smmap_file *f = NULL;
        if (h->live)
            return 0;
        spell_path(r, fid, op->b, path, sizeof(path));
        if (op->kind == OP_OPEN_PATH) {
            err = smmap_file_open(r->m, path, &f);
        } else {
            int fd = port_open_read(path);
            if (fd < 0)
                FAIL(r, "test could not open %s: %d", path, fd);
            err = smmap_file_open_fd(r->m, fd, &f);
            port_close(fd);
        }
        if (err != 0 || f == NULL)
            FAIL(r, "open of %s gave %d", path, err);
        if (smmap_file_size(f) != model__fid_size(r, fid)) {
            uint64_t size = smmap_file_size(f);
            smmap_file_close(f);
            FAIL(r, "smmap_file_size is %llu, the file has %llu",
                 (unsigned long long)size,
                 (unsigned long long)model__fid_size(r, fid));
        }
        if (model_open(r, slot, fid, op->kind == OP_OPEN_FD, path, f)) {
            smmap_file_close(f);
            return 1;
        }
        break;
    }
    case OP_CLOSE: {
        int slot = op->a % MODEL_HANDLE_SLOTS, i;
        mhandle *h = &r->handles[slot];
        if (!h->live)
            return 0;
        for (i = 0; i < MODEL_CURSOR_SLOTS; i++) {
            c = &r->cursors[i];
            if (c->handle != slot)
                continue;
            smmap_cursor_release(&c->c);
            model_release(r, c);
            smmap_cursor_init(&c->c, NULL);
            c->handle = -1;
        }
        smmap_file_close(h->f);
        h->f = NULL;
        model_close(r, slot);
        break;
    }
    case OP_CURSOR_INIT: {
        int slot = op->b < MODEL_HANDLE_SLOTS ? op->b : -1;
        c = &r->cursors[op->a % MODEL_CURSOR_SLOTS];
        if (slot >= 0 && !r->handles[slot].live)
            slot = -1;
        smmap_cursor_release(&c->c);
        model_release(r, c);
        smmap_cursor_init(&c->c, slot >= 0 ? r->handles[slot].f : NULL);
        c->handle = slot;
        if (c->c.data != NULL || c->c.error != 0 || c->c.size != 0)
            FAIL(r, "cursor_init left data %p error %d size %zu",
                 (const void *)c->c.data, c->c.error, c->c.size);
        break;
    }
    case OP_USE:
        c = &r->cursors[op->a % MODEL_CURSOR_SLOTS];
        err = smmap_cursor_use(&c->c, op->off, (size_t)op->len);
        expect = (int)move_both(r, c, op, err, model_move_use);
        if (c->handle >= 0 && r->handles[c->handle].lineage >= 0)
            model_figures.version_reads++;
        settled = model__settle(r, c->handle, err, expect, 0, 0, "use");
        if (settled == 1)
            return 1;
        if (c->c.error != err)
            FAIL(r, "use returned %d but cursor error is %d", err,
                 c->c.error);
        if (err == 0 && settled == 0) {
            uint64_t fsize = r->handles[c->handle].size;
            uint64_t n =
                op->len == 0 ? 1 : model_min64(op->len, fsize - op->off);
            if (!smmap_cursor_includes(&c->c, op->off))
                FAIL(r, "use: the window does not include the offset");
            if (model__check_handle_bytes(r, c->handle, op->off,
                                   c->c.data + (op->off - c->c.begin), n, 1,
                                   "use"))
                return 1;
            if (model__check_window_edges(r, c, "use window"))
                return 1;
        } else if (err != 0 && c->c.data != NULL) {
            FAIL(r, "use failed but the cursor is still valid");
        }
        break;
    case OP_AT:
        c = &r->cursors[op->a % MODEL_CURSOR_SLOTS];
        if (c->handle >= 0 && r->handles[c->handle].lineage >= 0)
            model_figures.version_reads++;
        if (step_at(r, c, op))
            return 1;
        break;
    case OP_USE_RANGE: {
        uint64_t need = op->need, want = op->len;
        c = &r->cursors[op->a % MODEL_CURSOR_SLOTS];
        err = smmap_cursor_use_range(&c->c, op->off, (size_t)need,
                                     (size_t)want);
        expect = (int)move_both(r, c, op, err, model_move_use_range);
        if (c->handle >= 0) {
            /* The bytes held contiguously: need clamped to the file. */
            uint64_t fsize = r->handles[c->handle].size;
            if (r->handles[c->handle].lineage >= 0)
                model_figures.version_reads++;
            if (op->off < fsize)
                need = need == 0 ? 1 : model_min64(need, fsize - op->off);
        }
        settled = model__settle(r, c->handle, err, expect, 0, 0, "use_range");
        if (settled == 1)
            return 1;
        if (c->c.error != err)
            FAIL(r, "use_range returned %d but cursor error is %d", err,
                 c->c.error);
        if (err == 0 && settled == 0) {
            if (model__check_handle_bytes(r, c->handle, op->off,
                                   c->c.data + (op->off - c->c.begin), need,
                                   1, "use_range"))
                return 1;
            if (model__check_window_edges(r, c, "use_range window"))
                return 1;
        }
        break;
    }
    case OP_READ:
        c = &r->cursors[op->a % MODEL_CURSOR_SLOTS];
        if (step_read(r, c, op))
            return 1;
        break;
    case OP_RELEASE:
        c = &r->cursors[op->a % MODEL_CURSOR_SLOTS];
        smmap_cursor_release(&c->c);
        model_release(r, c);
        break;
    case OP_COPY: {
        mcursor *dst = &r->cursors[op->a % MODEL_CURSOR_SLOTS];
        mcursor *src = &r->cursors[op->b % MODEL_CURSOR_SLOTS];
        smmap_cursor_copy(&dst->c, &src->c);
        if (dst != src) {
            if (src->region < 0) {
                model_release(r, dst);
            } else {
                pin(r, src->region);
                if (dst->region >= 0)
                    unpin(r, dst->region);
                dst->region = src->region;
            }
            dst->handle = src->handle;
            dst->cut = src->cut;
        }
        break;
    }
    case OP_COLLECT: {
        size_t got = smmap_manager_collect(r->m), count = 0;
        int i;
        for (i = 0; i < MODEL_MAX_REGIONS; i++) {
            if (r->regions[i].live && r->regions[i].pins == 0) {
                remove_region(r, i);
                count++;
            }
        }
        if (got != count)
            FAIL(r, "collect unmapped %zu, the model says %zu", got, count);
        break;
    }
    case OP_RELEASE_PATH:
        if (model__release_path_both(r, model__op_fid(r, op->file), op->b))
            return 1;
        break;
    case OP_TOUCH:
    case OP_APPEND:
    case OP_REWRITE:
    case OP_TRUNCATE:
    case OP_REPLACE:
    case OP_REFRESH:
    case OP_REFRESH_RACE:
        if (model__version_step(r, op))
            return 1;
        break;
    case OP_STATS:
    default:
        break;
    }
    if (model__check_held(r) || model__compare_stats(r) ||
        model__compare_state(r))
        return 1;
    if (moves_cursor(op->kind) && op->kind != OP_READ)
        return check_budget_after_map(r, maps_before);
    return 0;
}

int model_run_finish(model_run *r)
{
    int i, failed = r->failed;
    smmap_stats st;
    for (i = 0; i < MODEL_CURSOR_SLOTS; i++) {
        smmap_cursor_release(&r->cursors[i].c);
        if (!failed)
            model_release(r, &r->cursors[i]);
    }
    for (i = 0; i < MODEL_HANDLE_SLOTS; i++) {
        if (!r->handles[i].live)
            continue;
        smmap_file_close(r->handles[i].f);
        if (!failed)
            model_close(r, i);
        else
            r->handles[i].live = 0;
    }
    if (!failed && model__compare_stats(r))
        failed = 1;
    smmap_manager_stats(r->m, &st);
    if (!failed && (st.regions != 0 || st.mapped_bytes != 0 || st.files != 0 ||
                    st.open_fds != 0 || st.files_mapped != 0)) {
        snprintf(r->msg, sizeof(r->msg),
                 "after closing everything: %u regions, %llu bytes, %u files, "
                 "%u descriptors left", st.regions,
                 (unsigned long long)st.mapped_bytes, st.files, st.open_fds);
        failed = 1;
    }
    smmap_manager_free(r->m);
    smmap__os.map = smmap__os_default.map;
    if (!failed && model_live_allocations != r->allocations_before) {
        snprintf(r->msg, sizeof(r->msg), "%ld allocations leaked",
                 model_live_allocations - r->allocations_before);
        failed = 1;
    }
    model__vfiles_destroy(r);
    if (failed && !r->failed) {
        r->failed = 1;
    }
    free(r->buf);
    free(r->replay_from);
    snprintf(last_message, sizeof(last_message), "%s", r->msg);
    free(r);
    return failed;
}
