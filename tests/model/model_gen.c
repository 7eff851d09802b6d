/*
 * model_gen.c - random operations and options for the model (model.h):
 * offsets near region boundaries, page edges and ends of files (the ends
 * a handle knows and, for version files, the end on disk now), lengths
 * around the window size, and the version operations with parameters
 * that reach the cases VERSIONS.md names (truncation to a page-aligned
 * end or not, replacement after the library let go of the inode, refresh
 * races on a file that grows).
 */
#include "model_int.h"

#include <string.h>

static const struct {
    int kind, weight;
} weights[] = {
    {OP_OPEN_PATH, 8}, {OP_OPEN_FD, 3},  {OP_CLOSE, 4},   {OP_CURSOR_INIT, 6},
    {OP_USE, 26},      {OP_AT, 18},      {OP_READ, 12},   {OP_RELEASE, 8},
    {OP_COPY, 5},      {OP_COLLECT, 2},  {OP_RELEASE_PATH, 3}, {OP_STATS, 1},
    {OP_USE_RANGE, 10},
    /* Only in runs with version files (see model_generate). */
    {OP_TOUCH, 2},     {OP_APPEND, 3},   {OP_REWRITE, 3}, {OP_TRUNCATE, 2},
    {OP_REPLACE, 3},   {OP_REFRESH, 4},  {OP_REFRESH_RACE, 1},
};

static int is_version_op(int kind)
{
    return kind >= OP_TOUCH && kind < OP_KIND_COUNT;
}

static uint64_t pick_offset(const model_run *r, uint64_t *rng, int slot,
                            const mcursor *c)
{
    const mhandle *h = slot >= 0 ? &r->handles[slot] : NULL;
    uint64_t fsize = h != NULL ? h->size : 0, g = r->g;
    uint64_t x = model_rand_below(rng, 100), base;
    int entry = h != NULL ? h->entry : -1;
    if (h != NULL && h->lineage >= 0 &&
        r->entries[h->entry].seen_bound < h->size &&
        model_rand_below(rng, 3) == 0)
        /* Just before an end the library was seen to learn: a read from
         * here must not return the bytes past it. */
        return r->entries[h->entry].seen_bound - 1 -
               model_rand_below(rng, model_min64(r->entries[h->entry].seen_bound,
                                                 64));
    if (h != NULL && h->lineage >= 0 && model_rand_below(rng, 5) == 0) {
        /* Around the end on disk now, the page of it, and the end the first
         * truncation left. */
        const mlineage *l = &r->lineages[h->lineage];
        uint64_t ends[3] = {l->size, model_align_up(l->size, r->sys_page),
                            l->first_trunc != UINT64_MAX ? l->first_trunc
                                                         : l->size};
        base = ends[model_rand_below(rng, 3)];
        return base + model_rand_below(rng, 5) - 2 -
               (model_rand_below(rng, 3) == 0 ? g / 2 : 0);
    }
    if (x < 20)
        return model_rand_below(rng, fsize);
    if (x < 35 && entry >= 0) {
        int i, n = 0, pick;
        for (i = 0; i < MODEL_MAX_REGIONS; i++)
            if (r->regions[i].live && r->regions[i].entry == entry)
                n++;
        if (n > 0) {
            pick = (int)model_rand_below(rng, (uint64_t)n);
            for (i = 0; i < MODEL_MAX_REGIONS; i++) {
                const mregion *y = &r->regions[i];
                if (!y->live || y->entry != entry || pick-- != 0)
                    continue;
                base = model_rand_below(rng, 2) ? y->off : y->off + y->size;
                return base + model_rand_below(rng, 3) - 1;
            }
        }
    }
    if (x < 50)
        return g * model_rand_below(rng, fsize / g + 2) +
               model_rand_below(rng, 3) - 1;
    if (x < 58)
        return 0;
    if (x < 66)
        return fsize - 1;
    if (x < 70) {
        static const uint64_t past[] = {0, 1, 4096};
        if (model_rand_below(rng, 4) == 0)
            return UINT64_MAX - model_rand_below(rng, 3);
        return fsize + past[model_rand_below(rng, 3)];
    }
    if (x < 80 && c != NULL && c->c.data != NULL)
        return c->c.begin + c->c.size - model_rand_below(rng, 2);
    if (x < 88 && fsize > (4ull << 30))
        return (4ull << 30) - 2 * g + model_rand_below(rng, 4 * g);
    return model_rand_below(rng, 8 * g);
}

static uint64_t pick_length(const model_run *r, uint64_t *rng, int for_read)
{
    uint64_t w = r->window ? r->window : 4 * r->g,
             x = model_rand_below(rng, 100);
    if (x < 12)
        return 0;
    if (x < 25)
        return 1;
    if (x < 55)
        return 1 + model_rand_below(rng, 2 * w + r->g);
    if (x < 65)
        return w;
    if (x < 70)
        return w + 1;
    if (x < 85)
        return 1 + model_rand_below(rng, r->g);
    if (x < 87 && !for_read)
        return model_rand_below(rng, 2) ? SIZE_MAX : (uint64_t)SIZE_MAX - 1;
    return 1 + model_rand_below(rng, 5 * w);
}

/* A live handle slot, preferring those of version files; -1 if none. */
static int pick_handle(const model_run *r, uint64_t *rng)
{
    int slots[MODEL_HANDLE_SLOTS], n = 0, nv = 0, i;
    for (i = 0; i < MODEL_HANDLE_SLOTS; i++)
        if (r->handles[i].live && r->handles[i].lineage >= 0)
            slots[nv++] = i;
    n = nv;
    if (nv == 0 || model_rand_below(rng, 4) == 0)
        for (i = 0; i < MODEL_HANDLE_SLOTS; i++)
            if (r->handles[i].live && r->handles[i].lineage < 0)
                slots[n++] = i;
    if (n == 0)
        return -1;
    return slots[model_rand_below(rng, (uint64_t)n)];
}

/* Version operations: which file, and what to do to it. */
static void generate_version_op(const model_run *r, uint64_t *rng,
                                model_op *op)
{
    uint64_t g = r->g;
    int v = (int)model_rand_below(rng, r->nvfiles), a, i;
    const mlineage *l = &r->lineages[r->vfiles[v].lineage];
    op->file = (uint8_t)v;
    switch (op->kind) {
    case OP_APPEND:
        op->len = model_rand_below(rng, 4) == 0 ? g - 1 - l->size % g
                                                : model_rand_below(rng, 3 * g);
        break;
    case OP_REWRITE:
        op->off = model_rand(rng);
        op->len = model_rand_below(rng, 4) == 0
                      ? 0
                      : 1 + model_rand_below(rng, 2 * g);
        break;
    case OP_TRUNCATE:
        op->b = (uint8_t)model_rand_below(rng, 4);
        op->off = model_rand(rng);
        break;
    case OP_REPLACE: {
        uint64_t sizes[6] = {0, 1, g - 1, g, l->size,
                             model_rand_below(rng, 10 * g)};
        op->len = sizes[model_rand_below(rng, 6)] +
                  (model_rand_below(rng, 3) == 0 ? model_rand_below(rng, g)
                                                 : 0);
        op->b = (uint8_t)model_rand_below(rng, 8);
        break;
    }
    case OP_REFRESH:
        a = pick_handle(r, rng);
        op->a = (uint8_t)(a >= 0 ? a : 0);
        break;
    case OP_REFRESH_RACE:
        /* Two handles of one lineage that can still grow (or one handle
         * twice). */
        a = pick_handle(r, rng);
        for (i = 0; i < MODEL_HANDLE_SLOTS; i++) {
            const mhandle *h = &r->handles[(a + 1 + i) % MODEL_HANDLE_SLOTS];
            if (h->live && h->lineage >= 0 &&
                r->lineages[h->lineage].current &&
                r->lineages[h->lineage].first_trunc == UINT64_MAX) {
                a = (a + 1 + i) % MODEL_HANDLE_SLOTS;
                break;
            }
        }
        op->a = op->b = (uint8_t)(a >= 0 ? a : 0);
        if (a >= 0 && r->handles[a].lineage >= 0 && model_rand_below(rng, 3))
            for (i = 0; i < MODEL_HANDLE_SLOTS; i++)
                if (i != a && r->handles[i].live &&
                    r->handles[i].lineage == r->handles[a].lineage)
                    op->b = (uint8_t)i;
        op->len = model_rand(rng);
        op->off = model_rand(rng);
        break;
    default:
        break;
    }
}

void model_generate(const model_run *r, uint64_t *rng, model_op *op)
{
    int total = 0, i, live = 0, pick;
    int n = (int)(sizeof(weights) / sizeof(weights[0]));
    int versions = r->nvfiles > 0 && model_versions_enabled;
    memset(op, 0, sizeof(*op));
    for (i = 0; i < MODEL_HANDLE_SLOTS; i++)
        live += r->handles[i].live;
    for (i = 0; i < n; i++)
        if (versions || !is_version_op(weights[i].kind))
            total += weights[i].weight;
    pick = (int)model_rand_below(rng, (uint64_t)total);
    for (i = 0;; i++) {
        if (!versions && is_version_op(weights[i].kind))
            continue;
        if (pick < weights[i].weight)
            break;
        pick -= weights[i].weight;
    }
    op->kind = (uint8_t)weights[i].kind;
    if (live == 0 && model_rand_below(rng, 4) != 0)
        op->kind = model_rand_below(rng, 4) ? OP_OPEN_PATH : OP_OPEN_FD;
    switch (op->kind) {
    case OP_OPEN_PATH:
    case OP_OPEN_FD:
        if (live == MODEL_HANDLE_SLOTS) {
            op->kind = OP_CLOSE;
            op->a = (uint8_t)model_rand_below(rng, MODEL_HANDLE_SLOTS);
            break;
        }
        do
            op->a = (uint8_t)model_rand_below(rng, MODEL_HANDLE_SLOTS);
        while (r->handles[op->a].live);
        op->b = (uint8_t)model_rand_below(rng, 3);
        /* Half of the opens go to the version files, where there are. */
        if (r->nvfiles > 0 && model_rand_below(rng, 2))
            op->file = (uint8_t)(r->cfg.nfiles +
                                 model_rand_below(rng, r->nvfiles));
        else
            op->file = (uint8_t)model_rand_below(rng, r->cfg.nfiles);
        break;
    case OP_CLOSE:
        op->a = (uint8_t)model_rand_below(rng, MODEL_HANDLE_SLOTS);
        /* Half of the time a handle of a replaced file, if there is one:
         * they give -ESTALE for most new windows, and new opens of the
         * path read the new file. */
        if (model_rand_below(rng, 2))
            for (i = 0; i < MODEL_HANDLE_SLOTS; i++)
                if (r->handles[i].live && r->handles[i].lineage >= 0 &&
                    !r->lineages[r->handles[i].lineage].current)
                    op->a = (uint8_t)i;
        break;
    case OP_CURSOR_INIT:
        op->a = (uint8_t)model_rand_below(rng, MODEL_CURSOR_SLOTS);
        op->b = (uint8_t)model_rand_below(rng, MODEL_HANDLE_SLOTS + 1);
        if (op->b < MODEL_HANDLE_SLOTS && !r->handles[op->b].live &&
            live > 0 && model_rand_below(rng, 8) != 0) {
            do
                op->b = (uint8_t)model_rand_below(rng, MODEL_HANDLE_SLOTS);
            while (!r->handles[op->b].live);
        }
        break;
    case OP_USE:
    case OP_AT:
    case OP_READ:
    case OP_USE_RANGE: {
        const mcursor *c;
        op->a = (uint8_t)model_rand_below(rng, MODEL_CURSOR_SLOTS);
        c = &r->cursors[op->a];
        op->off = pick_offset(r, rng, c->handle, c);
        op->len = pick_length(r, rng, op->kind == OP_READ);
        if (op->kind == OP_READ)
            op->b = model_rand_below(rng, 40) == 0;
        if (op->kind == OP_USE_RANGE)
            op->need = pick_length(r, rng, 0);
        break;
    }
    case OP_RELEASE:
        op->a = (uint8_t)model_rand_below(rng, MODEL_CURSOR_SLOTS);
        break;
    case OP_COPY:
        op->a = (uint8_t)model_rand_below(rng, MODEL_CURSOR_SLOTS);
        op->b = (uint8_t)model_rand_below(rng, MODEL_CURSOR_SLOTS);
        break;
    case OP_RELEASE_PATH:
        op->b = (uint8_t)model_rand_below(rng, 5);
        op->file = (uint8_t)model_rand_below(rng, r->cfg.nfiles + r->nvfiles);
        break;
    default:
        if (is_version_op(op->kind))
            generate_version_op(r, rng, op);
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
    if (model_rand_below(rng, 4) == 0) {
        cfg->opt.window_size = 0;
        cfg->opt.max_mapped = model_rand_below(rng, 5) == 0
                                  ? (8u << 20)
                                  : g * (1 + model_rand_below(rng, 64));
    } else {
        w = g * (1 + model_rand_below(rng, 4));
        /* Sometimes not a multiple of the page: rounded up by the library. */
        cfg->opt.window_size = model_rand_below(rng, 5) == 0
                                   ? w - g + 1 + model_rand_below(rng, g - 1)
                                   : w;
        cfg->opt.max_mapped = w * (1 + model_rand_below(rng, 4)) +
                              g * model_rand_below(rng, 3) +
                              model_rand_below(rng, 2);
    }
    cfg->opt.max_regions = (uint32_t)(1 + model_rand_below(rng, 8));
    cfg->opt.max_open_files = (uint32_t)(1 + model_rand_below(rng, 4));
    cfg->opt.flags = model_rand_below(rng, 10) < 3 ? SMMAP_HARD_LIMITS : 0;
    i = (unsigned)model_rand_below(rng, 10);
    cfg->nfiles = i < 5   ? 1 + (unsigned)model_rand_below(rng, 4)
                  : i < 8 ? 5 + (unsigned)model_rand_below(rng, 8)
                          : 13 + (unsigned)model_rand_below(rng, 38);
    if (cfg->nfiles > pool->count)
        cfg->nfiles = pool->count;
    for (i = 0; i < pool->count; i++)
        order[i] = i;
    for (i = pool->count; i > 1; i--) {
        unsigned j = (unsigned)model_rand_below(rng, i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (i = 0; i < cfg->nfiles; i++)
        cfg->files[i] = (uint8_t)order[i];
    /* Version files in four runs of five. */
    if (model_versions_enabled && model_rand_below(rng, 5) != 0) {
        cfg->nversions = 1 + (unsigned)model_rand_below(rng, MODEL_MAX_VFILES);
        cfg->version_seed = model_rand(rng);
#ifdef SMMAP_CHECK_MTIME
        if (model_rand_below(rng, 6) == 0)
            cfg->opt.flags |= SMMAP_CHECK_MTIME;
#endif
    }
}

static const char *const kind_names[] = {
    "open_path", "open_fd", "close",   "cursor_init",  "use",   "at",
    "read",      "release", "copy",    "collect",      "release_path", "stats",
    "use_range", "touch",   "append",  "rewrite",      "truncate", "replace",
    "refresh",   "refresh_race",
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
    case OP_TOUCH:
        snprintf(buf, size, "%s v%u", name, op->file);
        break;
    case OP_APPEND:
    case OP_REWRITE:
    case OP_TRUNCATE:
    case OP_REPLACE:
        snprintf(buf, size, "%s v%u off=%llu len=%llu kind=%u", name,
                 op->file, (unsigned long long)op->off,
                 (unsigned long long)op->len, op->b);
        break;
    case OP_REFRESH:
        snprintf(buf, size, "%s handle=%u", name, op->a);
        break;
    case OP_REFRESH_RACE:
        snprintf(buf, size, "%s handles=%u,%u appends=%llu", name, op->a,
                 op->b, (unsigned long long)(2 + op->len % 6));
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
                            "max_open_files=%u flags=%u versions=%u "
                            "version_seed=%llu files:",
                            (unsigned long long)cfg->opt.window_size,
                            (unsigned long long)cfg->opt.max_mapped,
                            cfg->opt.max_regions, cfg->opt.max_open_files,
                            cfg->opt.flags, cfg->nversions,
                            (unsigned long long)cfg->version_seed);
    for (i = 0; i < cfg->nfiles && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, " #%u=f%u", i,
                                 cfg->files[i]);
}
