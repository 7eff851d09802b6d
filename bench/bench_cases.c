/*
 * bench_cases.c - cases and how they are measured: the access patterns,
 * the read loop of every strategy, the calibrated and interleaved timing,
 * and the smmap configurations (managers, handles, cursors) the cases read
 * through.
 *
 * The loops are kept as tight as each strategy allows, so that the
 * baselines carry no overhead the smmap loops do not also carry. The
 * baselines call pread and mmap directly; the library is used only through
 * smmap.h.
 */
#include "bench_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- patterns ----------------------------------------------------------- */

pattern bench_random_pattern(size_t n, uint64_t lo, uint64_t span, size_t len)
{
    pattern p;
    size_t i;
    p.off = bench_malloc(n * sizeof(*p.off));
    p.fidx = NULL;
    p.n = n;
    p.len = len;
    for (i = 0; i < n; i++)
        p.off[i] = lo + bench_rng() % (span - len + 1);
    return p;
}

pattern bench_sequential_pattern(uint64_t size, size_t len)
{
    pattern p;
    size_t i;
    p.n = (size_t)(size / len);
    p.len = len;
    p.fidx = NULL;
    p.off = bench_malloc(p.n * sizeof(*p.off));
    for (i = 0; i < p.n; i++)
        p.off[i] = (uint64_t)i * len;
    return p;
}

void bench_free_pattern(pattern *p)
{
    free(p->off);
    free(p->fidx);
}

/* ---- the descriptor budget of K_PREAD_LRU ------------------------------- */

void bench_fd_budget_init(fd_budget *b, char **paths, int n, int max)
{
    int k;
    b->paths = paths;
    b->fd = bench_malloc(sizeof(int) * (size_t)n);
    b->used = bench_malloc(sizeof(uint64_t) * (size_t)n);
    b->max = max;
    b->open_files = bench_malloc(sizeof(int) * (size_t)max);
    b->open = 0;
    b->tick = 0;
    for (k = 0; k < n; k++) {
        b->fd[k] = -1;
        b->used[k] = 0;
    }
}

void bench_fd_budget_free(fd_budget *b)
{
    int k;
    for (k = 0; k < b->open; k++)
        close(b->fd[b->open_files[k]]);
    free(b->fd);
    free(b->used);
    free(b->open_files);
}

static int fd_budget_get(fd_budget *b, int f)
{
    if (b->fd[f] < 0) {
        if (b->open == b->max) {
            int i, oldest = 0;
            for (i = 1; i < b->open; i++)
                if (b->used[b->open_files[i]] < b->used[b->open_files[oldest]])
                    oldest = i;
            close(b->fd[b->open_files[oldest]]);
            b->fd[b->open_files[oldest]] = -1;
            b->open_files[oldest] = b->open_files[--b->open];
        }
        b->fd[f] = open(b->paths[f], O_RDONLY | O_CLOEXEC);
        if (b->fd[f] < 0)
            bench_die("open %s: %s", b->paths[f], strerror(errno));
        b->open_files[b->open++] = f;
    }
    b->used[f] = ++b->tick;
    return b->fd[f];
}

static uint64_t diag_counter;
static pthread_mutex_t diag_mutex = PTHREAD_MUTEX_INITIALIZER;

static uint64_t load_ends(const unsigned char *p, size_t len)
{
    uint64_t a, b;
    memcpy(&a, p, 8);
    memcpy(&b, p + len - 8, 8);
    return a ^ b;
}

/* Single-file loops, kept as tight as the strategy allows so that the
 * baselines carry no overhead the smmap loops do not also carry. */
static uint64_t run_single(bcase *c, const pattern *pt, size_t n)
{
    const uint64_t *off = pt->off;
    size_t len = pt->len, i;
    uint64_t sum = 0;
    unsigned char buf[64 * 1024];
    const unsigned char *base = c->bases ? c->bases[0] : NULL;
    smmap_cursor *cur = c->cursors;

    switch (c->kind) {
    case K_MMAP:
        for (i = 0; i < n; i++)
            sum += load_ends(base + off[i], len);
        break;
    case K_MMAP_COPY:
        for (i = 0; i < n; i++) {
            memcpy(buf, base + off[i], len);
            bench_escape(buf);
            sum += load_ends(buf, len);
        }
        break;
    case K_PREAD:
        for (i = 0; i < n; i++) {
            if (pread(c->fds[0], buf, len, (off_t)off[i]) != (ssize_t)len)
                bench_die("pread: %s", strerror(errno));
            sum += load_ends(buf, len);
        }
        break;
    case K_CURSOR_AT:
        for (i = 0; i < n; i++) {
            const unsigned char *p = smmap_cursor_at(cur, off[i], len);
            if (p == NULL)
                bench_check(cur->error, "smmap_cursor_at");
            sum += load_ends(p, len);
        }
        break;
    case K_CURSOR_AT_COPY:
        for (i = 0; i < n; i++) {
            const unsigned char *p = smmap_cursor_at(cur, off[i], len);
            if (p == NULL)
                bench_check(cur->error, "smmap_cursor_at");
            memcpy(buf, p, len);
            bench_escape(buf);
            sum += load_ends(buf, len);
        }
        break;
    case K_READ:
        for (i = 0; i < n; i++) {
            int64_t got = smmap_read(cur, off[i], buf, len);
            if (got != (int64_t)len)
                bench_check(got < 0 ? (int)got : -EIO, "smmap_read");
            sum += load_ends(buf, len);
        }
        break;
    case K_MMAP_ATOMIC:
        for (i = 0; i < n; i++) {
            __atomic_fetch_add(&diag_counter, 1, __ATOMIC_SEQ_CST);
            sum += load_ends(base + off[i], len);
        }
        break;
    case K_MMAP_CHECKED:
        for (i = 0; i < n; i++) {
            raw_window *w = c->window;
            uint64_t rel = off[i] - w->begin;
            const unsigned char *p = NULL;
            if (rel < (uint64_t)w->size && (uint64_t)len <= w->size - rel)
                p = w->data + rel;
            if (p == NULL)
                bench_die("K_MMAP_CHECKED: outside the window");
            sum += load_ends(p, len);
        }
        break;
    case K_MMAP_MUTEX:
        for (i = 0; i < n; i++) {
            pthread_mutex_lock(&diag_mutex);
            diag_counter++;
            pthread_mutex_unlock(&diag_mutex);
            sum += load_ends(base + off[i], len);
        }
        break;
    case K_SWITCH:
    case K_RAW_EVICT:
    case K_PREAD_LRU:
        bench_die("K_SWITCH, K_RAW_EVICT and K_PREAD_LRU need a file index");
    }
    return sum;
}

static uint64_t run_many(bcase *c, const pattern *pt, size_t n)
{
    const uint64_t *off = pt->off;
    const uint32_t *fidx = pt->fidx;
    size_t len = pt->len, i;
    uint64_t sum = 0;
    unsigned char buf[64 * 1024];
    int current = -1;

    switch (c->kind) {
    case K_MMAP:
        for (i = 0; i < n; i++)
            sum += load_ends(c->bases[fidx ? fidx[i] : 0] + off[i], len);
        break;
    case K_MMAP_COPY:
        for (i = 0; i < n; i++) {
            memcpy(buf, c->bases[fidx ? fidx[i] : 0] + off[i], len);
            bench_escape(buf);
            sum += load_ends(buf, len);
        }
        break;
    case K_PREAD:
        for (i = 0; i < n; i++) {
            if (pread(c->fds[fidx ? fidx[i] : 0], buf, len, (off_t)off[i]) !=
                (ssize_t)len)
                bench_die("pread: %s", strerror(errno));
            sum += load_ends(buf, len);
        }
        break;
    case K_PREAD_LRU:
        for (i = 0; i < n; i++) {
            int fd = fd_budget_get(c->budget, fidx ? (int)fidx[i] : 0);
            if (pread(fd, buf, len, (off_t)off[i]) != (ssize_t)len)
                bench_die("pread: %s", strerror(errno));
            sum += load_ends(buf, len);
        }
        break;
    case K_CURSOR_AT:
        for (i = 0; i < n; i++) {
            smmap_cursor *cur = &c->cursors[fidx ? fidx[i] : 0];
            const unsigned char *p = smmap_cursor_at(cur, off[i], len);
            if (p == NULL)
                bench_check(cur->error, "smmap_cursor_at");
            sum += load_ends(p, len);
        }
        break;
    case K_CURSOR_AT_COPY:
        for (i = 0; i < n; i++) {
            smmap_cursor *cur = &c->cursors[fidx ? fidx[i] : 0];
            const unsigned char *p = smmap_cursor_at(cur, off[i], len);
            if (p == NULL)
                bench_check(cur->error, "smmap_cursor_at");
            memcpy(buf, p, len);
            bench_escape(buf);
            sum += load_ends(buf, len);
        }
        break;
    case K_READ:
        for (i = 0; i < n; i++) {
            int64_t got = smmap_read(&c->cursors[fidx ? fidx[i] : 0], off[i],
                                     buf, len);
            if (got != (int64_t)len)
                bench_check(got < 0 ? (int)got : -EIO, "smmap_read");
            sum += load_ends(buf, len);
        }
        break;
    case K_SWITCH:
        for (i = 0; i < n; i++) {
            smmap_cursor *cur = &c->cursors[0];
            const unsigned char *p;
            int f = fidx ? (int)fidx[i] : 0;
            if (f != current) {
                smmap_cursor_release(cur);
                smmap_cursor_init(cur, c->files[f]);
                current = f;
            }
            p = smmap_cursor_at(cur, off[i], len);
            if (p == NULL)
                bench_check(cur->error, "smmap_cursor_at");
            sum += load_ends(p, len);
        }
        break;
    case K_RAW_EVICT:
        for (i = 0; i < n; i++) {
            raw_evict *r = c->raw;
            const unsigned char *p;
            if (i & 1) {
                size_t k = (r->head + i * 7919) % r->n;
                p = r->live[k] + (off[i] & (PAGE - 1)) + PAGE;
            } else {
                uint64_t page0 = off[i] / PAGE - 1; /* slot pages [2k, 2k+2) */
                void *m;
                munmap((void *)r->live[r->head], 2 * PAGE);
                m = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED,
                         c->fds[fidx[i]], (off_t)(page0 * PAGE));
                if (m == MAP_FAILED)
                    bench_die("mmap: %s", strerror(errno));
                r->live[r->head] = m;
                r->live_off[r->head] = page0 * PAGE;
                p = (const unsigned char *)m + (off[i] - page0 * PAGE);
                r->head = (r->head + 1) % r->n;
            }
            sum += load_ends(p, len);
        }
        break;
    case K_MMAP_ATOMIC:
    case K_MMAP_MUTEX:
    case K_MMAP_CHECKED:
        bench_die("diagnostic cases are single-file");
    }
    return sum;
}

/* Run n operations of the case's pattern, continuing where the previous
 * run stopped (wrapping around), so that a repetition does not replay the
 * reads the previous one just brought into the cache of windows. */
static uint64_t run_case(bcase *c, size_t n)
{
    uint64_t sum = 0;
    while (n > 0) {
        pattern view = *c->pat;
        size_t seg;
        if (c->next >= view.n)
            c->next = 0;
        seg = view.n - c->next < n ? view.n - c->next : n;
        view.off += c->next;
        if (view.fidx)
            view.fidx += c->next;
        view.n = seg;
        sum += view.fidx ? run_many(c, &view, seg) : run_single(c, &view, seg);
        c->next += seg;
        n -= seg;
    }
    return sum;
}

/* One timed repetition; the manager's counters are read outside the timed
 * span and summed per case, since cases may share a manager. */
void bench_timed_run(bcase *c)
{
    smmap_stats a, b;
    uint64_t t0;
    if (c->manager)
        smmap_manager_stats(c->manager, &a);
    t0 = bench_now_ns();
    bench_sink += run_case(c, c->ops);
    c->samples[c->nsamples++] = (double)(bench_now_ns() - t0) / (double)c->ops;
    if (c->manager) {
        smmap_manager_stats(c->manager, &b);
        c->maps += b.maps - a.maps;
        c->evictions += b.evictions - a.evictions;
        c->fd_reopens += b.fd_reopens - a.fd_reopens;
        c->read_windows += b.read_windows - a.read_windows;
        c->direct_reads += b.direct_reads - a.direct_reads;
        c->regions = b.regions;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(const double *samples, int n)
{
    double sorted[MAX_REPS];
    memcpy(sorted, samples, sizeof(double) * (size_t)n);
    qsort(sorted, (size_t)n, sizeof(double), cmp_double);
    return sorted[n / 2];
}

/*
 * Run every case reps times, interleaved: repetition r runs case 0, 1, ...
 * before repetition r + 1 starts. Each case first runs a calibration pass
 * (which also warms it) to pick the operation count that takes about
 * target_s; the timed repetitions reuse the same offsets.
 */
void bench_measure(bcase *cases, int ncases, const bench_config *cfg)
{
    int i, r;
    for (i = 0; i < ncases; i++) {
        bcase *c = &cases[i];
        size_t probe = c->pat->n < 2000 ? c->pat->n : 2000;
        uint64_t t0, dt;
        /* Calibrate on a second probe: the first may fill a fresh
         * manager's budget (a map per read), which would make the
         * repetitions too short for this machine's noise. */
        bench_sink += run_case(c, probe);
        t0 = bench_now_ns();
        bench_sink += run_case(c, probe);
        dt = bench_now_ns() - t0;
        if (dt == 0)
            dt = 1;
        c->ops = (size_t)(cfg->target_s * 1e9 / ((double)dt / (double)probe));
        if (c->ops < probe)
            c->ops = probe;
        if (c->ops > c->pat->n)
            c->ops = c->pat->n;
        c->nsamples = 0;
        c->maps = c->evictions = c->fd_reopens = 0;
        c->read_windows = c->direct_reads = 0;
    }
    for (r = 0; r < cfg->reps; r++)
        for (i = 0; i < ncases; i++)
            bench_timed_run(&cases[i]);
    for (i = 0; i < ncases; i++)
        cases[i].ns = bench_median(cases[i].samples, cases[i].nsamples);
}

size_t bench_ops(const bench_config *cfg, size_t full)
{
    return cfg->quick ? full / 8 : full;
}

bcase bench_case(const char *strategy, const char *mode, enum kind k,
                 const pattern *pat)
{
    bcase c;
    memset(&c, 0, sizeof(c));
    c.strategy = strategy;
    snprintf(c.mode, sizeof(c.mode), "%s", mode);
    c.kind = k;
    c.pat = pat;
    return c;
}

/* ---- smmap configurations ----------------------------------------------- */

uint64_t bench_default_window(void)
{
    smmap_options o;
    smmap_options_init(&o);
    return o.window_size;
}

smmap_manager *bench_new_manager(uint64_t window, uint64_t max_mapped,
                                 uint32_t max_regions, uint32_t max_open_files,
                                 uint32_t flags)
{
    smmap_options o;
    smmap_manager *m;
    smmap_options_init(&o);
    o.window_size = window;
    o.flags = flags;
    if (max_mapped)
        o.max_mapped = max_mapped;
    if (max_regions)
        o.max_regions = max_regions;
    if (max_open_files)
        o.max_open_files = max_open_files;
    bench_check(smmap_manager_new(&m, &o), "smmap_manager_new");
    return m;
}

smmap_file *bench_open_smmap(smmap_manager *m, const char *path)
{
    smmap_file *f;
    bench_check(smmap_file_open(m, path, &f), path);
    return f;
}

void bench_big_open(big_smmap *b, const char *path, uint64_t window,
                    uint64_t max_mapped, uint32_t max_regions)
{
    b->m = bench_new_manager(window, max_mapped, max_regions, 0, 0);
    b->f = bench_open_smmap(b->m, path);
    b->ncursors = 0;
}

smmap_cursor *bench_big_cursor(big_smmap *b)
{
    smmap_cursor *c;
    if (b->ncursors == (int)(sizeof(b->cursors) / sizeof(b->cursors[0])))
        bench_die("bench_big_cursor: too many cursors");
    c = &b->cursors[b->ncursors++];
    smmap_cursor_init(c, b->f);
    return c;
}

void bench_warm_through(smmap_cursor *c, uint64_t lo, uint64_t size)
{
    uint64_t o;
    for (o = lo; o < lo + size; o += PAGE) {
        const unsigned char *p = smmap_cursor_at(c, o, 1);
        if (p == NULL)
            bench_check(c->error, "smmap_cursor_at (warm)");
        bench_sink += *p;
    }
}

void bench_big_close(big_smmap *b)
{
    int i;
    for (i = 0; i < b->ncursors; i++)
        smmap_cursor_release(&b->cursors[i]);
    smmap_file_close(b->f);
    smmap_manager_free(b->m);
}

bcase bench_big_case(const char *strategy, const char *mode, enum kind k,
                     const pattern *pat, big_smmap *b)
{
    bcase c = bench_case(strategy, mode, k, pat);
    c.cursors = bench_big_cursor(b);
    c.manager = b->m;
    return c;
}

void bench_many_open(many_smmap *ms, const file_set *s, uint64_t window,
                     uint64_t max_mapped, uint32_t max_regions,
                     uint32_t max_open_files, uint32_t flags)
{
    int i;
    ms->n = s->n;
    ms->m = bench_new_manager(window, max_mapped, max_regions, max_open_files,
                              flags);
    ms->files = bench_malloc(sizeof(smmap_file *) * (size_t)s->n);
    ms->cursors = bench_malloc(sizeof(smmap_cursor) * (size_t)s->n);
    for (i = 0; i < s->n; i++) {
        ms->files[i] = bench_open_smmap(ms->m, s->paths[i]);
        smmap_cursor_init(&ms->cursors[i], ms->files[i]);
    }
}

void bench_many_close(many_smmap *ms)
{
    int i;
    for (i = 0; i < ms->n; i++) {
        smmap_cursor_release(&ms->cursors[i]);
        smmap_file_close(ms->files[i]);
    }
    smmap_manager_free(ms->m);
    free(ms->files);
    free(ms->cursors);
}

bcase bench_many_case(const char *strategy, const char *mode, enum kind k,
                      const pattern *pat, many_smmap *ms)
{
    bcase c = bench_case(strategy, mode, k, pat);
    c.cursors = ms->cursors;
    c.files = ms->files;
    c.manager = ms->m;
    return c;
}
