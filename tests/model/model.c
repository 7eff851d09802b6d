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
 *     needed"), never past EOF. Static mode maps whole files.
 *   - reuse: a region that covers the request is reused, never duplicated;
 *     smmap_cursor_use_range reuses any region holding [off, off + need)
 *     and places a new one for [off, off + want); smmap_read reuses any
 *     window holding the next byte and places new ones for a window's worth
 *     from the next byte's page (the read policy's choice, not DESIGN's).
 *   - budgets: LRU unused regions are evicted until the new window fits
 *     max_mapped and max_regions; with everything pinned, max_regions gives
 *     -EMFILE, max_mapped maps the minimal window (the aligned request) or,
 *     with SMMAP_HARD_LIMITS, gives -ENOMEM.
 *   - the descriptor cache: at most max_open_files held; the idle path-opened
 *     descriptor used longest ago (opened or mapped from) is closed first and
 *     reopened when a window is needed; descriptor-opened files keep theirs.
 *
 * Where DESIGN leaves a choice open (several overlapping regions cover a
 * request; which one a cursor gets), the model asks the library's interval
 * tree built over the model's own regions, so both sides choose alike; the
 * tree's correctness is the unit tests' business, and a use whose choice is
 * visible (use, at) is checked against the model directly.
 */
#include "model.h"
#include "smmap_int.h"
#include "../portable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t model_ops_applied;
long model_live_allocations;

uint64_t model_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t rand_below(uint64_t *rng, uint64_t n)
{
    return n == 0 ? 0 : model_rand(rng) % n;
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
            size = rand_below(&rng, 4) == 0 ? g * (1 + rand_below(&rng, 12))
                                             : 1 + rand_below(&rng, 12 * g);
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

static void *counting_malloc(size_t size)
{
    void *p = malloc(size);
    if (p != NULL)
        model_live_allocations++;
    return p;
}

static void counting_free(void *p)
{
    if (p != NULL)
        model_live_allocations--;
    free(p);
}

/* --------------------------------------------------------- the model */

typedef struct mregion {
    int live;
    int entry; /* pool index */
    uint64_t off, size;
    uint32_t pins;
    uint64_t released; /* clock when pins last fell to 0: LRU order */
    smmap_region *shadow; /* node in the entry's shadow tree */
} mregion;

typedef struct mentry {
    int exists;
    uint32_t handles, fd_handles, path_handles;
    uint32_t nregions;
    int fd_open;
    uint64_t fd_used; /* clock of the last open or map: descriptor LRU */
    smmap_region *shadow_tree;
} mentry;

typedef struct mhandle {
    int live;
    int file; /* pool index */
    int from_fd;
    char path[700];
    smmap_file *f;
} mhandle;

typedef struct mcursor {
    int handle; /* slot, or -1 for a NULL file */
    int region; /* model region index, or -1 */
    smmap_cursor c;
} mcursor;

struct model_run {
    const model_pool *pool;
    model_config cfg;
    smmap_manager *m;
    uint64_t g, window, max_mapped;
    uint32_t max_regions, max_open_files;
    int hard;
    mregion regions[MODEL_MAX_REGIONS];
    mentry entries[MODEL_MAX_POOL];
    mhandle handles[MODEL_HANDLE_SLOTS];
    mcursor cursors[MODEL_CURSOR_SLOTS];
    smmap_stats st;
    uint64_t clock;
    int failed;
    char msg[4096];
    unsigned char *buf;
    size_t bufsize;
    long allocations_before;
};

#define FAIL(r, ...)                                                         \
    do {                                                                     \
        snprintf((r)->msg, sizeof((r)->msg), __VA_ARGS__);                   \
        (r)->failed = 1;                                                     \
        return 1;                                                            \
    } while (0)

/* The message of the last finished run, kept after its run is freed. */
static char last_message[4096];

const char *model_run_message(const model_run *r)
{
    return r != NULL ? r->msg : last_message;
}

static uint64_t align_down(uint64_t x, uint64_t g)
{
    return x - x % g;
}

static uint64_t align_up(uint64_t x, uint64_t g)
{
    return x % g == 0 ? x : x + (g - x % g);
}

static uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t file_size_of(const model_run *r, int pool_index)
{
    return r->pool->files[pool_index].size;
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
    if (--r->regions[i].pins == 0)
        r->regions[i].released = ++r->clock;
}

/* The unused region released longest ago, or -1. */
static int lru_head(const model_run *r)
{
    int i, best = -1;
    for (i = 0; i < MODEL_MAX_REGIONS; i++) {
        const mregion *x = &r->regions[i];
        if (x->live && x->pins == 0 &&
            (best < 0 || x->released < r->regions[best].released))
            best = i;
    }
    return best;
}

static void remove_region(model_run *r, int i)
{
    mregion *x = &r->regions[i];
    mentry *e = &r->entries[x->entry];
    smmap__tree_remove(&e->shadow_tree, x->shadow);
    free(x->shadow);
    x->shadow = NULL;
    x->live = 0;
    r->st.regions--;
    r->st.mapped_bytes -= x->size;
    r->st.unmaps++;
    if (--e->nregions == 0)
        r->st.files_mapped--;
}

static int closable(const mentry *e)
{
    return e->exists && e->fd_open && e->fd_handles == 0 &&
           e->path_handles > 0;
}

static void fd_trim(model_run *r)
{
    while (r->st.open_fds > r->max_open_files) {
        int i, best = -1;
        for (i = 0; i < MODEL_MAX_POOL; i++)
            if (closable(&r->entries[i]) &&
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

/* The region of the entry the library's tree would pick among those that
 * cover [lo, hi), or -1. */
static int find_covering(model_run *r, int entry, uint64_t lo, uint64_t hi)
{
    smmap_region *n = smmap__tree_find_covering(r->entries[entry].shadow_tree,
                                                lo, hi);
    int i;
    if (n == NULL)
        return -1;
    for (i = 0; i < MODEL_MAX_REGIONS; i++)
        if (r->regions[i].live && r->regions[i].shadow == n)
            return i;
    return -1;
}

/* Placement of a window for [off, end) of entry, in sliding mode. */
static void place(const model_run *r, int entry, uint64_t fsize, uint64_t off,
                  uint64_t end, uint64_t *pa, uint64_t *pb)
{
    uint64_t g = r->g, first = align_down(off, g);
    uint64_t span = align_up(end, g) - first;
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
    a = align_up(left_limit, g);
    if (a > first)
        a = first;
    b = min64(a + w, gap_hi);
    *pa = a;
    *pb = b;
}

/*
 * Point a model cursor (with a file, off < size) at a region holding
 * [off, off + need), reusing one that covers it, else mapping a new one
 * placed for [off, off + n). A use needs all it asks for (need == n);
 * smmap_read needs one byte and places a window for what is left to copy.
 */
static int model_acquire(model_run *r, mcursor *c, uint64_t off,
                         uint64_t need, uint64_t n)
{
    int entry = r->handles[c->handle].file;
    mentry *e = &r->entries[entry];
    uint64_t fsize = file_size_of(r, entry), end = off + n, a, b, ma, mb,
             len;
    int i, found;
    mregion *x;

    if (c->region >= 0) {
        x = &r->regions[c->region];
        if (x->off <= off && off + need <= x->off + x->size) {
            r->st.reuses++;
            return 0;
        }
    }
    found = find_covering(r, entry, off, off + need);
    if (found >= 0) {
        pin(r, found);
        if (c->region >= 0)
            unpin(r, c->region);
        c->region = found;
        r->st.reuses++;
        return 0;
    }
    if (c->region >= 0)
        unpin(r, c->region);
    c->region = -1;

    if (r->window == 0) {
        a = ma = 0;
        b = mb = fsize;
    } else {
        place(r, entry, fsize, off, end, &a, &b);
        ma = align_down(off, r->g);
        mb = min64(align_up(end, r->g), fsize);
    }
    len = b - a;
    for (;;) {
        int victim;
        if (r->st.mapped_bytes + len <= r->max_mapped &&
            r->st.regions < r->max_regions)
            break;
        victim = lru_head(r);
        if (victim < 0)
            break;
        remove_region(r, victim);
        r->st.evictions++;
    }
    if (r->st.regions >= r->max_regions)
        return -EMFILE;
    if (r->st.mapped_bytes + len > r->max_mapped) {
        a = ma;
        b = mb;
        len = b - a;
        if (r->hard && r->st.mapped_bytes + len > r->max_mapped)
            return -ENOMEM;
    }
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
    x->shadow = calloc(1, sizeof(*x->shadow));
    x->shadow->offset = a;
    x->shadow->size = (size_t)len;
    smmap__tree_insert(&e->shadow_tree, x->shadow);
    if (e->nregions++ == 0)
        r->st.files_mapped++;
    r->st.regions++;
    r->st.mapped_bytes += len;
    r->st.maps++;
    set_peaks(r);
    c->region = i;
    return 0;
}

/* smmap_cursor_use on the model. Returns the predicted result. */
static int model_use(model_run *r, mcursor *c, uint64_t off, uint64_t size)
{
    uint64_t fsize;
    if (c->handle < 0)
        return -EINVAL;
    fsize = file_size_of(r, r->handles[c->handle].file);
    if (off >= fsize) {
        if (c->region >= 0)
            unpin(r, c->region);
        c->region = -1;
        return -ERANGE;
    }
    size = size == 0 ? 1 : min64(size, fsize - off);
    return model_acquire(r, c, off, size, size);
}

static void model_release(model_run *r, mcursor *c)
{
    if (c->region >= 0)
        unpin(r, c->region);
    c->region = -1;
}

/* The visible window of a model cursor: the region cut at the file size. */
static void model_window(const model_run *r, const mcursor *c,
                         uint64_t *begin, uint64_t *size)
{
    const mregion *x = &r->regions[c->region];
    uint64_t end = x->off + x->size,
             fsize = file_size_of(r, r->handles[c->handle].file);
    if (end > fsize)
        end = fsize;
    *begin = x->off;
    *size = end - x->off;
}

/* ----------------------------------------------------------- checks */

static int check_bytes(model_run *r, int pool_index, uint64_t off,
                       const unsigned char *p, uint64_t len, const char *what)
{
    /* Compare the first and the last 64 KiB: enough for every window and
     * read the generator makes, bounded for the oversized ones. */
    const uint64_t cap = 65536;
    uint64_t spans[2][2] = {{off, min64(len, cap)}, {0, 0}};
    int s;
    if (len > cap)
        spans[1][0] = off + len - cap, spans[1][1] = cap;
    for (s = 0; s < 2; s++) {
        uint64_t at = spans[s][0], n = spans[s][1];
        int64_t got;
        if (n == 0)
            continue;
        got = port_pread(r->pool->files[pool_index].fd, r->buf, (size_t)n,
                         at);
        if (got != (int64_t)n)
            FAIL(r, "%s: pread of f%d [%llu, +%llu) gave %lld", what,
                 pool_index, (unsigned long long)at, (unsigned long long)n,
                 (long long)got);
        if (memcmp(r->buf, p + (at - off), (size_t)n) != 0) {
            uint64_t k = 0;
            while (r->buf[k] == p[at - off + k])
                k++;
            FAIL(r, "%s: byte at offset %llu of f%d is 0x%02x, pread says "
                 "0x%02x", what, (unsigned long long)(at + k), pool_index,
                 p[at - off + k], r->buf[k]);
        }
    }
    return 0;
}

#define CMP_STAT(field)                                                      \
    if ((uint64_t)got.field != (uint64_t)r->st.field)                        \
    FAIL(r, "stats." #field " is %llu, the model says %llu",                 \
         (unsigned long long)got.field, (unsigned long long)r->st.field)

int model_backend;

static int refuse_map(smmap_os_fd fd, uint64_t offset, size_t len, void **out)
{
    (void)fd;
    (void)offset;
    (void)len;
    (void)out;
    return -ENODEV;
}

/* Windows made, whichever way the backend makes them. */
static uint64_t windows_made(const smmap_stats *s)
{
    return s->maps + s->read_windows;
}

static int compare_stats(model_run *r)
{
    smmap_stats got;
    smmap_manager_stats(r->m, &got);
    if (model_backend != 0) {
        /* Heap windows: nothing is mapped or unmapped; each window the
         * model maps is one filled by pread. */
        if (got.maps != 0 || got.unmaps != 0)
            FAIL(r, "read backend: stats.maps %llu, unmaps %llu (want 0)",
                 (unsigned long long)got.maps,
                 (unsigned long long)got.unmaps);
        if (got.read_windows != r->st.maps)
            FAIL(r, "stats.read_windows is %llu, the model made %llu windows",
                 (unsigned long long)got.read_windows,
                 (unsigned long long)r->st.maps);
        got.maps = r->st.maps;
        got.unmaps = r->st.unmaps;
    }
    CMP_STAT(regions);
    CMP_STAT(mapped_bytes);
    CMP_STAT(files);
    CMP_STAT(files_mapped);
    CMP_STAT(open_fds);
    CMP_STAT(maps);
    CMP_STAT(unmaps);
    CMP_STAT(evictions);
    CMP_STAT(reuses);
    CMP_STAT(retries);
    CMP_STAT(fd_closes);
    CMP_STAT(fd_reopens);
    CMP_STAT(peak_mapped_bytes);
    CMP_STAT(peak_regions);
    return 0;
}

static smmap_entry *core_entry(model_run *r, int pool_index)
{
    int i;
    for (i = 0; i < MODEL_HANDLE_SLOTS; i++)
        if (r->handles[i].live && r->handles[i].file == pool_index)
            return r->handles[i].f->entry;
    return NULL;
}

typedef struct region_view {
    uint64_t off, size;
    uint32_t pins;
    int entry;
} region_view;

static int view_cmp(const void *pa, const void *pb)
{
    const region_view *a = pa, *b = pb;
    if (a->entry != b->entry)
        return a->entry < b->entry ? -1 : 1;
    if (a->off != b->off)
        return a->off < b->off ? -1 : 1;
    if (a->size != b->size)
        return a->size < b->size ? -1 : 1;
    return 0;
}

typedef struct lru_view {
    uint64_t released;
    region_view view;
} lru_view;

static int lru_cmp(const void *pa, const void *pb)
{
    const lru_view *a = pa, *b = pb;
    return a->released < b->released ? -1 : a->released > b->released;
}

static void collect_tree(const smmap_region *n, int entry, region_view *out,
                         int *count)
{
    if (n == NULL || *count >= 4 * MODEL_MAX_REGIONS)
        return;
    collect_tree(n->left, entry, out, count);
    if (*count < 4 * MODEL_MAX_REGIONS) {
        out[*count].off = n->offset;
        out[*count].size = n->size;
        out[*count].pins = n->pins;
        out[*count].entry = entry;
        (*count)++;
    }
    collect_tree(n->right, entry, out, count);
}

static int pool_index_of_entry(model_run *r, const smmap_entry *ce)
{
    int i;
    for (i = 0; i < MODEL_HANDLE_SLOTS; i++)
        if (r->handles[i].live && r->handles[i].f->entry == ce)
            return r->handles[i].file;
    return -1;
}

static void describe_regions(model_run *r, const region_view *v, int n,
                             char *out, size_t size)
{
    size_t used = 0;
    int i;
    out[0] = '\0';
    for (i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(out + used, size - used,
                                 " f%d[%llu,+%llu)p%u", v[i].entry,
                                 (unsigned long long)v[i].off,
                                 (unsigned long long)v[i].size, v[i].pins);
    (void)r;
}

/* Regions (per file, with pins), the LRU order, descriptors, cursors. */
static int compare_state(model_run *r)
{
    region_view core[4 * MODEL_MAX_REGIONS], model[MODEL_MAX_REGIONS];
    lru_view lru[MODEL_MAX_REGIONS];
    int ncore = 0, nmodel = 0, i, k;
    char a[1024], b[1024];
    const smmap_region *lr;
    uint32_t nonclosable = 0;

    for (i = 0; i < MODEL_MAX_POOL; i++) {
        smmap_entry *ce;
        if (!r->entries[i].exists)
            continue;
        ce = core_entry(r, i);
        if (ce == NULL)
            FAIL(r, "model entry f%d has no handle", i);
        collect_tree(ce->tree, i, core, &ncore);
        if ((ce->fd != SMMAP_OS_NO_FD) != r->entries[i].fd_open)
            FAIL(r, "f%d descriptor is %s, the model says %s", i,
                 ce->fd != SMMAP_OS_NO_FD ? "open" : "closed",
                 r->entries[i].fd_open ? "open" : "closed");
        if (r->entries[i].fd_open && !closable(&r->entries[i]))
            nonclosable++;
    }
    for (i = 0; i < MODEL_MAX_REGIONS; i++) {
        const mregion *x = &r->regions[i];
        if (!x->live)
            continue;
        model[nmodel].off = x->off;
        model[nmodel].size = x->size;
        model[nmodel].pins = x->pins;
        model[nmodel].entry = x->entry;
        nmodel++;
    }
    qsort(core, (size_t)ncore, sizeof(core[0]), view_cmp);
    qsort(model, (size_t)nmodel, sizeof(model[0]), view_cmp);
    for (k = 0; k < ncore || k < nmodel; k++) {
        if (k >= ncore || k >= nmodel || view_cmp(&core[k], &model[k]) != 0 ||
            core[k].pins != model[k].pins) {
            describe_regions(r, core, ncore, a, sizeof(a));
            describe_regions(r, model, nmodel, b, sizeof(b));
            FAIL(r, "regions differ:\n    library:%s\n    model:  %s", a, b);
        }
    }
    /* The unused LRU, head (evicted first) to tail. */
    nmodel = 0;
    for (i = 0; i < MODEL_MAX_REGIONS; i++) {
        const mregion *x = &r->regions[i];
        if (!x->live || x->pins != 0)
            continue;
        lru[nmodel].released = x->released;
        lru[nmodel].view.off = x->off;
        lru[nmodel].view.size = x->size;
        lru[nmodel].view.entry = x->entry;
        lru[nmodel].view.pins = 0;
        nmodel++;
    }
    qsort(lru, (size_t)nmodel, sizeof(lru[0]), lru_cmp);
    for (i = 0; i < nmodel; i++)
        model[i] = lru[i].view;
    ncore = 0;
    for (lr = r->m->lru_head; lr != NULL && ncore < 4 * MODEL_MAX_REGIONS;
         lr = lr->lru_next) {
        core[ncore].off = lr->offset;
        core[ncore].size = lr->size;
        core[ncore].entry = pool_index_of_entry(r, lr->entry);
        core[ncore].pins = lr->pins;
        ncore++;
    }
    for (k = 0; k < ncore || k < nmodel; k++) {
        if (k >= ncore || k >= nmodel || core[k].entry != model[k].entry ||
            core[k].off != model[k].off || core[k].size != model[k].size ||
            core[k].pins != 0) {
            describe_regions(r, core, ncore, a, sizeof(a));
            describe_regions(r, model, nmodel, b, sizeof(b));
            FAIL(r, "LRU order (head first) differs:\n    library:%s\n    "
                 "model:  %s", a, b);
        }
    }
    /* Budgets that hold whatever the model says. */
    if (r->st.regions > r->max_regions)
        FAIL(r, "%u regions over max_regions %u", r->st.regions,
             r->max_regions);
    if (r->st.open_fds > r->max_open_files && r->st.open_fds > nonclosable)
        FAIL(r, "%u descriptors open, budget %u, only %u not closable",
             r->st.open_fds, r->max_open_files, nonclosable);
    /* Cursors. */
    for (i = 0; i < MODEL_CURSOR_SLOTS; i++) {
        mcursor *c = &r->cursors[i];
        if (c->region < 0) {
            if (c->c.data != NULL || c->c.region != NULL)
                FAIL(r, "cursor %d holds a window, the model says none", i);
        } else {
            uint64_t begin, size;
            const mregion *x = &r->regions[c->region];
            model_window(r, c, &begin, &size);
            if (c->c.region == NULL || c->c.data == NULL)
                FAIL(r, "cursor %d holds nothing, the model says [%llu,+%llu)",
                     i, (unsigned long long)x->off,
                     (unsigned long long)x->size);
            if (c->c.region->offset != x->off || c->c.region->size != x->size)
                FAIL(r, "cursor %d holds region [%llu,+%llu), the model says "
                     "[%llu,+%llu)", i,
                     (unsigned long long)c->c.region->offset,
                     (unsigned long long)c->c.region->size,
                     (unsigned long long)x->off, (unsigned long long)x->size);
            if (c->c.begin != begin || c->c.size != size ||
                c->c.data != c->c.region->base)
                FAIL(r, "cursor %d shows [%llu,+%llu), the model says "
                     "[%llu,+%llu)", i, (unsigned long long)c->c.begin,
                     (unsigned long long)c->c.size, (unsigned long long)begin,
                     (unsigned long long)size);
        }
    }
    return 0;
}

/* The first and last byte of a cursor's window. */
static int check_window_edges(model_run *r, mcursor *c, const char *what)
{
    int file;
    if (c->region < 0 || c->c.size == 0)
        return 0;
    file = r->handles[c->handle].file;
    if (check_bytes(r, file, c->c.begin, c->c.data, 1, what))
        return 1;
    return check_bytes(r, file, c->c.begin + c->c.size - 1,
                       c->c.data + c->c.size - 1, 1, what);
}

/* ---------------------------------------------------------- run */

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
    r->window = cfg->opt.window_size == 0
                    ? 0
                    : align_up(cfg->opt.window_size, r->g);
    r->max_mapped = cfg->opt.max_mapped;
    r->max_regions = cfg->opt.max_regions;
    r->max_open_files = cfg->opt.max_open_files;
    r->hard = (cfg->opt.flags & SMMAP_HARD_LIMITS) != 0;
    r->bufsize = 1u << 20;
    r->buf = malloc(r->bufsize);
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
    if (*err != 0 || r->buf == NULL) {
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

static void spell_path(const model_run *r, int file, int spelling, char *out,
                       size_t size)
{
    const model_pool_file *pf = &r->pool->files[file];
    /* Three spellings of one file; on Windows with both separators. */
#ifdef _WIN32
    static const char *const sep[] = {"\\", "\\.\\", "/"};
#else
    static const char *const sep[] = {"/", "/./", "//"};
#endif
    snprintf(out, size, "%s%s%s", r->pool->dir, sep[spelling % 3], pf->name);
}

static void model_open(model_run *r, int slot, int file, int from_fd,
                       const char *path)
{
    mentry *e = &r->entries[file];
    mhandle *h = &r->handles[slot];
    h->live = 1;
    h->file = file;
    h->from_fd = from_fd;
    snprintf(h->path, sizeof(h->path), "%s", from_fd ? "" : path);
    if (!e->exists) {
        memset(e, 0, sizeof(*e));
        e->exists = 1;
        r->st.files++;
    }
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
}

static void model_close(model_run *r, int slot)
{
    mhandle *h = &r->handles[slot];
    mentry *e = &r->entries[h->file];
    int was_closable = closable(e), i;
    e->handles--;
    if (h->from_fd)
        e->fd_handles--;
    else
        e->path_handles--;
    h->live = 0;
    if (e->handles == 0) {
        for (i = 0; i < MODEL_MAX_REGIONS; i++)
            if (r->regions[i].live && r->regions[i].entry == h->file)
                remove_region(r, i);
        if (e->fd_open)
            r->st.open_fds--;
        r->st.files--;
        e->exists = 0;
        e->fd_open = 0;
        return;
    }
    if (!was_closable && closable(e)) {
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

static int entry_matches(const model_run *r, int file, const char *prefix)
{
    int i;
    for (i = 0; i < MODEL_HANDLE_SLOTS; i++) {
        const mhandle *h = &r->handles[i];
        if (h->live && h->file == file && !h->from_fd &&
            path_has_prefix(h->path, prefix))
            return 1;
    }
    return 0;
}

static int model_release_path(model_run *r, const char *prefix)
{
    int f, i;
    for (f = 0; f < MODEL_MAX_POOL; f++) {
        if (!r->entries[f].exists || !entry_matches(r, f, prefix))
            continue;
        for (i = 0; i < MODEL_MAX_REGIONS; i++)
            if (r->regions[i].live && r->regions[i].entry == f &&
                r->regions[i].pins > 0)
                return -EBUSY;
    }
    for (f = 0; f < MODEL_MAX_POOL; f++) {
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

static void make_prefix(const model_run *r, int kind, int file, char *out,
                        size_t size)
{
    switch (kind % 5) {
    case 0:
        snprintf(out, size, "%s" PORT_SEP "%s", r->pool->dir,
                 r->pool->files[file].name);
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

static int step_at(model_run *r, mcursor *c, uint64_t off, uint64_t len)
{
    const unsigned char *p = smmap_cursor_at(&c->c, off, (size_t)len);
    int expect_err = 0;
    uint64_t begin = 0, size = 0, fsize;

    if (c->region >= 0) {
        model_window(r, c, &begin, &size);
        if (off - begin < size && len <= size - (off - begin)) {
            if (p != c->c.data + (off - begin))
                FAIL(r, "at() inside the window gave %p, expected %p",
                     (const void *)p, (const void *)(c->c.data + off - begin));
            return check_bytes(r, r->handles[c->handle].file, off, p, len,
                               "at() hit");
        }
    }
    expect_err = model_use(r, c, off, len);
    if (expect_err == 0) {
        fsize = file_size_of(r, r->handles[c->handle].file);
        if (len > fsize - off)
            expect_err = -ERANGE;
    }
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
    if (check_bytes(r, r->handles[c->handle].file, off, p, len, "at()"))
        return 1;
    return check_window_edges(r, c, "at() window");
}

static int step_read(model_run *r, mcursor *c, uint64_t off, uint64_t len,
                     int null_dst)
{
    void *dst = null_dst ? NULL : r->buf + r->bufsize / 2;
    int64_t got, expect;
    if (len > r->bufsize / 2)
        len = r->bufsize / 2;
    got = smmap_read(&c->c, off, dst, (size_t)len);
    if (c->handle < 0 || (null_dst && len > 0)) {
        expect = -EINVAL;
    } else {
        uint64_t fsize = file_size_of(r, r->handles[c->handle].file);
        uint64_t total, done = 0;
        expect = 0;
        if (off < fsize) {
            total = min64(len, fsize - off);
            while (done < total) {
                uint64_t pos = off + done, begin = 0, size = 0, chunk;
                if (c->region >= 0)
                    model_window(r, c, &begin, &size);
                if (!(c->region >= 0 && pos - begin < size)) {
                    /* A new window is placed for a window's worth from
                     * pos's page (sliding), or what is left (static). */
                    uint64_t want = total - done;
                    int err;
                    if (r->window != 0)
                        want = r->window - pos % r->g;
                    err = model_acquire(r, c, pos, 1,
                                        min64(want, fsize - pos));
                    if (err != 0) {
                        expect = err;
                        break;
                    }
                    model_window(r, c, &begin, &size);
                }
                chunk = min64(size - (pos - begin), total - done);
                done += chunk;
            }
            if (expect == 0)
                expect = (int64_t)done;
        }
    }
    if (got != expect)
        FAIL(r, "read gave %lld, the model says %lld", (long long)got,
             (long long)expect);
    if (got > 0) {
        /* check_bytes reads into the first half of buf */
        if (check_bytes(r, r->handles[c->handle].file, off, dst,
                        (uint64_t)got, "read"))
            return 1;
    }
    if (got < 0 && c->c.error != (int)got)
        FAIL(r, "read failed with %lld but cursor error is %d",
             (long long)got, c->c.error);
    return 0;
}

/* The budget DESIGN states without the model: right after a single use
 * mapped a window, if any unused region is left (it could have been
 * evicted), the mapped bytes are within max_mapped. */
static int check_budget_after_map(model_run *r, uint64_t maps_before)
{
    smmap_stats st;
    smmap_manager_stats(r->m, &st);
    if (windows_made(&st) > maps_before && r->m->lru_head != NULL &&
        st.mapped_bytes > r->max_mapped)
        FAIL(r, "mapped %llu bytes over max_mapped %llu while an unused "
             "region was left to evict", (unsigned long long)st.mapped_bytes,
             (unsigned long long)r->max_mapped);
    return 0;
}

int model_run_step(model_run *r, const model_op *op)
{
    char path[700];
    int err, expect;
    mcursor *c;
    uint64_t maps_before = r->st.maps;

    model_ops_applied++;
    switch (op->kind) {
    case OP_OPEN_PATH:
    case OP_OPEN_FD: {
        mhandle *h = &r->handles[op->a % MODEL_HANDLE_SLOTS];
        int file = r->cfg.files[op->file % r->cfg.nfiles];
        smmap_file *f = NULL;
        if (h->live)
            return 0;
        spell_path(r, file, op->b, path, sizeof(path));
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
        if (smmap_file_size(f) != file_size_of(r, file))
            FAIL(r, "smmap_file_size is %llu, the file has %llu",
                 (unsigned long long)smmap_file_size(f),
                 (unsigned long long)file_size_of(r, file));
        model_open(r, op->a % MODEL_HANDLE_SLOTS, file,
                   op->kind == OP_OPEN_FD, path);
        h->f = f;
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
        expect = model_use(r, c, op->off, op->len);
        if (err != expect)
            FAIL(r, "use gave %d, the model says %d", err, expect);
        if (c->c.error != err)
            FAIL(r, "use returned %d but cursor error is %d", err,
                 c->c.error);
        if (err == 0) {
            uint64_t fsize = file_size_of(r, r->handles[c->handle].file);
            uint64_t n = op->len == 0 ? 1 : min64(op->len, fsize - op->off);
            if (!smmap_cursor_includes(&c->c, op->off))
                FAIL(r, "use: the window does not include the offset");
            if (check_bytes(r, r->handles[c->handle].file, op->off,
                            c->c.data + (op->off - c->c.begin), n, "use"))
                return 1;
            if (check_window_edges(r, c, "use window"))
                return 1;
        } else if (c->c.data != NULL) {
            FAIL(r, "use failed but the cursor is still valid");
        }
        break;
    case OP_AT:
        c = &r->cursors[op->a % MODEL_CURSOR_SLOTS];
        if (step_at(r, c, op->off, op->len))
            return 1;
        break;
    case OP_USE_RANGE: {
        uint64_t need = op->need, want = op->len;
        c = &r->cursors[op->a % MODEL_CURSOR_SLOTS];
        err = smmap_cursor_use_range(&c->c, op->off, (size_t)need,
                                     (size_t)want);
        if (c->handle < 0) {
            expect = -EINVAL;
        } else {
            uint64_t fsize = file_size_of(r, r->handles[c->handle].file);
            if (op->off >= fsize) {
                model_release(r, c);
                expect = -ERANGE;
            } else {
                uint64_t avail = fsize - op->off;
                uint64_t min = need == 0 ? 1 : min64(need, avail);
                uint64_t n = min64(want, avail);
                if (n < min)
                    n = min;
                expect = model_acquire(r, c, op->off, min, n);
                need = min;
            }
        }
        if (err != expect)
            FAIL(r, "use_range gave %d, the model says %d", err, expect);
        if (c->c.error != err)
            FAIL(r, "use_range returned %d but cursor error is %d", err,
                 c->c.error);
        if (err == 0) {
            if (check_bytes(r, r->handles[c->handle].file, op->off,
                            c->c.data + (op->off - c->c.begin), need,
                            "use_range"))
                return 1;
            if (check_window_edges(r, c, "use_range window"))
                return 1;
        }
        break;
    }
    case OP_READ:
        c = &r->cursors[op->a % MODEL_CURSOR_SLOTS];
        if (step_read(r, c, op->off, op->len, op->b & 1))
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
        }
        break;
    }
    case OP_COLLECT: {
        size_t got = smmap_manager_collect(r->m), count = 0;
        int victim;
        while ((victim = lru_head(r)) >= 0) {
            remove_region(r, victim);
            count++;
        }
        if (got != count)
            FAIL(r, "collect unmapped %zu, the model says %zu", got, count);
        break;
    }
    case OP_RELEASE_PATH: {
        char prefix[700];
        make_prefix(r, op->b, r->cfg.files[op->file % r->cfg.nfiles], prefix,
                    sizeof(prefix));
        err = smmap_manager_release_path(r->m, prefix);
        expect = model_release_path(r, prefix);
        if (err != expect)
            FAIL(r, "release_path(\"%s\") gave %d, the model says %d", prefix,
                 err, expect);
        break;
    }
    case OP_STATS:
    default:
        break;
    }
    if ((op->kind == OP_USE || op->kind == OP_AT ||
         op->kind == OP_USE_RANGE) &&
        check_budget_after_map(r, maps_before))
        return 1;
    if (compare_stats(r))
        return 1;
    return compare_state(r);
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
    if (!failed && compare_stats(r))
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
    for (i = 0; i < MODEL_MAX_REGIONS; i++)
        free(r->regions[i].shadow);
    if (failed && !r->failed) {
        r->failed = 1;
    }
    free(r->buf);
    snprintf(last_message, sizeof(last_message), "%s", r->msg);
    free(r);
    return failed;
}

/* ------------------------------------------------------- generation */

static const struct {
    int kind, weight;
} weights[] = {
    {OP_OPEN_PATH, 8}, {OP_OPEN_FD, 3},  {OP_CLOSE, 4},   {OP_CURSOR_INIT, 6},
    {OP_USE, 26},      {OP_AT, 18},      {OP_READ, 12},   {OP_RELEASE, 8},
    {OP_COPY, 5},      {OP_COLLECT, 2},  {OP_RELEASE_PATH, 3}, {OP_STATS, 1},
    {OP_USE_RANGE, 10},
};

static uint64_t pick_offset(const model_run *r, uint64_t *rng, int file,
                            const mcursor *c)
{
    uint64_t fsize = file < 0 ? 0 : file_size_of(r, file), g = r->g;
    uint64_t x = rand_below(rng, 100), base;
    if (x < 20)
        return rand_below(rng, fsize);
    if (x < 35 && file >= 0) {
        int i, n = 0, pick;
        for (i = 0; i < MODEL_MAX_REGIONS; i++)
            if (r->regions[i].live && r->regions[i].entry == file)
                n++;
        if (n > 0) {
            pick = (int)rand_below(rng, (uint64_t)n);
            for (i = 0; i < MODEL_MAX_REGIONS; i++) {
                const mregion *y = &r->regions[i];
                if (!y->live || y->entry != file || pick-- != 0)
                    continue;
                base = rand_below(rng, 2) ? y->off : y->off + y->size;
                return base + rand_below(rng, 3) - 1;
            }
        }
    }
    if (x < 50)
        return g * rand_below(rng, fsize / g + 2) + rand_below(rng, 3) - 1;
    if (x < 58)
        return 0;
    if (x < 66)
        return fsize - 1;
    if (x < 70) {
        static const uint64_t past[] = {0, 1, 4096};
        if (rand_below(rng, 4) == 0)
            return UINT64_MAX - rand_below(rng, 3);
        return fsize + past[rand_below(rng, 3)];
    }
    if (x < 80 && c != NULL && c->c.data != NULL)
        return c->c.begin + c->c.size - rand_below(rng, 2);
    if (x < 88 && fsize > (4ull << 30))
        return (4ull << 30) - 2 * g + rand_below(rng, 4 * g);
    return rand_below(rng, 8 * g);
}

static uint64_t pick_length(const model_run *r, uint64_t *rng, int for_read)
{
    uint64_t w = r->window ? r->window : 4 * r->g, x = rand_below(rng, 100);
    if (x < 12)
        return 0;
    if (x < 25)
        return 1;
    if (x < 55)
        return 1 + rand_below(rng, 2 * w + r->g);
    if (x < 65)
        return w;
    if (x < 70)
        return w + 1;
    if (x < 85)
        return 1 + rand_below(rng, r->g);
    if (x < 87 && !for_read)
        return rand_below(rng, 2) ? SIZE_MAX : (uint64_t)SIZE_MAX - 1;
    return 1 + rand_below(rng, 5 * w);
}

void model_generate(const model_run *r, uint64_t *rng, model_op *op)
{
    int total = 0, i, live = 0, pick;
    memset(op, 0, sizeof(*op));
    for (i = 0; i < MODEL_HANDLE_SLOTS; i++)
        live += r->handles[i].live;
    for (i = 0; i < (int)(sizeof(weights) / sizeof(weights[0])); i++)
        total += weights[i].weight;
    pick = (int)rand_below(rng, (uint64_t)total);
    for (i = 0; pick >= weights[i].weight; i++)
        pick -= weights[i].weight;
    op->kind = (uint8_t)weights[i].kind;
    if (live == 0 && rand_below(rng, 4) != 0)
        op->kind = rand_below(rng, 4) ? OP_OPEN_PATH : OP_OPEN_FD;
    switch (op->kind) {
    case OP_OPEN_PATH:
    case OP_OPEN_FD:
        if (live == MODEL_HANDLE_SLOTS) {
            op->kind = OP_CLOSE;
            op->a = (uint8_t)rand_below(rng, MODEL_HANDLE_SLOTS);
            break;
        }
        do
            op->a = (uint8_t)rand_below(rng, MODEL_HANDLE_SLOTS);
        while (r->handles[op->a].live);
        op->b = (uint8_t)rand_below(rng, 3);
        op->file = (uint8_t)rand_below(rng, r->cfg.nfiles);
        break;
    case OP_CLOSE:
        op->a = (uint8_t)rand_below(rng, MODEL_HANDLE_SLOTS);
        break;
    case OP_CURSOR_INIT:
        op->a = (uint8_t)rand_below(rng, MODEL_CURSOR_SLOTS);
        op->b = (uint8_t)rand_below(rng, MODEL_HANDLE_SLOTS + 1);
        if (op->b < MODEL_HANDLE_SLOTS && !r->handles[op->b].live &&
            live > 0 && rand_below(rng, 8) != 0) {
            do
                op->b = (uint8_t)rand_below(rng, MODEL_HANDLE_SLOTS);
            while (!r->handles[op->b].live);
        }
        break;
    case OP_USE:
    case OP_AT:
    case OP_READ:
    case OP_USE_RANGE: {
        const mcursor *c;
        int file;
        op->a = (uint8_t)rand_below(rng, MODEL_CURSOR_SLOTS);
        c = &r->cursors[op->a];
        file = c->handle >= 0 ? r->handles[c->handle].file : -1;
        op->off = pick_offset(r, rng, file, c);
        op->len = pick_length(r, rng, op->kind == OP_READ);
        if (op->kind == OP_READ)
            op->b = rand_below(rng, 40) == 0;
        if (op->kind == OP_USE_RANGE)
            op->need = pick_length(r, rng, 0);
        break;
    }
    case OP_RELEASE:
        op->a = (uint8_t)rand_below(rng, MODEL_CURSOR_SLOTS);
        break;
    case OP_COPY:
        op->a = (uint8_t)rand_below(rng, MODEL_CURSOR_SLOTS);
        op->b = (uint8_t)rand_below(rng, MODEL_CURSOR_SLOTS);
        break;
    case OP_RELEASE_PATH:
        op->b = (uint8_t)rand_below(rng, 5);
        op->file = (uint8_t)rand_below(rng, r->cfg.nfiles);
        break;
    default:
        break;
    }
}

void model_random_config(const model_pool *pool, uint64_t *rng,
                         model_config *cfg)
{
    uint64_t g = pool->page, w;
    unsigned i, order[MODEL_MAX_POOL];
    memset(cfg, 0, sizeof(*cfg));
    smmap_options_init(&cfg->opt);
    if (rand_below(rng, 4) == 0) {
        cfg->opt.window_size = 0;
        cfg->opt.max_mapped = rand_below(rng, 5) == 0
                                  ? (8u << 20)
                                  : g * (1 + rand_below(rng, 64));
    } else {
        w = g * (1 + rand_below(rng, 4));
        /* Sometimes not a multiple of the page: rounded up by the library. */
        cfg->opt.window_size = rand_below(rng, 5) == 0 ? w - g + 1 + rand_below(rng, g - 1) : w;
        cfg->opt.max_mapped = w * (1 + rand_below(rng, 4)) +
                              g * rand_below(rng, 3) + rand_below(rng, 2);
    }
    cfg->opt.max_regions = (uint32_t)(1 + rand_below(rng, 8));
    cfg->opt.max_open_files = (uint32_t)(1 + rand_below(rng, 4));
    cfg->opt.flags = rand_below(rng, 10) < 3 ? SMMAP_HARD_LIMITS : 0;
    i = (unsigned)rand_below(rng, 10);
    cfg->nfiles = i < 5   ? 1 + (unsigned)rand_below(rng, 4)
                  : i < 8 ? 5 + (unsigned)rand_below(rng, 8)
                          : 13 + (unsigned)rand_below(rng, 38);
    if (cfg->nfiles > pool->count)
        cfg->nfiles = pool->count;
    for (i = 0; i < pool->count; i++)
        order[i] = i;
    for (i = pool->count; i > 1; i--) {
        unsigned j = (unsigned)rand_below(rng, i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (i = 0; i < cfg->nfiles; i++)
        cfg->files[i] = (uint8_t)order[i];
}

static const char *const kind_names[] = {
    "open_path", "open_fd", "close",   "cursor_init",  "use",   "at",
    "read",      "release", "copy",    "collect",      "release_path", "stats",
    "use_range",
};

void model_format_op(const model_op *op, char *buf, size_t size)
{
    const char *name = op->kind < OP_KIND_COUNT ? kind_names[op->kind] : "?";
    switch (op->kind) {
    case OP_OPEN_PATH:
    case OP_OPEN_FD:
        snprintf(buf, size, "%s handle=%u file=#%u spelling=%u", name, op->a,
                 op->file, op->b);
        break;
    case OP_USE:
    case OP_AT:
    case OP_READ:
        snprintf(buf, size, "%s cursor=%u off=%llu len=%llu%s", name, op->a,
                 (unsigned long long)op->off, (unsigned long long)op->len,
                 op->kind == OP_READ && (op->b & 1) ? " dst=NULL" : "");
        break;
    case OP_USE_RANGE:
        snprintf(buf, size, "%s cursor=%u off=%llu need=%llu want=%llu", name,
                 op->a, (unsigned long long)op->off,
                 (unsigned long long)op->need, (unsigned long long)op->len);
        break;
    case OP_CURSOR_INIT:
        snprintf(buf, size, "%s cursor=%u handle=%u", name, op->a, op->b);
        break;
    case OP_COPY:
        snprintf(buf, size, "%s dst=%u src=%u", name, op->a, op->b);
        break;
    case OP_RELEASE_PATH:
        snprintf(buf, size, "%s prefix_kind=%u file=#%u", name, op->b,
                 op->file);
        break;
    default:
        snprintf(buf, size, "%s %u", name, op->a);
    }
}

void model_format_config(const model_config *cfg, char *buf, size_t size)
{
    size_t used;
    unsigned i;
    used = (size_t)snprintf(buf, size,
                            "window_size=%llu max_mapped=%llu max_regions=%u "
                            "max_open_files=%u flags=%u files:",
                            (unsigned long long)cfg->opt.window_size,
                            (unsigned long long)cfg->opt.max_mapped,
                            cfg->opt.max_regions, cfg->opt.max_open_files,
                            cfg->opt.flags);
    for (i = 0; i < cfg->nfiles && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, " #%u=f%u", i,
                                 cfg->files[i]);
}
