/*
 * model_versions.c - version files: files the model changes on disk under
 * the library (issue 12, VERSIONS.md), what it knows of them, and the
 * oracle of the bytes and answers they allow.
 *
 * A version file's path names one inode after another (a lineage each:
 * created, then replaced by rename or by unlink and create, where ext4
 * hands the new file the old inode number). Every write to a lineage
 * (its creation, an append, a rewrite in place) has a tag, its index in
 * the file's list of writes, and writes byte model_content(file, tag, p)
 * at offset p: base(file, p) + tag. So each byte says which write, and so
 * which lineage, it came from, and a read is checked byte by byte:
 *
 *   - through a map (backend 0: mmap), a byte must be the file as it is
 *     now (a rewrite in place shows through every map at once, VERSIONS.md
 *     6), or 0 in the page of a new end that a truncation left (the rest
 *     of that page reads as zeros through a map: VERSIONS.md 4); a page
 *     past it faults, which raw pointers may do and smmap_read turns into
 *     -EIO;
 *   - through a window read into the heap (backends 1 and 2), a byte may
 *     be any write of the lineage that covered its offset, since the
 *     window holds the file as it was when it was read;
 *   - never a byte of another lineage.
 *
 * And the answers (VERSIONS.md 2-5, model__window_risk and settle in
 * model.c): a new window of a handle whose file is now smaller than the
 * handle's size, or whose mtime changed under SMMAP_CHECK_MTIME, or whose
 * file was replaced and whose descriptor must be reopened, gives -ESTALE;
 * one whose file was replaced but whose descriptor is still open may give
 * -ESTALE or the old bytes; a read that reaches past a truncation may give
 * -EIO; once the model saw the library learn of a truncation (an -EIO, an
 * -ESTALE for a shrunk file, a refresh that found it shrunk), no read of
 * that version may return bytes past it. Everything else is as exact as
 * for the read-only pool.
 *
 * Lineages never grow after a truncation (appends skip them), so a size
 * seen after the first truncation is never more than the first truncation
 * left: the bound the model holds the library to.
 *
 * Windows refuses to rename over or truncate a file that is open or
 * mapped, so there the run has no version files.
 */
#include "model_int.h"
#include "../portable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <sched.h>
#include <sys/stat.h>
#define MODEL_HAVE_VERSIONS 1
#else
#define MODEL_HAVE_VERSIONS 0
#endif

/* ------------------------------------------------------------ content */

static unsigned char base_byte(int vfile, uint64_t p)
{
    uint64_t x = p * 0x9E3779B97F4A7C15ull +
                 (uint64_t)(vfile + 1) * 0xD1B54A32D192ED03ull;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    return (unsigned char)(x >> 56);
}

static unsigned char model_content(int vfile, unsigned tag, uint64_t p)
{
    return (unsigned char)(base_byte(vfile, p) + tag);
}

static uint64_t vfile_cap(const model_run *r)
{
    return MODEL_VFILE_MAX_PAGES * r->g;
}

/* Write tag's bytes [lo, hi) of version file v to fd. */
static int write_content(int fd, int v, unsigned tag, uint64_t lo,
                         uint64_t hi)
{
    unsigned char chunk[8192];
    while (lo < hi) {
        size_t k = hi - lo < sizeof(chunk) ? (size_t)(hi - lo) : sizeof(chunk);
        size_t i;
        int err;
        for (i = 0; i < k; i++)
            chunk[i] = model_content(v, tag, lo + i);
        err = port_pwrite_all(fd, chunk, k, lo);
        if (err != 0)
            return err;
        lo += k;
    }
    return 0;
}

/* Record a write of [lo, hi) to lineage l of version file v; its tag, or
 * -1 when the file's writes ran out. */
static int new_write(model_run *r, int v, int l, uint64_t lo, uint64_t hi)
{
    mvfile *vf = &r->vfiles[v];
    mwrite *w;
    if (vf->nwrites >= MODEL_MAX_WRITES)
        return -1;
    w = &vf->writes[vf->nwrites];
    w->lineage = l;
    w->lo = lo;
    w->hi = hi;
    if (hi > lo)
        memset(r->lineages[l].tags + lo, (int)vf->nwrites, (size_t)(hi - lo));
    return (int)vf->nwrites++;
}

#if MODEL_HAVE_VERSIONS
static int64_t mtime_of(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}
#endif

int model__stat_lineage(model_run *r, int lineage)
{
#if MODEL_HAVE_VERSIONS
    mlineage *l = &r->lineages[lineage];
    struct stat st;
    if (stat(r->vfiles[l->vfile].path, &st) != 0)
        FAIL(r, "stat of %s: %d", r->vfiles[l->vfile].path, errno);
    if ((uint64_t)st.st_size != l->size)
        FAIL(r, "%s has %llu bytes, the model wrote %llu",
             r->vfiles[l->vfile].path, (unsigned long long)st.st_size,
             (unsigned long long)l->size);
    l->dev = (uint64_t)st.st_dev;
    l->ino = (uint64_t)st.st_ino;
    l->mtime_ns = mtime_of(&st);
    return 0;
#else
    (void)lineage;
    FAIL(r, "no version files on this system");
#endif
}

/* A new lineage of version file v, size bytes of a new write, at path
 * (written there; the caller renames it into place). Returns its index,
 * or -1 when lineages or writes ran out, or -2 on an error (FAIL). */
static int new_lineage(model_run *r, int v, uint64_t size, const char *path)
{
    mlineage *l;
    int idx, tag, fd, err;
    if (r->nlineages >= MODEL_MAX_LINEAGES ||
        r->vfiles[v].nwrites >= MODEL_MAX_WRITES)
        return -1;
    idx = (int)r->nlineages;
    l = &r->lineages[idx];
    memset(l, 0, sizeof(*l));
    l->tags = calloc(1, (size_t)vfile_cap(r));
    if (l->tags == NULL) {
        snprintf(r->msg, sizeof(r->msg), "out of memory");
        r->failed = 1;
        return -2;
    }
    r->nlineages++;
    l->vfile = v;
    l->size = size;
    l->first_trunc = UINT64_MAX;
    tag = new_write(r, v, idx, 0, size);
    fd = port_open_write(path, 1);
    if (fd < 0) {
        snprintf(r->msg, sizeof(r->msg), "create %s: %d", path, fd);
        r->failed = 1;
        return -2;
    }
    err = write_content(fd, v, (unsigned)tag, 0, size);
    port_close(fd);
    if (err != 0) {
        snprintf(r->msg, sizeof(r->msg), "write %s: %d", path, err);
        r->failed = 1;
        return -2;
    }
    return idx;
}

int model__vfiles_create(model_run *r)
{
    uint64_t rng = r->cfg.version_seed * 0x9E3779B97F4A7C15ull + 7;
    unsigned v;
    r->nvfiles = 0;
    if (!MODEL_HAVE_VERSIONS)
        return 0;
    for (v = 0; v < r->cfg.nversions && v < MODEL_MAX_VFILES; v++) {
        mvfile *vf = &r->vfiles[v];
        uint64_t g = r->g, size;
        char tmp[600];
        int l;
        switch (model_rand_below(&rng, 6)) {
        case 0: size = 0; break;
        case 1: size = g; break;
        case 2: size = g + 1 + model_rand_below(&rng, g - 1); break;
        case 3: size = 3 * g - 1; break;
        default: size = 1 + model_rand_below(&rng, 8 * g);
        }
        snprintf(vf->name, sizeof(vf->name), "v%u", v);
        snprintf(tmp, sizeof(tmp), "%s" PORT_SEP "%s", r->pool->dir,
                 vf->name);
        memcpy(vf->path, tmp, sizeof(vf->path) - 1);
        vf->nwrites = 0;
        r->nvfiles = v + 1;
        l = new_lineage(r, (int)v, size, vf->path);
        if (l < 0)
            return -EIO;
        r->lineages[l].current = 1;
        vf->lineage = l;
        if (model__stat_lineage(r, l))
            return -EIO;
    }
    return 0;
}

void model__vfiles_destroy(model_run *r)
{
    unsigned i;
    for (i = 0; i < r->nvfiles; i++) {
        char tmp[600];
        port_remove_file(r->vfiles[i].path);
        snprintf(tmp, sizeof(tmp), "%s.tmp", r->vfiles[i].path);
        port_remove_file(tmp);
    }
    for (i = 0; i < r->nlineages; i++)
        free(r->lineages[i].tags);
    r->nlineages = 0;
    r->nvfiles = 0;
}

/* ------------------------------------------------------------- oracle */

int model__window_risk(const model_run *r, int slot)
{
    const mhandle *h = &r->handles[slot];
    const mlineage *l;
    const mentry *e;
    if (h->lineage < 0)
        return RISK_NONE;
    l = &r->lineages[h->lineage];
    e = &r->entries[h->entry];
    /* VERSIONS.md 3: new windows need the file at least the handle's size
     * (the inode the library holds, or the one it would reopen). */
    if (l->size < h->size)
        return RISK_MUST;
    /* VERSIONS.md 1: with SMMAP_CHECK_MTIME the mtime is identity. */
    if (r->check_mtime && e->mtime_ns != l->mtime_ns)
        return RISK_MUST;
    /* VERSIONS.md 2: replaced. With its descriptor open the library may
     * map the old inode through it (the old bytes) or look at the path
     * (-ESTALE); without, a reopen finds another file. */
    if (!l->current)
        return e->fd_open ? RISK_MAY : RISK_MUST;
    return RISK_NONE;
}

void model__observe_shrink(model_run *r, int slot, uint64_t bound)
{
    mentry *e = &r->entries[r->handles[slot].entry];
    /* VERSIONS.md 4 says "through any handle of that version". The
     * library keeps the seen end per entry, and makes a new entry for an
     * open that finds the file shorter than an earlier handle (so two
     * entries of one version after two truncations); a shrink seen through
     * one of them does not bind the other's handles. The model holds the
     * library to the entry that saw it (reported, see tests/model: the
     * handles of the other entry return the zeros of the new end). */
    if (bound < e->seen_bound)
        e->seen_bound = bound;
}

/* Which write byte value v at offset p of version file vf came from
 * (its tag), as text for a failure message. */
static void describe_byte(const model_run *r, int v, uint64_t p,
                          unsigned char value, char *out, size_t size)
{
    const mvfile *vf = &r->vfiles[v];
    unsigned tag = (unsigned char)(value - base_byte(v, p));
    if (tag < vf->nwrites && vf->writes[tag].lo <= p && p < vf->writes[tag].hi)
        snprintf(out, size, "write %u of lineage %d", tag,
                 vf->writes[tag].lineage);
    else if (value == 0)
        snprintf(out, size, "a zero of no write");
    else
        snprintf(out, size, "of no write of this file at this offset");
}

int model__check_vbytes(model_run *r, int slot, uint64_t off,
                        const unsigned char *p, uint64_t len, int raw,
                        const char *what)
{
    const mhandle *h = &r->handles[slot];
    const mlineage *l = &r->lineages[h->lineage];
    const mvfile *vf = &r->vfiles[l->vfile];
    int v = l->vfile, strict = model_backend == 0, zeros = 0;
    uint64_t sp = r->sys_page, end_page = model_align_up(l->size, sp), done = 0;
    unsigned char page[65536];

    while (done < len) {
        uint64_t pos = off + done, i;
        uint64_t chunk = model_min64(len - done, sp - pos % sp);
        const unsigned char *bytes = p + done;
        if (chunk > sizeof(page))
            chunk = sizeof(page);
        if (raw && strict) {
            /* A map of a truncated file faults past the page of its end:
             * copy with the library's guarded copy instead of touching. */
            int64_t got = smmap__os_default.guarded_copy(page, bytes,
                                                         (size_t)chunk);
            if (got < 0) {
                if (pos < end_page)
                    FAIL(r, "%s: the page at offset %llu of %s faults, but "
                         "lineage %d has %llu bytes", what,
                         (unsigned long long)pos, vf->name, h->lineage,
                         (unsigned long long)l->size);
                done += chunk;
                continue;
            }
            bytes = page;
        }
        for (i = 0; i < chunk; i++) {
            uint64_t q = pos + i;
            unsigned char b = bytes[i];
            int ok;
            if (strict) {
                if (q < l->size)
                    ok = b == model_content(v, l->tags[q], q);
                else if (q < end_page)
                    ok = b == 0, zeros = 1;
                else
                    ok = 0;
            } else {
                unsigned tag = (unsigned char)(b - base_byte(v, q));
                ok = tag < vf->nwrites && vf->writes[tag].lineage == h->lineage &&
                     vf->writes[tag].lo <= q && q < vf->writes[tag].hi;
            }
            if (!ok) {
                char text[100];
                describe_byte(r, v, q, b, text, sizeof(text));
                FAIL(r, "%s: byte at offset %llu of %s is 0x%02x (%s); the "
                     "handle reads lineage %d, %llu bytes now%s", what,
                     (unsigned long long)q, vf->name, b, text, h->lineage,
                     (unsigned long long)l->size,
                     strict ? ", through a map (the bytes as they are now)"
                            : "");
            }
        }
        done += chunk;
    }
    if (zeros && !raw)
        model_figures.zeros_seen++;
    return 0;
}

/* --------------------------------------------------------- operations */

#if MODEL_HAVE_VERSIONS

static int op_touch(model_run *r, mvfile *vf)
{
    port_times t;
    int err = port_get_times(vf->path, &t);
    if (err == 0) {
        port_times_later(&t);
        err = port_set_times(vf->path, &t);
    }
    if (err != 0)
        FAIL(r, "touch %s: %d", vf->path, err);
    return model__stat_lineage(r, vf->lineage);
}

/* Write a new write's bytes [lo, hi) into the lineage at vf's path. */
static int write_in_place(model_run *r, int v, uint64_t lo, uint64_t hi)
{
    mvfile *vf = &r->vfiles[v];
    mlineage *l = &r->lineages[vf->lineage];
    int tag = new_write(r, v, vf->lineage, lo, hi), fd, err;
    if (tag < 0) {
        model_figures.skipped++;
        return 0;
    }
    fd = port_open_write(vf->path, 0);
    if (fd < 0)
        FAIL(r, "open %s for writing: %d", vf->path, fd);
    err = write_content(fd, v, (unsigned)tag, lo, hi);
    port_close(fd);
    if (err != 0)
        FAIL(r, "write %s: %d", vf->path, err);
    if (hi > l->size)
        l->size = hi;
    return model__stat_lineage(r, vf->lineage);
}

static int op_append(model_run *r, int v, uint64_t len)
{
    mlineage *l = &r->lineages[r->vfiles[v].lineage];
    uint64_t n = 1 + len % (3 * r->g);
    if (l->first_trunc != UINT64_MAX || l->size >= vfile_cap(r)) {
        model_figures.skipped++;
        return 0;
    }
    n = model_min64(n, vfile_cap(r) - l->size);
    return write_in_place(r, v, l->size, l->size + n);
}

static int op_rewrite(model_run *r, int v, uint64_t off, uint64_t len)
{
    mlineage *l = &r->lineages[r->vfiles[v].lineage];
    uint64_t lo, hi;
    if (l->size == 0) {
        model_figures.skipped++;
        return 0;
    }
    if (len == 0) {
        lo = 0;
        hi = l->size;
    } else {
        lo = off % l->size;
        hi = lo + 1 + (len - 1) % (l->size - lo);
    }
    return write_in_place(r, v, lo, hi);
}

static int op_truncate(model_run *r, mvfile *vf, uint64_t off, int kind)
{
    mlineage *l = &r->lineages[vf->lineage];
    uint64_t size;
    int err;
    if (l->size == 0) {
        model_figures.skipped++;
        return 0;
    }
    size = off % l->size;
    switch (kind % 4) {
    case 1:
        size = model_align_down(size, r->g);
        break;
    case 2: /* not page-aligned where the file allows */
        if (size % r->g == 0)
            size = size + 1 < l->size ? size + 1 : (size > 0 ? size - 1 : 0);
        break;
    case 3:
        size = l->size - 1;
        break;
    default:
        break;
    }
    err = port_truncate(vf->path, size);
    if (err != 0)
        FAIL(r, "truncate %s to %llu: %d", vf->path,
             (unsigned long long)size, err);
    l->size = size;
    l->truncations++;
    if (l->first_trunc == UINT64_MAX)
        l->first_trunc = size;
    return model__stat_lineage(r, vf->lineage);
}

static int op_replace(model_run *r, int v, uint64_t len, int kind)
{
    mvfile *vf = &r->vfiles[v];
    int old = vf->lineage, l, i, fid = MODEL_VFILE_BASE + v, reused = 0,
        under_handle = 0, err = 0;
    uint64_t size = len % (vfile_cap(r) + 1);
    char tmp[600];
    if (r->nlineages >= MODEL_MAX_LINEAGES ||
        vf->nwrites >= MODEL_MAX_WRITES) {
        model_figures.skipped++;
        return 0;
    }
    /* Let the library give up the old inode (regions and descriptor of
     * every entry whose path is this file's), so that it can be freed and
     * its number given to the new file. */
    if ((kind & 4) && model__release_path_both(r, fid, 0))
        return 1;
    snprintf(tmp, sizeof(tmp), "%s.tmp", vf->path);
    switch (kind % 3) {
    case 0: /* a temporary renamed over: the old inode is still linked */
        l = new_lineage(r, v, size, tmp);
        if (l >= 0)
            err = port_rename_over(tmp, vf->path);
        break;
    case 1: /* unlink first, then a temporary renamed into place */
        err = port_remove_file(vf->path);
        l = new_lineage(r, v, size, tmp);
        if (l >= 0 && err == 0)
            err = port_rename_over(tmp, vf->path);
        break;
    default: /* unlink, then create at the path */
        err = port_remove_file(vf->path);
        l = new_lineage(r, v, size, vf->path);
        break;
    }
    if (l == -2)
        return 1;
    if (l < 0 || err != 0)
        FAIL(r, "replace %s: lineage %d, error %d", vf->path, l, err);
    r->lineages[old].current = 0;
    r->lineages[l].current = 1;
    vf->lineage = l;
    if (model__stat_lineage(r, l))
        return 1;
    for (i = 0; i < l; i++) {
        const mlineage *x = &r->lineages[i];
        int h;
        if (x->dev != r->lineages[l].dev || x->ino != r->lineages[l].ino)
            continue;
        reused = 1;
        for (h = 0; h < MODEL_HANDLE_SLOTS; h++)
            if (r->handles[h].live && r->handles[h].lineage == i)
                under_handle = 1;
    }
    model_figures.inode_reuses += (uint64_t)reused;
    model_figures.reuses_under_handle += (uint64_t)under_handle;
    return 0;
}

/*
 * smmap_file_refresh (VERSIONS.md 5): the handle's size becomes the file's
 * when it is the same version and not smaller than the handle's size;
 * otherwise -ESTALE. A replaced file: the library may stat its open
 * descriptor (the old inode: the same version) or the path (another file).
 */
static int op_refresh(model_run *r, int slot)
{
    mhandle *h = &r->handles[slot];
    const mlineage *l = h->lineage >= 0 ? &r->lineages[h->lineage] : NULL;
    const mentry *e = &r->entries[h->entry];
    uint64_t now = l != NULL ? l->size : h->size, size;
    int got = smmap_file_refresh(h->f), may_stale = 0, must_stale = 0;

    if (l != NULL) {
        if (l->size < h->size ||
            (r->check_mtime && e->mtime_ns != l->mtime_ns))
            must_stale = 1;
        else if (!l->current)
            may_stale = 1;
    }
    size = smmap_file_size(h->f);
    if (got == 0 && !must_stale) {
        if (size != now)
            FAIL(r, "refresh: smmap_file_size is %llu, the file has %llu",
                 (unsigned long long)size, (unsigned long long)now);
        h->size = now;
        return 0;
    }
    if (got == -ESTALE && (must_stale || may_stale)) {
        model_figures.estale++;
        if (size != h->size)
            FAIL(r, "refresh gave -ESTALE and changed the size from %llu to "
                 "%llu", (unsigned long long)h->size,
                 (unsigned long long)size);
        /* It looked at the file and found it shrunk, unless the mtime
         * alone answered (SMMAP_CHECK_MTIME). */
        if (l->current && l->size < h->size &&
            !(r->check_mtime && e->mtime_ns != l->mtime_ns))
            model__observe_shrink(r, slot, l->size);
        return 0;
    }
    FAIL(r, "refresh of a handle of %llu bytes gave %d; the file has %llu "
         "bytes%s%s", (unsigned long long)h->size, got,
         (unsigned long long)now,
         l != NULL && !l->current ? ", replaced at its path" : "",
         must_stale ? ": -ESTALE expected" : "");
}

/* Two threads refresh while the main thread appends: each makes up to
 * RACE_CALLS calls while the file grows (then yields until the appends are
 * done, so that a machine with few processors still runs the main
 * thread), and one more after the last append. */
#define RACE_CALLS 32

typedef struct race_thread {
    smmap_file *f;
    int *stop;
    int errors, last_error;
    long calls;
} race_thread;

static void race_refresher(void *arg)
{
    race_thread *t = arg;
    for (;;) {
        int stop = __atomic_load_n(t->stop, __ATOMIC_ACQUIRE), err;
        if (!stop && __atomic_load_n(&t->calls, __ATOMIC_RELAXED) >=
                         RACE_CALLS) {
            sched_yield();
            continue;
        }
        err = smmap_file_refresh(t->f);
        __atomic_fetch_add(&t->calls, 1, __ATOMIC_RELAXED);
        if (err != 0) {
            t->errors++;
            t->last_error = err;
        }
        if (stop) /* this call began after the last append */
            break;
    }
}

/* Wait until each thread made another call or all it makes before the
 * end (bounded: under valgrind the threads run one at a time). */
static void race_wait(race_thread *t)
{
    long before[2];
    double start = port_now();
    int i;
    for (i = 0; i < 2; i++)
        before[i] = __atomic_load_n(&t[i].calls, __ATOMIC_RELAXED);
    for (i = 0; i < 2 && port_now() - start < 0.05;) {
        long now = __atomic_load_n(&t[i].calls, __ATOMIC_RELAXED);
        if (now != before[i] || now >= RACE_CALLS)
            i++;
        else
            sched_yield();
    }
}

/*
 * VERSIONS.md 5: "Concurrent refreshes of a growing file never give a
 * spurious -ESTALE." Handles a and b (the same one, or two of the same
 * version) are refreshed from two threads while the file grows; every call
 * must succeed, and the last call of each thread, which began after the
 * last append, must leave its handle at the final size.
 */
static int op_refresh_race(model_run *r, const model_op *op)
{
    int sa = op->a % MODEL_HANDLE_SLOTS, sb = op->b % MODEL_HANDLE_SLOTS;
    mhandle *ha = &r->handles[sa], *hb = &r->handles[sb];
    race_thread t[2];
    port_thread th[2];
    int stop = 0, i, appends = 2 + (int)(op->len % 6), v;
    mlineage *l;

    if (!ha->live || !hb->live || ha->lineage < 0 ||
        ha->lineage != hb->lineage || r->check_mtime) {
        model_figures.skipped++;
        return 0;
    }
    l = &r->lineages[ha->lineage];
    v = l->vfile;
    if (!l->current || l->first_trunc != UINT64_MAX ||
        l->size < ha->size || l->size < hb->size ||
        l->size + (uint64_t)appends > vfile_cap(r) ||
        r->vfiles[v].nwrites + (unsigned)appends > MODEL_MAX_WRITES) {
        model_figures.skipped++;
        return 0;
    }
    model_figures.ops[OP_REFRESH_RACE]++;
    memset(t, 0, sizeof(t));
    t[0].f = ha->f;
    t[1].f = hb->f;
    t[0].stop = t[1].stop = &stop;
    for (i = 0; i < 2; i++)
        if (port_thread_start(&th[i], race_refresher, &t[i]) != 0) {
            if (i == 1) {
                __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
                port_thread_join(&th[0]);
            }
            FAIL(r, "refresh race: no thread");
        }
    /* Appends back to back once both threads are refreshing: the most
     * overlap between stats of different sizes. */
    race_wait(t);
    for (i = 0; i < appends && !r->failed; i++) {
        uint64_t n = 1 + ((op->off >> (8 * i)) & 0xFF) * (r->g / 256);
        n = model_min64(n, vfile_cap(r) - l->size);
        if (n > 0 && write_in_place(r, v, l->size, l->size + n))
            break;
    }
    race_wait(t);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    port_thread_join(&th[0]);
    port_thread_join(&th[1]);
    if (r->failed)
        return 1;
    model_figures.race_refreshes += (uint64_t)(t[0].calls + t[1].calls);
    for (i = 0; i < 2; i++)
        if (t[i].errors != 0)
            FAIL(r, "refresh race: %d of %ld refreshes of a growing file "
                 "gave an error (last %d)", t[i].errors, t[i].calls,
                 t[i].last_error);
    if (smmap_file_size(ha->f) != l->size || smmap_file_size(hb->f) != l->size)
        FAIL(r, "refresh race: sizes %llu and %llu after the last "
             "refreshes, the file has %llu",
             (unsigned long long)smmap_file_size(ha->f),
             (unsigned long long)smmap_file_size(hb->f),
             (unsigned long long)l->size);
    ha->size = hb->size = l->size;
    return 0;
}

int model__version_step(model_run *r, const model_op *op)
{
    int v;
    if (op->kind == OP_REFRESH) {
        int slot = op->a % MODEL_HANDLE_SLOTS;
        if (!r->handles[slot].live) {
            model_figures.skipped++;
            return 0;
        }
        model_figures.ops[op->kind]++;
        return op_refresh(r, slot);
    }
    if (op->kind == OP_REFRESH_RACE)
        return op_refresh_race(r, op);
    if (r->nvfiles == 0) {
        model_figures.skipped++;
        return 0;
    }
    v = op->file % r->nvfiles;
    model_figures.ops[op->kind]++;
    switch (op->kind) {
    case OP_TOUCH:
        return op_touch(r, &r->vfiles[v]);
    case OP_APPEND:
        return op_append(r, v, op->len);
    case OP_REWRITE:
        return op_rewrite(r, v, op->off, op->len);
    case OP_TRUNCATE:
        return op_truncate(r, &r->vfiles[v], op->off, op->b);
    case OP_REPLACE:
        return op_replace(r, v, op->len, op->b);
    default:
        return 0;
    }
}

#else /* no version files on this system */

int model__version_step(model_run *r, const model_op *op)
{
    /* Refresh of a read-only pool file: the same size. */
    if (op->kind == OP_REFRESH) {
        mhandle *h = &r->handles[op->a % MODEL_HANDLE_SLOTS];
        int got;
        if (!h->live)
            return 0;
        got = smmap_file_refresh(h->f);
        if (got != 0 || smmap_file_size(h->f) != h->size)
            FAIL(r, "refresh of a read-only file gave %d, size %llu", got,
                 (unsigned long long)smmap_file_size(h->f));
    }
    return 0;
}

#endif
