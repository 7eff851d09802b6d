/*
 * model_check.c - the comparisons of the model with the library after each
 * operation (bytes, statistics, regions and pins, descriptors, cursors),
 * and what the engine does when the library gives
 * an answer the versions allow but the model did not predict: settle()
 * decides whether the answer is allowed, resync() checks what DESIGN fixes
 * whatever the way and takes the library's state (see model.c).
 */
#include "model_int.h"
#include "../portable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------- checks */

/* Bytes of a pool file (read-only) against our own pread. */
static int check_bytes(model_run *r, int pool_index, uint64_t off,
                       const unsigned char *p, uint64_t len, const char *what)
{
    /* Compare the first and the last 64 KiB: enough for every window and
     * read the generator makes, bounded for the oversized ones. */
    const uint64_t cap = 65536;
    uint64_t spans[2][2] = {{off, model_min64(len, cap)}, {0, 0}};
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

/* Bytes that handle slot shows at off: a pool file's against pread, a
 * version file's against the set its versions allow. raw: p points into
 * a window (which a truncation may have cut short). */
int model__check_handle_bytes(model_run *r, int slot, uint64_t off,
                              const unsigned char *p, uint64_t len, int raw,
                              const char *what)
{
    const mhandle *h = &r->handles[slot];
    if (MODEL_IS_VFILE(h->fid))
        return model__check_vbytes(r, slot, off, p, len, raw, what);
    return check_bytes(r, h->fid, off, p, len, what);
}

#define CMP_STAT(field)                                                      \
    if ((uint64_t)got.field != (uint64_t)r->st.field)                        \
    FAIL(r, "stats." #field " is %llu, the model says %llu",                 \
         (unsigned long long)got.field, (unsigned long long)r->st.field)

int model__compare_stats(model_run *r)
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

static void collect_tree(const smmap_region *n, int entry, region_view *out,
                         int *count)
{
    if (n == NULL || *count >= 4 * MODEL_MAX_REGIONS)
        return;
    collect_tree(n->left, entry, out, count);
    if (*count < 4 * MODEL_MAX_REGIONS) {
        out[*count].off = n->offset;
        out[*count].size = n->size;
        out[*count].pins = smmap__region_pins(n);
        out[*count].entry = entry;
        (*count)++;
    }
    collect_tree(n->right, entry, out, count);
}

/* The model entry of a library entry, or -1. */
int model__entry_of_core(const model_run *r, const smmap_entry *ce)
{
    int i;
    for (i = 0; i < MODEL_MAX_ENTRIES; i++)
        if (r->entries[i].exists && r->entries[i].core == ce)
            return i;
    return -1;
}

int model__lib_has_region(const model_run *r, int entry, uint64_t off,
                          uint64_t size)
{
    const smmap_region *n = r->entries[entry].core->tree;
    /* The tree is ordered by offset; regions of one offset (an overlap
     * needed for contiguity) may sit on either side of each other. */
    const smmap_region *stack[128];
    int top = 0;
    if (n != NULL)
        stack[top++] = n;
    while (top > 0) {
        n = stack[--top];
        if (n->offset == off && n->size == size)
            return 1;
        if (n->left != NULL && top < 128)
            stack[top++] = n->left;
        if (n->right != NULL && top < 128)
            stack[top++] = n->right;
    }
    return 0;
}

static void describe_regions(const model_run *r, const region_view *v, int n,
                             char *out, size_t size)
{
    size_t used = 0;
    int i;
    char label[40];
    out[0] = '\0';
    for (i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(
            out + used, size - used, " %s[%llu,+%llu)p%u",
            v[i].entry >= 0 ? model__entry_label(r, v[i].entry, label, sizeof(label))
                            : "?",
            (unsigned long long)v[i].off, (unsigned long long)v[i].size,
            v[i].pins);
}

/* Whether region x was there before the operation (the snapshot). */
static int in_snapshot(const model_run *r, const mregion *x)
{
    int k;
    for (k = 0; k < r->snap.n; k++) {
        const snap_region *y = &r->snap.regions[k];
        if (y->entry == x->entry && y->off == x->off && y->size == x->size)
            return 1;
    }
    return 0;
}

int model__check_held(model_run *r)
{
    int i;
    char label[40];
    /* Regions the operation made are left to compare_state: one the
     * model placed otherwise than the library is a placement difference,
     * not an unmapping. */
    for (i = 0; i < MODEL_MAX_REGIONS; i++) {
        const mregion *x = &r->regions[i];
        if (x->live && x->pins > 0 && in_snapshot(r, x) &&
            !model__lib_has_region(r, x->entry, x->off, x->size))
            FAIL(r, "%s[%llu,+%llu), held by %u cursors, was unmapped",
                 model__entry_label(r, x->entry, label, sizeof(label)),
                 (unsigned long long)x->off, (unsigned long long)x->size,
                 x->pins);
    }
    return 0;
}

/* Regions (per file, with pins), descriptors, cursors. Not the order in
 * which unused regions will be evicted: that is the library's (issue 13). */
int model__compare_state(model_run *r)
{
    region_view core[4 * MODEL_MAX_REGIONS], model[MODEL_MAX_REGIONS];
    int ncore = 0, nmodel = 0, i, k;
    char a[1024], b[1024];
    uint32_t nonclosable = 0;

    for (i = 0; i < MODEL_HANDLE_SLOTS; i++) {
        const mhandle *h = &r->handles[i];
        if (h->live && h->f->entry != r->entries[h->entry].core)
            FAIL(r, "handle %d is in another entry than the one it was "
                 "opened into", i);
    }
    for (i = 0; i < MODEL_MAX_ENTRIES; i++) {
        const smmap_entry *ce;
        if (!r->entries[i].exists)
            continue;
        ce = r->entries[i].core;
        collect_tree(ce->tree, i, core, &ncore);
        if ((ce->fd != SMMAP_OS_NO_FD) != r->entries[i].fd_open)
            FAIL(r, "%s descriptor is %s, the model says %s",
                 model__entry_label(r, i, a, sizeof(a)),
                 ce->fd != SMMAP_OS_NO_FD ? "open" : "closed",
                 r->entries[i].fd_open ? "open" : "closed");
        if (r->entries[i].fd_open && !model__closable(&r->entries[i]))
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
            model__window(r, c, &begin, &size);
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
int model__check_window_edges(model_run *r, mcursor *c, const char *what)
{
    if (c->region < 0 || c->c.size == 0)
        return 0;
    if (model__check_handle_bytes(r, c->handle, c->c.begin, c->c.data, 1, 1, what))
        return 1;
    return model__check_handle_bytes(r, c->handle, c->c.begin + c->c.size - 1,
                              c->c.data + c->c.size - 1, 1, 1, what);
}

/* ------------------------------------------------------------ resync */

/* The state before an operation that moves cursor (or -1), for resync.
 * The model equals the library here: the last step compared them. */
void model__take_snapshot(model_run *r, int cursor)
{
    model_snapshot *s = &r->snap;
    int i;
    s->n = 0;
    s->cursor = cursor;
    s->old_region = -1;
    for (i = 0; i < MODEL_MAX_REGIONS; i++) {
        const mregion *x = &r->regions[i];
        snap_region *y;
        if (!x->live)
            continue;
        y = &s->regions[s->n];
        y->entry = x->entry;
        y->off = x->off;
        y->size = x->size;
        y->pins = x->pins;
        if (cursor >= 0 && r->cursors[cursor].region == i)
            s->old_region = s->n;
        s->n++;
    }
    s->st = r->st;
}

typedef struct lib_region {
    smmap_region *p;
    int entry;
    int old; /* index in the snapshot, or -1: made by this operation */
} lib_region;

static void collect_lib(smmap_region *n, int entry, lib_region *out,
                        int *count, int max)
{
    if (n == NULL)
        return;
    collect_lib(n->left, entry, out, count, max);
    if (*count < max) {
        out[*count].p = n;
        out[*count].entry = entry;
        out[*count].old = -1;
        (*count)++;
    }
    collect_lib(n->right, entry, out, count, max);
}

#define MONOTONIC(field)                                                     \
    if (got.field < s->st.field)                                             \
    FAIL(r, "%s: stats." #field " went down from %llu to %llu", what,        \
         (unsigned long long)s->st.field, (unsigned long long)got.field)

/*
 * The library gave an answer the versions allow but the model did not
 * predict (-ESTALE, -EIO, or an error where what it did on the way is
 * open). Check what DESIGN fixes whatever the way, then take the
 * library's regions, descriptors and counters as the model's.
 * is_read: smmap_read, which may map and leave several windows.
 */
static int resync(model_run *r, int is_read, const char *what)
{
    lib_region lib[MODEL_MAX_REGIONS];
    const model_snapshot *s = &r->snap;
    const smmap_region *newp = NULL;
    smmap_stats got;
    int n = 0, i, k, fresh = 0, nfiles = 0, nmapped = 0;
    uint32_t nfds = 0;
    uint64_t bytes = 0;
    smmap_entry *ce;

    if (s->cursor >= 0)
        newp = r->cursors[s->cursor].c.region;
    for (i = 0; i < MODEL_MAX_ENTRIES; i++) {
        int before = n;
        if (!r->entries[i].exists)
            continue;
        ce = r->entries[i].core;
        if (ce->transients != NULL)
            FAIL(r, "%s: a pressure window under SMMAP_ALWAYS_MAP", what);
        collect_lib(ce->tree, i, lib, &n, MODEL_MAX_REGIONS);
        nfiles++;
        nmapped += n > before;
        nfds += ce->fd != SMMAP_OS_NO_FD;
    }
    /* Held regions stay mapped, with their pins. */
    for (k = 0; k < s->n; k++) {
        const snap_region *y = &s->regions[k];
        uint32_t held = y->pins - (k == s->old_region);
        for (i = 0; i < n; i++)
            if (lib[i].entry == y->entry && lib[i].p->offset == y->off &&
                lib[i].p->size == y->size)
                break;
        if (i == n) {
            if (held > 0)
                FAIL(r, "%s: region [%llu,+%llu) held by %u cursors was "
                     "unmapped", what, (unsigned long long)y->off,
                     (unsigned long long)y->size, held);
            continue;
        }
        lib[i].old = k;
        if (smmap__region_pins(lib[i].p) != held + (lib[i].p == newp))
            FAIL(r, "%s: region [%llu,+%llu) has %u pins, %u cursors hold "
                 "it", what, (unsigned long long)y->off,
                 (unsigned long long)y->size, smmap__region_pins(lib[i].p),
                 held + (lib[i].p == newp));
    }
    /* New regions: the one the cursor holds now, and (smmap_read) the
     * windows it passed through. */
    for (i = 0; i < n; i++) {
        if (lib[i].old >= 0)
            continue;
        fresh++;
        if (smmap__region_pins(lib[i].p) != (lib[i].p == newp ? 1u : 0u))
            FAIL(r, "%s: a new region [%llu,+%llu) has %u pins", what,
                 (unsigned long long)lib[i].p->offset,
                 (unsigned long long)lib[i].p->size, smmap__region_pins(lib[i].p));
    }
    if (fresh > (is_read ? n : 1))
        FAIL(r, "%s: %d new regions after one use", what, fresh);
    if (newp != NULL) {
        for (i = 0; i < n && lib[i].p != newp; i++)
            ;
        if (i == n)
            FAIL(r, "%s: the cursor holds a region that is in no tree", what);
    }
    /* Counters only grow, and add up. */
    smmap_manager_stats(r->m, &got);
    if (model_backend != 0) {
        /* The model counts heap windows as maps (see compare_stats). */
        got.maps = got.read_windows;
        got.unmaps = s->st.unmaps + (uint64_t)s->n + (got.maps - s->st.maps) -
                     (uint64_t)n;
    }
    MONOTONIC(maps);
    MONOTONIC(unmaps);
    MONOTONIC(evictions);
    MONOTONIC(reuses);
    MONOTONIC(retries);
    MONOTONIC(fd_closes);
    MONOTONIC(fd_reopens);
    MONOTONIC(peak_mapped_bytes);
    MONOTONIC(peak_regions);
    /* Budgets: max_regions always; max_mapped when hard. */
    if (got.regions > r->max_regions)
        FAIL(r, "%s: %u regions over max_regions %u", what, got.regions,
             r->max_regions);
    if (r->hard && got.mapped_bytes > r->max_mapped)
        FAIL(r, "%s: %llu bytes mapped over the hard max_mapped %llu", what,
             (unsigned long long)got.mapped_bytes,
             (unsigned long long)r->max_mapped);
    /* Evictions are unmaps (or heap windows given back). */
    if (got.evictions - s->st.evictions >
        (uint64_t)s->n + (model__windows_made(&got) -
                          model__windows_made(&s->st)))
        FAIL(r, "%s: %llu evictions of at most %llu regions", what,
             (unsigned long long)(got.evictions - s->st.evictions),
             (unsigned long long)((uint64_t)s->n +
                                  (model__windows_made(&got) -
                                   model__windows_made(&s->st))));
    for (i = 0; i < n; i++)
        bytes += lib[i].p->size;
    if (got.regions != (uint32_t)n || got.mapped_bytes != bytes)
        FAIL(r, "%s: stats say %u regions of %llu bytes, the trees hold %d "
             "of %llu", what, got.regions,
             (unsigned long long)got.mapped_bytes, n,
             (unsigned long long)bytes);
    if ((got.maps - s->st.maps) - (got.unmaps - s->st.unmaps) !=
        (uint64_t)n - (uint64_t)s->n)
        FAIL(r, "%s: %llu maps and %llu unmaps took %d regions to %d", what,
             (unsigned long long)(got.maps - s->st.maps),
             (unsigned long long)(got.unmaps - s->st.unmaps), s->n, n);
    if (got.files != (uint32_t)nfiles || got.files_mapped != (uint32_t)nmapped ||
        got.open_fds != nfds)
        FAIL(r, "%s: stats say %u files, %u mapped, %u descriptors; the "
             "entries say %d, %d, %u", what, got.files, got.files_mapped,
             got.open_fds, nfiles, nmapped, nfds);

    /* Take them. */
    for (i = 0; i < MODEL_MAX_REGIONS; i++)
        memset(&r->regions[i], 0, sizeof(r->regions[i]));
    for (i = 0; i < MODEL_MAX_ENTRIES; i++)
        r->entries[i].nregions = 0;
    for (i = 0; i < n; i++) {
        mregion *x = &r->regions[i];
        x->live = 1;
        x->entry = lib[i].entry;
        x->off = lib[i].p->offset;
        x->size = lib[i].p->size;
        x->pins = smmap__region_pins(lib[i].p);
        r->entries[lib[i].entry].nregions++;
    }
    for (i = 0; i < MODEL_MAX_ENTRIES; i++) {
        mentry *e = &r->entries[i];
        if (!e->exists)
            continue;
        e->fd_open = e->core->fd != SMMAP_OS_NO_FD;
        e->fd_used = ++r->clock;
    }
    for (ce = r->m->fd_head; ce != NULL; ce = ce->fd_next) {
        i = model__entry_of_core(r, ce);
        if (i < 0)
            FAIL(r, "%s: the descriptor LRU holds an entry of no handle",
                 what);
        r->entries[i].fd_used = ++r->clock;
    }
    for (k = 0; k < MODEL_CURSOR_SLOTS; k++) {
        mcursor *c = &r->cursors[k];
        c->region = -1;
        if (c->c.region == NULL)
            continue;
        for (i = 0; i < n && lib[i].p != c->c.region; i++)
            ;
        if (i == n)
            FAIL(r, "%s: cursor %d holds a region that is in no tree", what,
                 k);
        c->region = i;
        if (k == s->cursor)
            c->cut = r->handles[c->handle].size;
    }
    r->st = got;
    model_figures.resyncs++;
    return 0;
}

/* A move whose eviction choices were too many to replay (a read through
 * many windows under a tight budget): take the library's state, checked
 * against what DESIGN fixes (held regions stay, budgets, counters that add
 * up), as for an answer the versions allow. */
int model__resync_choices(model_run *r, int is_read, const char *what)
{
    model_figures.choice_resyncs++;
    return resync(r, is_read, what);
}

/*
 * The library answered got where the model predicted expect, for an
 * operation of handle slot (-1: none). Returns 0 when the prediction
 * stands (the exact checks follow), 2 when got is another answer the
 * versions allow (the model then takes the library's state), 1 on a
 * failure. eio_ok: the operation reads past the end its version has now
 * (a truncation).
 */
int model__settle(model_run *r, int slot, int64_t got, int64_t expect,
                  int eio_ok, int is_read, const char *what)
{
    if (r->op_risk == RISK_MUST && expect >= 0)
        expect = -ESTALE;
    if (got == expect && (expect >= 0 || r->op_risk == RISK_NONE))
        return 0;
    if (!(got == expect || (got == -ESTALE && r->op_risk != RISK_NONE) ||
          (got == -EIO && eio_ok))) {
        char versions[200] = "";
        if (slot >= 0 && r->handles[slot].lineage >= 0) {
            const mhandle *h = &r->handles[slot];
            const mlineage *l = &r->lineages[h->lineage];
            snprintf(versions, sizeof(versions),
                     " [handle of %llu bytes, lineage %d of %llu bytes now%s, "
                     "first truncated to %lld; the library's entry saw the "
                     "end at %lld]", (unsigned long long)h->size, h->lineage,
                     (unsigned long long)l->size,
                     l->current ? "" : ", replaced",
                     (long long)l->first_trunc,
                     (long long)h->f->entry->seen_end);
        }
        FAIL(r, "%s gave %lld, the model says %lld%s%s%s", what,
             (long long)got, (long long)expect,
             r->op_risk == RISK_MUST  ? " (or -ESTALE: the version changed)"
             : r->op_risk == RISK_MAY ? " (or -ESTALE: the file was replaced)"
                                      : "",
             eio_ok ? " (or -EIO: the file was truncated)" : "", versions);
    }
    if (slot >= 0 && MODEL_IS_VFILE(r->handles[slot].fid)) {
        const mhandle *h = &r->handles[slot];
        const mlineage *l = &r->lineages[h->lineage];
        const mentry *e = &r->entries[h->entry];
        /* What the library learned (VERSIONS.md 3, 4): a read that failed
         * with -EIO saw a fault or the seen end; a new window refused
         * because the file (still at the path, with the same mtime) is
         * smaller than the handle saw its size. Either way the end it
         * recorded is no larger than the first truncation left. */
        if (got == -EIO ||
            (got == -ESTALE && l->current && l->size < h->size &&
             !(r->check_mtime && e->mtime_ns != l->mtime_ns)))
            model__observe_shrink(r, slot, l->first_trunc);
    }
    if (got == -ESTALE)
        model_figures.estale++;
    if (got == -EIO)
        model_figures.eio++;
    return resync(r, is_read, what) ? 1 : 2;
}
