/*
 * bench.c - the benchmark: workloads 1-6 of issue 7 on generated data, each
 * run with every strategy in the same process, interleaved repetition by
 * repetition so that the machine's noise falls on all of them alike.
 *
 * Strategies: raw whole-file mmap (the physical limit; "mmap" reads the
 * bytes in place, "mmap+memcpy" copies them), pread, smmap_cursor_at and
 * smmap_read, in sliding and static mode. Each case reports the median of
 * its repetitions in nanoseconds per operation, and its ratio to mmap and to
 * pread measured in the same run. Nothing here asserts anything about speed:
 * the targets of issue 7 are evaluated and printed, never turned into a
 * failure, because this machine is shared and noisy.
 *
 * The raw baselines call mmap and pread directly: they are what smmap is
 * measured against. The library itself is used only through smmap.h.
 */
#include "smmap.h"
#include "smmap_bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define KIB ((uint64_t)1024)
#define MIB ((uint64_t)1024 * 1024)
#define GIB ((uint64_t)1024 * 1024 * 1024)
#define PAGE ((uint64_t)4096)
#define MAX_REPS 31

/* bench_memory.c */
int smmap_bench_memory(const char *const *paths, int npaths,
                       uint64_t file_size, double *per_region,
                       double *per_file, FILE *out);

/* ------------------------------------------------------------------ */
/* Configuration                                                        */

typedef struct bench_config {
    int quick;
    int reps;
    int cold;          /* run the cold-cache cases (needs root) */
    int keep;          /* keep the generated data */
    double target_s;   /* wall time of one repetition of one case */
    const char *dir;   /* data directory; NULL: a fresh temporary one */
    const char *csv;   /* directory for the plot data, or NULL */
    const char *only;  /* workloads to run, e.g. "1,4"; NULL: all */
    uint64_t big_size; /* workloads 1, 2, 4, 5 */
    int nfiles;        /* workloads 3, 6 */
    uint64_t small_size;
} bench_config;

static char data_dir[4096];
static int made_data_dir;
static volatile uint64_t bench_sink; /* keeps every read alive */
static FILE *csv_regions, *csv_budget;

/* A failure unwinds to smmap_bench_main, which returns 1: the tool that
 * calls it must be able to flush and exit itself. What was allocated is
 * left to the process exit. */
static jmp_buf bench_abort;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "smmap-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    longjmp(bench_abort, 1);
}

static void check(int err, const char *what)
{
    if (err < 0)
        die("%s: %s", what, smmap_strerror(err));
}

/*
 * The clock of the warm cases is the CPU time of this thread (user and
 * system): on this shared two-core machine other processes take whole time
 * slices, and a wall clock would charge them to whichever case was running.
 * The cold cases wait for the disk, which only a wall clock sees.
 */
static clockid_t bench_clock = CLOCK_THREAD_CPUTIME_ID;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: a fixed seed gives every run the same offsets. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        die("out of memory (%zu bytes)", n);
    return p;
}

static int workload_enabled(const bench_config *cfg, int n)
{
    const char *p;
    if (cfg->only == NULL)
        return 1;
    for (p = cfg->only; *p; p++)
        if (*p - '0' == n && (p[1] == '\0' || p[1] == ','))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Data                                                                 */

static void fill_random(unsigned char *buf, size_t n)
{
    size_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        uint64_t v = rng();
        memcpy(buf + i, &v, 8);
    }
}

/* Write size pseudo-random bytes to path unless it already has that size. */
static void make_file(const char *path, uint64_t size)
{
    struct stat st;
    unsigned char *buf;
    uint64_t done = 0;
    int fd;
    if (stat(path, &st) == 0 && (uint64_t)st.st_size == size)
        return;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die("create %s: %s", path, strerror(errno));
    buf = xmalloc(MIB);
    while (done < size) {
        size_t n = (size_t)(size - done < MIB ? size - done : MIB);
        fill_random(buf, n);
        if (write(fd, buf, n) != (ssize_t)n)
            die("write %s: %s", path, strerror(errno));
        done += n;
    }
    free(buf);
    close(fd);
}

static char *small_path(int i)
{
    char *p = xmalloc(strlen(data_dir) + 32);
    sprintf(p, "%s/small-%03d.bin", data_dir, i);
    return p;
}

static char *big_path(void)
{
    char *p = xmalloc(strlen(data_dir) + 16);
    sprintf(p, "%s/big.bin", data_dir);
    return p;
}

/* Read a file once so its pages are in the page cache. */
static void warm_page_cache(const char *path)
{
    unsigned char *buf = xmalloc(MIB);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die("open %s: %s", path, strerror(errno));
    while (read(fd, buf, MIB) > 0)
        ;
    close(fd);
    free(buf);
}

static int can_drop_caches(void)
{
    int fd;
    if (geteuid() != 0)
        return 0;
    fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

static void drop_caches(void)
{
    int fd;
    sync();
    fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
    if (fd < 0 || write(fd, "3\n", 2) != 2)
        die("drop_caches: %s", strerror(errno));
    close(fd);
}

static const unsigned char *map_whole(int fd, uint64_t size, int populate)
{
    void *p = mmap(NULL, (size_t)size, PROT_READ,
                   MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0);
    if (p == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    return p;
}

static int open_ro(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die("open %s: %s", path, strerror(errno));
    return fd;
}

/* Flags of the managers made next (workload 6's eviction case sets
 * SMMAP_ALWAYS_MAP: it measures maps with eviction). */
static uint32_t manager_flags;

static smmap_manager *new_manager(uint64_t window, uint64_t max_mapped,
                                  uint32_t max_regions,
                                  uint32_t max_open_files)
{
    smmap_options o;
    smmap_manager *m;
    smmap_options_init(&o);
    o.window_size = window;
    o.flags = manager_flags;
    if (max_mapped)
        o.max_mapped = max_mapped;
    if (max_regions)
        o.max_regions = max_regions;
    if (max_open_files)
        o.max_open_files = max_open_files;
    check(smmap_manager_new(&m, &o), "smmap_manager_new");
    return m;
}

static smmap_file *open_smmap(smmap_manager *m, const char *path)
{
    smmap_file *f;
    check(smmap_file_open(m, path, &f), path);
    return f;
}

/* ------------------------------------------------------------------ */
/* Cases                                                                */

/* How a case reads: the strategy. */
enum kind {
    K_MMAP,      /* read in place from a whole-file map */
    K_MMAP_COPY, /* memcpy out of a whole-file map */
    K_PREAD,
    K_CURSOR_AT, /* one cursor per file, smmap_cursor_at, read in place */
    K_CURSOR_AT_COPY,
    K_READ,      /* one cursor per file, smmap_read */
    K_SWITCH,    /* one cursor for every file: release and init on a change */
    K_PREAD_LRU, /* pread under a budget of descriptors (see fd_budget) */
    /* Diagnostics, not strategies: a whole-file map read in place with one
     * atomic read-modify-write, or one mutex lock and unlock, per read. They
     * show what any design that takes a lock or pins with an atomic per
     * window switch costs at least on this machine. */
    K_MMAP_ATOMIC,
    K_MMAP_MUTEX,
    /* A whole-file map read through the same two bounds checks as
     * smmap_cursor_at's hit path, against a window description the compiler
     * cannot see through: what any checked window API costs at least. */
    K_MMAP_CHECKED,
    /* The kernel's share of workload 6's eviction: N live 8 KiB mappings
     * made by hand; every other read unmaps the oldest and maps the next
     * slot, the others read a live one. No smmap code runs. */
    K_RAW_EVICT
};

/* The window of K_MMAP_CHECKED, reached through a pointer the compiler must
 * reload (see escape()). */
typedef struct raw_window {
    const unsigned char *data;
    uint64_t begin;
    size_t size;
} raw_window;

/* State of K_RAW_EVICT. */
typedef struct raw_evict {
    const unsigned char **live; /* N mappings of 2 pages, oldest at head */
    uint64_t *live_off;         /* file offset of each */
    size_t n, head;
} raw_evict;

/* State of K_PREAD_LRU: pread as an application under the same budget of
 * descriptors as the manager would do it. A read of a file whose
 * descriptor is closed opens it, closing the least recently read of the
 * open ones first when max are open (no identity check: smmap's reopen adds
 * an fstat). */
typedef struct fd_budget {
    char **paths;
    int *fd;         /* per file, -1 while closed */
    uint64_t *used;  /* per file, the tick of its last read */
    int *open_files; /* the files whose descriptor is open */
    int open, max;
    uint64_t tick;
} fd_budget;

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
            die("open %s: %s", b->paths[f], strerror(errno));
        b->open_files[b->open++] = f;
    }
    b->used[f] = ++b->tick;
    return b->fd[f];
}

static uint64_t diag_counter;
static pthread_mutex_t diag_mutex = PTHREAD_MUTEX_INITIALIZER;

/* An access pattern: operation i reads len bytes at off[i] of file fidx[i]
 * (fidx NULL: file 0). */
typedef struct pattern {
    uint64_t *off;
    uint32_t *fidx;
    size_t n;
    size_t len;
} pattern;

typedef struct bcase {
    const char *strategy;
    char mode[96];
    enum kind kind;
    const pattern *pat;
    /* per file, indexed by fidx */
    const unsigned char **bases;
    int *fds;
    smmap_cursor *cursors;
    smmap_file **files;
    smmap_manager *manager;
    int is_mmap, is_pread; /* the baselines the ratios divide by */
    size_t ops;            /* calibrated operations per repetition */
    size_t next;           /* where in the pattern the next run starts */
    double samples[MAX_REPS];
    int nsamples;
    double ns;             /* median ns per operation */
    uint64_t maps, evictions, fd_reopens; /* during the timed runs */
    uint64_t read_windows, direct_reads;  /* during the timed runs */
    uint32_t regions;                     /* live after the last run */
    raw_window *window;                   /* K_MMAP_CHECKED */
    raw_evict *raw;                       /* K_RAW_EVICT */
    fd_budget *budget;                    /* K_PREAD_LRU */
} bcase;

static uint64_t load_ends(const unsigned char *p, size_t len)
{
    uint64_t a, b;
    memcpy(&a, p, 8);
    memcpy(&b, p + len - 8, 8);
    return a ^ b;
}

/* An empty asm that claims to read buf: memcpy into buf cannot be elided. */
static void escape(void *buf)
{
    __asm__ volatile("" : : "r"(buf) : "memory");
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
            escape(buf);
            sum += load_ends(buf, len);
        }
        break;
    case K_PREAD:
        for (i = 0; i < n; i++) {
            if (pread(c->fds[0], buf, len, (off_t)off[i]) != (ssize_t)len)
                die("pread: %s", strerror(errno));
            sum += load_ends(buf, len);
        }
        break;
    case K_CURSOR_AT:
        for (i = 0; i < n; i++) {
            const unsigned char *p = smmap_cursor_at(cur, off[i], len);
            if (p == NULL)
                check(cur->error, "smmap_cursor_at");
            sum += load_ends(p, len);
        }
        break;
    case K_CURSOR_AT_COPY:
        for (i = 0; i < n; i++) {
            const unsigned char *p = smmap_cursor_at(cur, off[i], len);
            if (p == NULL)
                check(cur->error, "smmap_cursor_at");
            memcpy(buf, p, len);
            escape(buf);
            sum += load_ends(buf, len);
        }
        break;
    case K_READ:
        for (i = 0; i < n; i++) {
            int64_t got = smmap_read(cur, off[i], buf, len);
            if (got != (int64_t)len)
                check(got < 0 ? (int)got : -EIO, "smmap_read");
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
                die("K_MMAP_CHECKED: outside the window");
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
        die("K_SWITCH, K_RAW_EVICT and K_PREAD_LRU need a file index");
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
            escape(buf);
            sum += load_ends(buf, len);
        }
        break;
    case K_PREAD:
        for (i = 0; i < n; i++) {
            if (pread(c->fds[fidx ? fidx[i] : 0], buf, len, (off_t)off[i]) !=
                (ssize_t)len)
                die("pread: %s", strerror(errno));
            sum += load_ends(buf, len);
        }
        break;
    case K_PREAD_LRU:
        for (i = 0; i < n; i++) {
            int fd = fd_budget_get(c->budget, fidx ? (int)fidx[i] : 0);
            if (pread(fd, buf, len, (off_t)off[i]) != (ssize_t)len)
                die("pread: %s", strerror(errno));
            sum += load_ends(buf, len);
        }
        break;
    case K_CURSOR_AT:
        for (i = 0; i < n; i++) {
            smmap_cursor *cur = &c->cursors[fidx ? fidx[i] : 0];
            const unsigned char *p = smmap_cursor_at(cur, off[i], len);
            if (p == NULL)
                check(cur->error, "smmap_cursor_at");
            sum += load_ends(p, len);
        }
        break;
    case K_CURSOR_AT_COPY:
        for (i = 0; i < n; i++) {
            smmap_cursor *cur = &c->cursors[fidx ? fidx[i] : 0];
            const unsigned char *p = smmap_cursor_at(cur, off[i], len);
            if (p == NULL)
                check(cur->error, "smmap_cursor_at");
            memcpy(buf, p, len);
            escape(buf);
            sum += load_ends(buf, len);
        }
        break;
    case K_READ:
        for (i = 0; i < n; i++) {
            int64_t got = smmap_read(&c->cursors[fidx ? fidx[i] : 0], off[i],
                                     buf, len);
            if (got != (int64_t)len)
                check(got < 0 ? (int)got : -EIO, "smmap_read");
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
                check(cur->error, "smmap_cursor_at");
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
                    die("mmap: %s", strerror(errno));
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
        die("diagnostic cases are single-file");
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
static void timed_run(bcase *c)
{
    smmap_stats a, b;
    uint64_t t0;
    if (c->manager)
        smmap_manager_stats(c->manager, &a);
    t0 = now_ns();
    bench_sink += run_case(c, c->ops);
    c->samples[c->nsamples++] = (double)(now_ns() - t0) / (double)c->ops;
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

/*
 * Run every case reps times, interleaved: repetition r runs case 0, 1, ...
 * before repetition r + 1 starts. Each case first runs a calibration pass
 * (which also warms it) to pick the operation count that takes about
 * target_s; the timed repetitions reuse the same offsets.
 */
static void measure(bcase *cases, int ncases, const bench_config *cfg)
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
        t0 = now_ns();
        bench_sink += run_case(c, probe);
        dt = now_ns() - t0;
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
            timed_run(&cases[i]);
    for (i = 0; i < ncases; i++) {
        bcase *c = &cases[i];
        double sorted[MAX_REPS];
        memcpy(sorted, c->samples, sizeof(double) * (size_t)c->nsamples);
        qsort(sorted, (size_t)c->nsamples, sizeof(double), cmp_double);
        c->ns = sorted[c->nsamples / 2];
    }
}

static const bcase *find_baseline(const bcase *cases, int n, int mmap)
{
    int i;
    for (i = 0; i < n; i++)
        if (mmap ? cases[i].is_mmap : cases[i].is_pread)
            return &cases[i];
    return NULL;
}

static void fmt_ns(char *out, double ns)
{
    if (ns >= 100000)
        sprintf(out, "%.0f", ns);
    else if (ns >= 100)
        sprintf(out, "%.0f", ns);
    else if (ns >= 10)
        sprintf(out, "%.1f", ns);
    else
        sprintf(out, "%.2f", ns);
}

/* The stats columns: what the manager did during the timed repetitions. */
static void fmt_stats(char *out, const bcase *c)
{
    uint64_t total_ops = (uint64_t)c->ops * (uint64_t)c->nsamples;
    uint64_t maps = c->maps, ev = c->evictions, reopen = c->fd_reopens;
    if (c->manager == NULL) {
        strcpy(out, "");
        return;
    }
    sprintf(out, "maps/op %.3f, evictions/op %.3f, regions %u",
            (double)maps / (double)total_ops, (double)ev / (double)total_ops,
            c->regions);
    if (reopen)
        sprintf(out + strlen(out), ", fd reopens/op %.3f",
                (double)reopen / (double)total_ops);
    if (c->direct_reads)
        sprintf(out + strlen(out), ", direct reads/op %.3f",
                (double)c->direct_reads / (double)total_ops);
    if (c->read_windows)
        sprintf(out + strlen(out), ", read windows/op %.3f",
                (double)c->read_windows / (double)total_ops);
}

static void print_table(const char *title, const bcase *cases, int n,
                        const char *unit)
{
    const bcase *mm = find_baseline(cases, n, 1);
    const bcase *pr = find_baseline(cases, n, 0);
    int i;
    printf("\n### %s\n\n", title);
    printf("| strategy | mode | %s | x mmap | x pread | ops x reps | manager "
           "activity |\n",
           unit);
    printf("|---|---|---:|---:|---:|---:|---|\n");
    for (i = 0; i < n; i++) {
        const bcase *c = &cases[i];
        char ns[32], xm[32] = "", xp[32] = "", st[160];
        fmt_ns(ns, c->ns);
        if (mm)
            sprintf(xm, "%.2f", c->ns / mm->ns);
        if (pr)
            sprintf(xp, "%.3f", c->ns / pr->ns);
        fmt_stats(st, c);
        printf("| %s | %s | %s | %s | %s | %zu x %d | %s |\n", c->strategy,
               c->mode, ns, xm, xp, c->ops, c->nsamples, st);
    }
    fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* Targets                                                              */

#define MAX_TARGETS 32
static struct target {
    char text[256];
    double ratio, limit;
    int at_least; /* ratio must be >= limit (a speed-up) */
} targets[MAX_TARGETS];
static int ntargets;

static void add_target(const char *text, double ratio, double limit,
                       int at_least)
{
    struct target *t;
    if (ntargets == MAX_TARGETS)
        return;
    t = &targets[ntargets++];
    snprintf(t->text, sizeof(t->text), "%s", text);
    t->ratio = ratio;
    t->limit = limit;
    t->at_least = at_least;
}

static void print_targets(void)
{
    int i;
    printf("\n### Targets of issue 7 (ratios of this run)\n\n");
    printf("| target | limit | measured | verdict |\n|---|---:|---:|---|\n");
    for (i = 0; i < ntargets; i++) {
        const struct target *t = &targets[i];
        int met = t->at_least ? t->ratio >= t->limit : t->ratio <= t->limit;
        printf("| %s | %s%.2f | %.3f | %s |\n", t->text,
               t->at_least ? ">= " : "<= ", t->limit, t->ratio,
               met ? "met" : "MISSED");
    }
}

/* ------------------------------------------------------------------ */
/* Workloads                                                            */

static pattern random_pattern(size_t n, uint64_t lo, uint64_t span,
                              size_t len)
{
    pattern p;
    size_t i;
    p.off = xmalloc(n * sizeof(*p.off));
    p.fidx = NULL;
    p.n = n;
    p.len = len;
    for (i = 0; i < n; i++)
        p.off[i] = lo + rng() % (span - len + 1);
    return p;
}

static void free_pattern(pattern *p)
{
    free(p->off);
    free(p->fidx);
}

static bcase base_case(const char *strategy, const char *mode, enum kind k,
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

/* One smmap configuration over the big file: a manager, a handle, and a
 * cursor per case. */
typedef struct big_smmap {
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor cursors[16];
    int ncursors;
} big_smmap;

static void big_open(big_smmap *b, const char *path, uint64_t window,
                     uint64_t max_mapped, uint32_t max_regions)
{
    b->m = new_manager(window, max_mapped, max_regions, 0);
    b->f = open_smmap(b->m, path);
    b->ncursors = 0;
}

static smmap_cursor *big_cursor(big_smmap *b)
{
    smmap_cursor *c;
    if (b->ncursors == (int)(sizeof(b->cursors) / sizeof(b->cursors[0])))
        die("big_cursor: too many cursors");
    c = &b->cursors[b->ncursors++];
    smmap_cursor_init(c, b->f);
    return c;
}

/* Fault in every page through a cursor, so that page tables are warm. */
static void warm_through(smmap_cursor *c, uint64_t lo, uint64_t size)
{
    uint64_t o;
    for (o = lo; o < lo + size; o += PAGE) {
        const unsigned char *p = smmap_cursor_at(c, o, 1);
        if (p == NULL)
            check(c->error, "smmap_cursor_at (warm)");
        bench_sink += *p;
    }
}

static void big_close(big_smmap *b)
{
    int i;
    for (i = 0; i < b->ncursors; i++)
        smmap_cursor_release(&b->cursors[i]);
    smmap_file_close(b->f);
    smmap_manager_free(b->m);
}

static bcase smmap_case(const char *strategy, const char *mode, enum kind k,
                        const pattern *pat, big_smmap *b)
{
    bcase c = base_case(strategy, mode, k, pat);
    c.cursors = big_cursor(b);
    c.manager = b->m;
    return c;
}

static void fmt_size(char *out, uint64_t v)
{
    if (v >= GIB && v % GIB == 0)
        sprintf(out, "%" PRIu64 " GiB", v / GIB);
    else if (v >= MIB && v % MIB == 0)
        sprintf(out, "%" PRIu64 " MiB", v / MIB);
    else
        sprintf(out, "%" PRIu64 " KiB", v / KIB);
}

static size_t ops_budget(const bench_config *cfg, size_t full)
{
    return cfg->quick ? full / 8 : full;
}

/* Workloads 1 and 5: random reads over the big file, warm. */
static void workload_random(const bench_config *cfg, const char *path)
{
    uint64_t size = cfg->big_size;
    int fd = open_ro(path);
    const unsigned char *base = map_whole(fd, size, 1);
    big_smmap dflt, w64, stat;
    size_t lens[2] = {8, 64};
    int li;
    char wname[32], title[200];

    fmt_size(wname, size / 16);
    big_open(&dflt, path, 1 * GIB, 0, 0);
    big_open(&w64, path, size / 16, 0, 0);
    big_open(&stat, path, 0, 0, 0);

    for (li = 0; li < 2 && workload_enabled(cfg, 1); li++) {
        size_t len = lens[li];
        pattern pat = random_pattern(ops_budget(cfg, 4000000), 0, size, len);
        char sliding_w[48];
        bcase cs[14];
        raw_window whole;
        int n = 0, i;
        snprintf(sliding_w, sizeof(sliding_w), "sliding %s", wname);
        cs[n] = base_case("mmap", "-", K_MMAP, &pat);
        cs[n++].is_mmap = 1;
        cs[n++] = base_case("mmap+memcpy", "-", K_MMAP_COPY, &pat);
        cs[n] = base_case("pread", "-", K_PREAD, &pat);
        cs[n++].is_pread = 1;
        cs[n++] = smmap_case("smmap_cursor_at", "static", K_CURSOR_AT, &pat,
                             &stat);
        cs[n++] = smmap_case("smmap_cursor_at", "sliding 1 GiB (default)",
                             K_CURSOR_AT, &pat, &dflt);
        cs[n++] = smmap_case("smmap_cursor_at", sliding_w, K_CURSOR_AT, &pat,
                             &w64);
        cs[n++] = smmap_case("smmap_read", "static", K_READ, &pat, &stat);
        cs[n++] = smmap_case("smmap_read", "sliding 1 GiB (default)", K_READ,
                             &pat, &dflt);
        cs[n++] = smmap_case("smmap_read", sliding_w, K_READ, &pat, &w64);
        /* what an inline smmap_read hit path would cost */
        cs[n++] = smmap_case("smmap_cursor_at+memcpy", "sliding 1 GiB (default)",
                             K_CURSOR_AT_COPY, &pat, &dflt);
        cs[n++] = base_case("diagnostic: mmap + 1 atomic add per read", "-",
                            K_MMAP_ATOMIC, &pat);
        cs[n++] = base_case("diagnostic: mmap + mutex lock/unlock per read",
                            "-", K_MMAP_MUTEX, &pat);
        whole.data = base;
        whole.begin = 0;
        whole.size = (size_t)size;
        escape(&whole);
        cs[n] = base_case("diagnostic: mmap + cursor_at's two bounds checks, "
                          "no library",
                          "-", K_MMAP_CHECKED, &pat);
        cs[n++].window = &whole;
        for (i = 0; i < n; i++) {
            cs[i].bases = &base;
            cs[i].fds = &fd;
            if (cs[i].cursors && li == 0)
                warm_through(cs[i].cursors, 0, size);
        }
        measure(cs, n, cfg);
        fmt_size(wname, size);
        snprintf(title, sizeof(title),
                 "Workload 1: random %zu-byte reads over a %s file, warm page "
                 "cache and page tables",
                 len, wname);
        print_table(title, cs, n, "ns/op");
        fmt_size(wname, size / 16);
        if (len == 8) {
            add_target("W1 static smmap_cursor_at 8 B over the whole file / "
                       "mmap",
                       cs[3].ns / cs[0].ns, 1.05, 0);
            add_target("W1 switching among cached windows: cursor_at 8 B, "
                       "sliding 64 MiB / mmap",
                       cs[5].ns / cs[0].ns, 1.5, 0);
        } else {
            add_target("W1 smmap_read 64 B (default sliding) / "
                       "(mmap+memcpy)",
                       cs[7].ns / cs[1].ns, 1.5, 0);
            add_target("W1 smmap_read 64 B (static) / (mmap+memcpy)",
                       cs[6].ns / cs[1].ns, 1.5, 0);
            add_target("W1 pread / smmap_read 64 B (default sliding), "
                       "speed-up",
                       cs[2].ns / cs[7].ns, 10, 1);
        }
        free_pattern(&pat);
    }
    big_close(&dflt);
    big_close(&w64);
    big_close(&stat);

    if (workload_enabled(cfg, 5)) {
        /* Workload 5: the hit path alone, inside one 1 MiB window. */
        big_smmap w1m;
        pattern pat = random_pattern(ops_budget(cfg, 8000000), 0, MIB, 8);
        bcase cs[5];
        big_open(&w1m, path, MIB, 0, 0);
        cs[0] = base_case("mmap", "first 1 MiB of the map", K_MMAP, &pat);
        cs[0].is_mmap = 1;
        cs[1] = smmap_case("smmap_cursor_at", "sliding 1 MiB, window held",
                           K_CURSOR_AT, &pat, &w1m);
        cs[2] = smmap_case("smmap_read", "sliding 1 MiB, window held",
                           K_READ, &pat, &w1m);
        cs[3] = base_case("mmap+memcpy", "first 1 MiB of the map",
                          K_MMAP_COPY, &pat);
        cs[4] = smmap_case("smmap_cursor_at+memcpy",
                           "sliding 1 MiB, window held", K_CURSOR_AT_COPY,
                           &pat, &w1m);
        cs[0].bases = cs[3].bases = &base;
        warm_through(cs[1].cursors, 0, MIB);
        warm_through(cs[2].cursors, 0, MIB);
        warm_through(cs[4].cursors, 0, MIB);
        measure(cs, 5, cfg);
        print_table("Workload 5: random 8-byte reads inside the window the "
                    "cursor holds (the hit path alone)",
                    cs, 5, "ns/op");
        add_target("W5 smmap_read 8 B inside the held window / (mmap+memcpy)",
                   cs[2].ns / cs[3].ns, 1.5, 0);
        add_target("W5 hit path: cursor_at 8 B inside the held window / mmap",
                   cs[1].ns / cs[0].ns, 1.05, 0);
        free_pattern(&pat);
        big_close(&w1m);
    }
    munmap((void *)base, (size_t)size);
    close(fd);
}

/* Workload 2: a sequential scan in 64 KiB chunks, every strategy copying. */
static void workload_scan(const bench_config *cfg, const char *path)
{
    uint64_t size = cfg->big_size, chunk = 64 * KIB, i;
    int fd = open_ro(path);
    const unsigned char *base = map_whole(fd, size, 1);
    big_smmap dflt, w64, stat;
    pattern pat;
    bcase cs[7];
    int n = 0, k;
    char title[160], s[32];

    pat.n = (size_t)(size / chunk);
    pat.len = (size_t)chunk;
    pat.fidx = NULL;
    pat.off = xmalloc(pat.n * sizeof(*pat.off));
    for (i = 0; i < pat.n; i++)
        pat.off[i] = i * chunk;
    big_open(&dflt, path, 1 * GIB, 0, 0);
    big_open(&w64, path, 64 * MIB, 0, 0);
    big_open(&stat, path, 0, 0, 0);
    cs[n] = base_case("mmap+memcpy", "-", K_MMAP_COPY, &pat);
    cs[n++].is_mmap = 1;
    cs[n] = base_case("pread", "-", K_PREAD, &pat);
    cs[n++].is_pread = 1;
    cs[n++] = smmap_case("smmap_cursor_at+memcpy", "static", K_CURSOR_AT_COPY,
                         &pat, &stat);
    cs[n++] = smmap_case("smmap_cursor_at+memcpy", "sliding 64 MiB",
                         K_CURSOR_AT_COPY, &pat, &w64);
    cs[n++] = smmap_case("smmap_read", "static", K_READ, &pat, &stat);
    cs[n++] = smmap_case("smmap_read", "sliding 1 GiB (default)", K_READ, &pat,
                         &dflt);
    cs[n++] = smmap_case("smmap_read", "sliding 64 MiB", K_READ, &pat, &w64);
    for (k = 0; k < n; k++) {
        cs[k].bases = &base;
        cs[k].fds = &fd;
    }
    measure(cs, n, cfg);
    fmt_size(s, size);
    snprintf(title, sizeof(title),
             "Workload 2: sequential scan of the %s file in 64 KiB chunks, "
             "warm (ns per 64 KiB; GB/s = 65.5 / ns * 1000)",
             s);
    print_table(title, cs, n, "ns/64 KiB");
    free_pattern(&pat);
    big_close(&dflt);
    big_close(&w64);
    big_close(&stat);
    munmap((void *)base, (size_t)size);
    close(fd);
}

/* Many files: whole maps and descriptors for the baselines. */
typedef struct file_set {
    int n;
    char **paths;
    int *fds;
    const unsigned char **bases;
    uint64_t size;
} file_set;

static void file_set_open(file_set *s, const bench_config *cfg)
{
    int i;
    s->n = cfg->nfiles;
    s->size = cfg->small_size;
    s->paths = xmalloc(sizeof(char *) * (size_t)s->n);
    s->fds = xmalloc(sizeof(int) * (size_t)s->n);
    s->bases = xmalloc(sizeof(char *) * (size_t)s->n);
    for (i = 0; i < s->n; i++) {
        s->paths[i] = small_path(i);
        s->fds[i] = open_ro(s->paths[i]);
        s->bases[i] = map_whole(s->fds[i], s->size, 1);
    }
}

static void file_set_close(file_set *s)
{
    int i;
    for (i = 0; i < s->n; i++) {
        munmap((void *)s->bases[i], (size_t)s->size);
        close(s->fds[i]);
        free(s->paths[i]);
    }
    free(s->paths);
    free(s->fds);
    free(s->bases);
}

/* smmap over the file set: a manager, a handle and a cursor per file. */
typedef struct many_smmap {
    smmap_manager *m;
    smmap_file **files;
    smmap_cursor *cursors;
    int n;
} many_smmap;

static void many_open(many_smmap *ms, const file_set *s, uint64_t window,
                      uint64_t max_mapped, uint32_t max_regions,
                      uint32_t max_open_files)
{
    int i;
    ms->n = s->n;
    ms->m = new_manager(window, max_mapped, max_regions, max_open_files);
    ms->files = xmalloc(sizeof(smmap_file *) * (size_t)s->n);
    ms->cursors = xmalloc(sizeof(smmap_cursor) * (size_t)s->n);
    for (i = 0; i < s->n; i++) {
        ms->files[i] = open_smmap(ms->m, s->paths[i]);
        smmap_cursor_init(&ms->cursors[i], ms->files[i]);
    }
}

static void many_close(many_smmap *ms)
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

static bcase many_case(const char *strategy, const char *mode, enum kind k,
                       const pattern *pat, many_smmap *ms)
{
    bcase c = base_case(strategy, mode, k, pat);
    c.cursors = ms->cursors;
    c.files = ms->files;
    c.manager = ms->m;
    return c;
}

/* Workload 3: random 64-byte reads over many files, max_open_files 16. */
static void workload_files(const bench_config *cfg, const file_set *s)
{
    pattern pat;
    many_smmap dflt, stat, tight, tight2;
    fd_budget budget;
    bcase cs[9];
    int n = 0, k;
    size_t i;
    char title[200], sz[32], tight_mode[96];
    uint64_t total = s->size * (uint64_t)s->n;

    pat.n = ops_budget(cfg, 2000000);
    pat.len = 64;
    pat.off = xmalloc(pat.n * sizeof(*pat.off));
    pat.fidx = xmalloc(pat.n * sizeof(*pat.fidx));
    for (i = 0; i < pat.n; i++) {
        pat.fidx[i] = (uint32_t)(rng() % (uint64_t)s->n);
        pat.off[i] = rng() % (s->size - pat.len + 1);
    }
    many_open(&dflt, s, 1 * GIB, 0, 0, 16);
    many_open(&stat, s, 0, 0, 0, 16);
    /* the descriptor budget only bites when windows churn: 64 KiB windows,
     * a tenth of the data mapped */
    many_open(&tight, s, 64 * KIB, total / 10, 0, 16);
    many_open(&tight2, s, 64 * KIB, total / 10, 0, 16); /* one per strategy */
    snprintf(tight_mode, sizeof(tight_mode),
             "sliding 64 KiB, max_mapped 10%%, 16 fds");
    cs[n] = base_case("mmap", "-", K_MMAP, &pat);
    cs[n++].is_mmap = 1;
    cs[n] = base_case("pread", "- (all fds open)", K_PREAD, &pat);
    cs[n++].is_pread = 1;
    budget.paths = s->paths;
    budget.fd = xmalloc(sizeof(int) * (size_t)s->n);
    budget.used = xmalloc(sizeof(uint64_t) * (size_t)s->n);
    budget.max = 16; /* the managers' max_open_files above */
    budget.open_files = xmalloc(sizeof(int) * (size_t)budget.max);
    budget.open = 0;
    budget.tick = 0;
    for (k = 0; k < s->n; k++) {
        budget.fd[k] = -1;
        budget.used[k] = 0;
    }
    cs[n] = base_case("pread", "16 fds (open on demand, close the oldest)",
                      K_PREAD_LRU, &pat);
    cs[n++].budget = &budget;
    cs[n++] = many_case("smmap_cursor_at", "static, 16 fds", K_CURSOR_AT, &pat,
                        &stat);
    cs[n++] = many_case("smmap_cursor_at", "sliding 1 GiB, 16 fds",
                        K_CURSOR_AT, &pat, &dflt);
    cs[n++] = many_case("smmap_read", "static, 16 fds", K_READ, &pat, &stat);
    cs[n++] = many_case("smmap_read", "sliding 1 GiB, 16 fds", K_READ, &pat,
                        &dflt);
    cs[n++] = many_case("smmap_cursor_at", tight_mode, K_CURSOR_AT, &pat,
                        &tight);
    cs[n++] = many_case("smmap_read", tight_mode, K_READ, &pat, &tight2);
    for (k = 0; k < n; k++) {
        cs[k].bases = s->bases;
        cs[k].fds = s->fds;
    }
    measure(cs, n, cfg);
    fmt_size(sz, s->size);
    snprintf(title, sizeof(title),
             "Workload 3: random 64-byte reads over %d files of %s, "
             "max_open_files 16, one cursor per file, warm",
             s->n, sz);
    print_table(title, cs, n, "ns/op");
    free_pattern(&pat);
    for (k = 0; k < budget.open; k++)
        close(budget.fd[budget.open_files[k]]);
    free(budget.fd);
    free(budget.used);
    free(budget.open_files);
    many_close(&dflt);
    many_close(&stat);
    many_close(&tight);
    many_close(&tight2);
}

/* Workload 4 and the budget sweep: random 64-byte reads over the big file
 * with max_mapped a fraction of it. */
static void workload_pressure(const bench_config *cfg, const char *path)
{
    uint64_t size = cfg->big_size;
    int fd = open_ro(path);
    const unsigned char *base = map_whole(fd, size, 1);
    pattern pat = random_pattern(ops_budget(cfg, 2000000), 0, size, 64);
    uint64_t windows[2] = {1 * MIB, 64 * KIB};
    /* budget in percent of the data; 10 is workload 4 */
    static const double pct_full[] = {1, 2, 5, 10, 25, 50, 75, 100};
    static const double pct_quick[] = {10, 50, 100};
    const double *pct = cfg->quick ? pct_quick : pct_full;
    int npct = cfg->quick ? 3 : 8, w, p;
    bcase base_cs[3];
    char title[200];

    base_cs[0] = base_case("mmap", "- (whole file)", K_MMAP, &pat);
    base_cs[0].is_mmap = 1;
    base_cs[1] = base_case("mmap+memcpy", "- (whole file)", K_MMAP_COPY, &pat);
    base_cs[2] = base_case("pread", "-", K_PREAD, &pat);
    base_cs[2].is_pread = 1;
    for (p = 0; p < 3; p++) {
        base_cs[p].bases = &base;
        base_cs[p].fds = &fd;
    }

    for (w = 0; w < 2; w++) {
        bcase cs[3 + 2];
        big_smmap b, b2; /* one manager per strategy: they must not evict
                          * each other's windows */
        uint64_t budget = size / 10;
        char mode[96], wn[32];
        int n = 0;
        budget -= budget % windows[w];
        big_open(&b, path, windows[w], budget, 1u << 20);
        big_open(&b2, path, windows[w], budget, 1u << 20);
        fmt_size(wn, windows[w]);
        snprintf(mode, sizeof(mode), "sliding %s, max_mapped 10%%", wn);
        memcpy(cs, base_cs, sizeof(base_cs));
        n = 3;
        cs[n++] = smmap_case("smmap_cursor_at", mode, K_CURSOR_AT, &pat, &b);
        cs[n++] = smmap_case("smmap_read", mode, K_READ, &pat, &b2);
        measure(cs, n, cfg);
        snprintf(title, sizeof(title),
                 "Workload 4: random 64-byte reads, max_mapped 10%% of the "
                 "data, %s windows",
                 wn);
        print_table(title, cs, n, "ns/op");
        snprintf(title, sizeof(title),
                 "W4 under pressure, %s windows: smmap_read 64 B / pread", wn);
        add_target(title, cs[4].ns / cs[2].ns, 1.1, 0);
        snprintf(title, sizeof(title),
                 "W4 under pressure, %s windows: cursor_at 64 B / pread", wn);
        add_target(title, cs[3].ns / cs[2].ns, 1.1, 0);
        if (w == 0 && csv_budget) {
            fprintf(csv_budget, "budget_pct,window,strategy,ns_per_op\n");
            fprintf(csv_budget, "0,-,mmap,%.2f\n", cs[0].ns);
            fprintf(csv_budget, "0,-,pread,%.2f\n", cs[2].ns);
        }
        big_close(&b);
        big_close(&b2);
    }

    /* The sweep: throughput against the budget. One budget point at a
     * time, its two managers (one per strategy) closed before the next: all
     * of them at once would pass vm.max_map_count with 64 KiB windows. */
    for (w = 0; w < 2 && csv_budget; w++) {
        char wn[32];
        fmt_size(wn, windows[w]);
        for (p = 0; p < npct; p++) {
            bcase cs[2];
            big_smmap b1, b2;
            char mode[64];
            uint64_t budget = (uint64_t)((double)size * pct[p] / 100.0);
            budget -= budget % windows[w];
            if (budget < windows[w])
                budget = windows[w];
            big_open(&b1, path, windows[w], budget, 1u << 20);
            big_open(&b2, path, windows[w], budget, 1u << 20);
            snprintf(mode, sizeof(mode), "%s windows, budget %g%%", wn,
                     pct[p]);
            cs[0] = smmap_case("smmap_read", mode, K_READ, &pat, &b1);
            cs[1] = smmap_case("smmap_cursor_at", mode, K_CURSOR_AT, &pat,
                               &b2);
            measure(cs, 2, cfg);
            snprintf(title, sizeof(title),
                     "Budget sweep, %s windows, max_mapped %g%% of the file "
                     "(plot data)",
                     wn, pct[p]);
            print_table(title, cs, 2, "ns/op");
            fprintf(csv_budget, "%g,%s,smmap_read,%.2f\n", pct[p], wn,
                    cs[0].ns);
            fprintf(csv_budget, "%g,%s,smmap_cursor_at,%.2f\n", pct[p], wn,
                    cs[1].ns);
            big_close(&b1);
            big_close(&b2);
        }
    }
    free_pattern(&pat);
    munmap((void *)base, (size_t)size);
    close(fd);
}

/* Point the single cursor of ms at one slot (see workload_regions). */
static void warm_slot(many_smmap *ms, uint32_t slot_id, uint64_t slots_per_file)
{
    smmap_cursor *c = &ms->cursors[0];
    smmap_cursor_release(c);
    smmap_cursor_init(c, ms->files[slot_id / slots_per_file]);
    if (smmap_cursor_at(c, (2 * (slot_id % slots_per_file) + 1) * PAGE, 8) ==
        NULL)
        check(c->error, "smmap_cursor_at (warm)");
}

/*
 * Workload 6: cost per operation as the number of live regions grows.
 * 4 KiB windows; a read at x < 4088 bytes into page 2k+1 of a file gets the
 * region [2k, 2k+2) pages (the window grows left first, as smmap's does), so
 * "slots" (file, k) map one to one onto regions. Reuse: N slots, budget N
 * regions: every read switches the one cursor to a cached region. Eviction:
 * 2N slots, budget N: about half the reads evict and map (SMMAP_ALWAYS_MAP:
 * the read policy would serve them with pressure windows instead).
 */
static void workload_regions(const bench_config *cfg, const file_set *s)
{
    static const uint32_t counts_full[] = {100, 1000, 5000, 10000, 20000,
                                           50000};
    static const uint32_t counts_quick[] = {100, 1000};
    const uint32_t *counts = cfg->quick ? counts_quick : counts_full;
    int ncounts = cfg->quick ? 2 : 6, ci;
    uint64_t slots_per_file = s->size / PAGE / 2;
    uint64_t nslots = slots_per_file * (uint64_t)s->n, i;
    uint32_t *slot = xmalloc(sizeof(uint32_t) * (size_t)nslots);
    double first_reuse = 0, first_evict = 0, last_reuse = 0, last_evict = 0;
    double first_raw_evict = 0, last_raw_evict = 0;
    uint32_t last_n = 0;

    /* a random order of all slots: the first 2N are the working sets */
    for (i = 0; i < nslots; i++)
        slot[i] = (uint32_t)i;
    for (i = nslots - 1; i > 0; i--) {
        uint64_t j = rng() % (i + 1);
        uint32_t t = slot[i];
        slot[i] = slot[j];
        slot[j] = t;
    }
    if (csv_regions)
        fprintf(csv_regions, "regions,mmap_ns,reuse_ns,evict_ns,"
                             "evict_maps_per_op,raw_evict_ns\n");
    printf("\n### Workload 6: cost per operation against live regions "
           "(%d files of %" PRIu64 " KiB, 4 KiB windows, random 8-byte reads, "
           "one cursor moved across files)\n\n",
           s->n, s->size / KIB);
    printf("| live regions | mmap ns/op | smmap reuse ns/op | x mmap | smmap "
           "eviction ns/op | kernel floor: raw mmap/munmap ns/op | x floor | "
           "maps/op |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (ci = 0; ci < ncounts; ci++) {
        uint32_t nreg = counts[ci];
        pattern reuse, evict;
        many_smmap rs, es;
        bcase cs[4];
        smmap_stats st;
        size_t nops = ops_budget(cfg, 1000000), k;
        if ((uint64_t)nreg * 2 > nslots)
            break;
        reuse.n = evict.n = nops;
        reuse.len = evict.len = 8;
        reuse.off = xmalloc(nops * sizeof(uint64_t));
        reuse.fidx = xmalloc(nops * sizeof(uint32_t));
        evict.off = xmalloc(nops * sizeof(uint64_t));
        evict.fidx = xmalloc(nops * sizeof(uint32_t));
        for (k = 0; k < nops; k++) {
            uint32_t a = slot[rng() % nreg], b = slot[rng() % (2 * nreg)];
            reuse.fidx[k] = (uint32_t)(a / slots_per_file);
            reuse.off[k] = (2 * (a % slots_per_file) + 1) * PAGE +
                           rng() % (PAGE - 8);
            evict.fidx[k] = (uint32_t)(b / slots_per_file);
            evict.off[k] = (2 * (b % slots_per_file) + 1) * PAGE +
                           rng() % (PAGE - 8);
        }
        /* One manager at a time: two of 50,000 regions each would pass
         * vm.max_map_count (65530 here). */
        many_open(&rs, s, PAGE, (uint64_t)nreg * 4 * PAGE, nreg, 0);
        cs[0] = base_case("mmap", "-", K_MMAP, &reuse);
        cs[0].is_mmap = 1;
        cs[0].bases = s->bases;
        cs[1] = many_case("smmap_cursor_at", "reuse", K_SWITCH, &reuse, &rs);
        /* map every slot of the reuse working set once */
        for (k = 0; k < nreg; k++)
            warm_slot(&rs, slot[k], slots_per_file);
        smmap_cursor_release(&rs.cursors[0]);
        smmap_manager_stats(rs.m, &st);
        if (st.regions != nreg)
            die("workload 6: %u regions live after warming, expected %u",
                st.regions, nreg);
        measure(cs, 2, cfg);
        smmap_manager_stats(rs.m, &st);
        if (st.maps != nreg)
            die("workload 6: reuse mapped %" PRIu64 " times, expected %u",
                st.maps, nreg);
        many_close(&rs);

        /* Eviction: the budget filled with N of the 2N slots first, so the
         * measurement sees the steady state (about half the reads map). */
        /* SMMAP_ALWAYS_MAP: the read policy would serve these misses with
         * pressure windows (no map, no eviction); this case measures what
         * mapping with eviction costs as regions grow. */
        manager_flags = SMMAP_ALWAYS_MAP;
        many_open(&es, s, PAGE, (uint64_t)nreg * 4 * PAGE, nreg, 0);
        manager_flags = 0;
        cs[2] = many_case("smmap_cursor_at", "eviction", K_SWITCH, &evict,
                          &es);
        for (k = 0; k < nreg; k++)
            warm_slot(&es, slot[nreg + k], slots_per_file);
        smmap_cursor_release(&es.cursors[0]);
        smmap_manager_stats(es.m, &st);
        if (st.regions != nreg)
            die("workload 6: %u regions live after filling the eviction "
                "budget, expected %u",
                st.regions, nreg);
        measure(cs + 2, 1, cfg);
        smmap_manager_stats(es.m, &st);
        if (st.regions != nreg)
            die("workload 6: %u regions live under eviction, expected %u",
                st.regions, nreg);
        many_close(&es);

        /* The kernel's share: the same map rate by hand, N live mappings. */
        {
            raw_evict raw;
            double maps_per_op =
                (double)cs[2].maps / ((double)cs[2].ops * cs[2].nsamples);
            raw.n = nreg;
            raw.head = 0;
            raw.live = xmalloc(sizeof(*raw.live) * nreg);
            raw.live_off = xmalloc(sizeof(*raw.live_off) * nreg);
            for (k = 0; k < nreg; k++) {
                uint32_t a = slot[nreg + k];
                uint64_t o = 2 * (a % slots_per_file) * PAGE;
                void *m = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED,
                               s->fds[a / slots_per_file], (off_t)o);
                if (m == MAP_FAILED)
                    die("mmap: %s", strerror(errno));
                bench_sink += *((volatile unsigned char *)m + PAGE);
                raw.live[k] = m;
                raw.live_off[k] = o;
            }
            cs[3] = base_case("raw mmap/munmap", "eviction floor",
                              K_RAW_EVICT, &evict);
            cs[3].fds = s->fds;
            cs[3].raw = &raw;
            measure(cs + 3, 1, cfg);
            for (k = 0; k < nreg; k++)
                munmap((void *)raw.live[k], 2 * PAGE);
            free(raw.live);
            free(raw.live_off);
            printf("| %u | %.1f | %.1f | %.2f | %.0f | %.0f | %.2f | %.3f |\n",
                   nreg, cs[0].ns, cs[1].ns, cs[1].ns / cs[0].ns, cs[2].ns,
                   cs[3].ns, cs[2].ns / cs[3].ns, maps_per_op);
            if (csv_regions)
                fprintf(csv_regions, "%u,%.2f,%.2f,%.2f,%.4f,%.2f\n", nreg,
                        cs[0].ns, cs[1].ns, cs[2].ns, maps_per_op, cs[3].ns);
        }
        fflush(stdout);
        if (ci == 0) {
            first_reuse = cs[1].ns;
            first_evict = cs[2].ns;
            first_raw_evict = cs[3].ns;
        }
        last_reuse = cs[1].ns;
        last_evict = cs[2].ns;
        last_raw_evict = cs[3].ns;
        last_n = nreg;
        free_pattern(&reuse);
        free_pattern(&evict);
    }
    if (last_n > counts[0]) {
        char t[160];
        snprintf(t, sizeof(t),
                 "W6 scaling, reuse: cost at %u regions / cost at %u", last_n,
                 counts[0]);
        add_target(t, last_reuse / first_reuse, 1.5, 0);
        snprintf(t, sizeof(t),
                 "W6 scaling, map with eviction: cost at %u regions / cost at "
                 "%u",
                 last_n, counts[0]);
        add_target(t, last_evict / first_evict, 1.5, 0);
        printf("\n(the kernel floor alone grows %.2fx from %u to %u live "
               "mappings)\n",
               last_raw_evict / first_raw_evict, counts[0], last_n);
    }
    free(slot);
}

/* Cold page cache: one pass per strategy, caches dropped before each. */
static void workload_cold(const bench_config *cfg, const char *path)
{
    uint64_t size = cfg->big_size;
    pattern pat = random_pattern(3000, 0, size, 8);
    static const struct {
        const char *strategy, *mode;
        enum kind kind;
        uint64_t window; /* UINT64_MAX: no smmap */
    } plan[] = {
        {"mmap", "-", K_MMAP, UINT64_MAX},
        {"pread", "-", K_PREAD, UINT64_MAX},
        {"smmap_cursor_at", "static", K_CURSOR_AT, 0},
        {"smmap_cursor_at", "sliding 1 GiB (default)", K_CURSOR_AT, 1 * GIB},
        {"smmap_read", "sliding 1 GiB (default)", K_READ, 1 * GIB},
        {"smmap_read", "sliding 1 MiB", K_READ, 1 * MIB},
    };
    bcase cs[6], scan[4];
    pattern seq;
    int i;
    uint64_t k;

    for (i = 0; i < 6; i++) {
        int fd;
        const unsigned char *base = NULL;
        big_smmap b;
        drop_caches();
        fd = open_ro(path);
        if (plan[i].kind == K_MMAP)
            base = map_whole(fd, size, 0);
        cs[i] = base_case(plan[i].strategy, plan[i].mode, plan[i].kind, &pat);
        cs[i].bases = &base;
        cs[i].fds = &fd;
        cs[i].is_mmap = plan[i].kind == K_MMAP;
        cs[i].is_pread = plan[i].kind == K_PREAD;
        if (plan[i].window != UINT64_MAX) {
            big_open(&b, path, plan[i].window, 0, 0);
            cs[i].cursors = big_cursor(&b);
            cs[i].manager = b.m;
        }
        cs[i].ops = pat.n;
        timed_run(&cs[i]);
        cs[i].ns = cs[i].samples[0];
        if (plan[i].window != UINT64_MAX)
            big_close(&b);
        if (base)
            munmap((void *)base, (size_t)size);
        close(fd);
    }
    print_table("Cold page cache: 3000 random 8-byte reads over the big file, "
                "caches dropped before each strategy (one pass)",
                cs, 6, "ns/op");

    seq.n = (size_t)(size / (64 * KIB));
    seq.len = 64 * KIB;
    seq.fidx = NULL;
    seq.off = xmalloc(seq.n * sizeof(uint64_t));
    for (k = 0; k < seq.n; k++)
        seq.off[k] = k * 64 * KIB;
    for (i = 0; i < 4; i++) {
        static const enum kind kinds[4] = {K_MMAP_COPY, K_PREAD, K_READ,
                                           K_READ};
        static const uint64_t win[4] = {UINT64_MAX, UINT64_MAX, 1 * GIB,
                                        64 * MIB};
        static const char *names[4] = {"mmap+memcpy", "pread", "smmap_read",
                                       "smmap_read"};
        static const char *modes[4] = {"-", "-", "sliding 1 GiB (default)",
                                       "sliding 64 MiB"};
        int fd;
        const unsigned char *base = NULL;
        big_smmap b;
        drop_caches();
        fd = open_ro(path);
        if (kinds[i] == K_MMAP_COPY)
            base = map_whole(fd, size, 0);
        scan[i] = base_case(names[i], modes[i], kinds[i], &seq);
        scan[i].bases = &base;
        scan[i].fds = &fd;
        scan[i].is_mmap = i == 0;
        scan[i].is_pread = i == 1;
        if (win[i] != UINT64_MAX) {
            big_open(&b, path, win[i], 0, 0);
            scan[i].cursors = big_cursor(&b);
            scan[i].manager = b.m;
        }
        scan[i].ops = seq.n;
        timed_run(&scan[i]);
        scan[i].ns = scan[i].samples[0];
        if (win[i] != UINT64_MAX)
            big_close(&b);
        if (base)
            munmap((void *)base, (size_t)size);
        close(fd);
    }
    print_table("Cold page cache: sequential scan in 64 KiB chunks, caches "
                "dropped before each strategy (one pass)",
                scan, 4, "ns/64 KiB");
    free_pattern(&seq);
    free_pattern(&pat);
}

/* ------------------------------------------------------------------ */
/* Driver                                                               */

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "usage: %s [--quick] [--reps N] [--cold] [--dir DIR] [--keep]\n"
            "          [--csv DIR] [--workloads 1,2,...]\n"
            "  --quick      small data, short runs (< 30 s; for CI)\n"
            "  --reps N     timed repetitions per case (median; default 9, "
            "quick 3)\n"
            "  --cold       also run cold page cache cases (root: drops "
            "caches)\n"
            "  --dir DIR    where to generate (or reuse) the data; default a "
            "new\n"
            "               temporary directory, removed at the end\n"
            "  --keep       keep the generated data\n"
            "  --csv DIR    write regions.csv and budget.csv for "
            "bench/plot.py\n"
            "  --workloads  run only these workloads (1-6; 7 = memory)\n",
            prog);
}

/* The machine is shared: the load average says how much to trust a run. */
static void print_load(const char *when)
{
    char buf[128] = "unknown";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fgets(buf, sizeof(buf), f) == NULL)
            strcpy(buf, "unknown");
        fclose(f);
        buf[strcspn(buf, "\n")] = '\0';
    }
    printf("- %s (1, 5, 15 min, runnable/total, last pid): %s\n", when, buf);
}

static void print_machine(const bench_config *cfg)
{
    struct utsname u;
    char line[256], model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(line, sizeof(line), f))
            if (strncmp(line, "model name", 10) == 0) {
                char *p = strchr(line, ':');
                if (p) {
                    snprintf(model, sizeof(model), "%s", p + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        fclose(f);
    }
    uname(&u);
    printf("## smmap bench (%s mode)\n\n", cfg->quick ? "quick" : "full");
    printf("- machine: %s, %ld CPUs, %s %s %s\n", model,
           sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release, u.machine);
    printf("- smmap %s; data in %s; %d repetitions per case, median; one "
           "repetition ~%.2f s\n",
           SMMAP_VERSION_STRING, data_dir, cfg->reps, cfg->target_s);
    printf("- warm: the data was read once before (page cache), and every "
           "map was touched once (page tables); timed by the CPU time of the "
           "benchmark thread (user + system), so time slices taken by other "
           "processes do not count; cold cases by the wall clock\n");
    print_load("load average at start");
}

static void remove_data(const bench_config *cfg)
{
    int i;
    char *p;
    if (cfg->keep || !made_data_dir)
        return;
    p = big_path();
    unlink(p);
    free(p);
    for (i = 0; i < cfg->nfiles; i++) {
        p = small_path(i);
        unlink(p);
        free(p);
    }
    rmdir(data_dir);
}

/* The configuration as seen after a longjmp (the locals of
 * smmap_bench_main are indeterminate there). */
static bench_config cfg_copy;

int smmap_bench_main(int argc, char **argv)
{
    bench_config cfg;
    int i, cold_ok;
    char *big;
    file_set fs;
    char csvpath[4200];

    memset(&cfg, 0, sizeof(cfg));
    cfg.reps = -1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quick") == 0)
            cfg.quick = 1;
        else if (strcmp(a, "--cold") == 0)
            cfg.cold = 1;
        else if (strcmp(a, "--keep") == 0)
            cfg.keep = 1;
        else if (strcmp(a, "--reps") == 0 && i + 1 < argc)
            cfg.reps = atoi(argv[++i]);
        else if (strcmp(a, "--dir") == 0 && i + 1 < argc)
            cfg.dir = argv[++i];
        else if (strcmp(a, "--csv") == 0 && i + 1 < argc)
            cfg.csv = argv[++i];
        else if (strcmp(a, "--workloads") == 0 && i + 1 < argc)
            cfg.only = argv[++i];
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout, argc > 0 ? argv[0] : "smmap-bench");
            return 0;
        } else {
            usage(stderr, argc > 0 ? argv[0] : "smmap-bench");
            return 2;
        }
    }
    if (cfg.reps == -1)
        cfg.reps = cfg.quick ? 3 : 9;
    if (cfg.reps < 1 || cfg.reps > MAX_REPS) {
        fprintf(stderr, "smmap-bench: --reps must be 1..%d\n", MAX_REPS);
        return 2;
    }
    cfg.target_s = cfg.quick ? 0.02 : 0.08;
    cfg.big_size = cfg.quick ? 64 * MIB : 1 * GIB;
    cfg.nfiles = cfg.quick ? 100 : 500;
    cfg.small_size = cfg.quick ? 256 * KIB : 2 * MIB;

    cfg_copy = cfg;
    if (setjmp(bench_abort) != 0) {
        fflush(stdout);
        remove_data(&cfg_copy);
        return 1;
    }
    if (cfg.dir) {
        snprintf(data_dir, sizeof(data_dir), "%s", cfg.dir);
        if (mkdir(data_dir, 0755) != 0 && errno != EEXIST)
            die("mkdir %s: %s", data_dir, strerror(errno));
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(data_dir, sizeof(data_dir), "%s/smmap-bench-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (mkdtemp(data_dir) == NULL)
            die("mkdtemp: %s", strerror(errno));
        made_data_dir = 1;
    }
    if (cfg.csv) {
        if (mkdir(cfg.csv, 0755) != 0 && errno != EEXIST)
            die("mkdir %s: %s", cfg.csv, strerror(errno));
        snprintf(csvpath, sizeof(csvpath), "%s/regions.csv", cfg.csv);
        csv_regions = fopen(csvpath, "w");
        snprintf(csvpath, sizeof(csvpath), "%s/budget.csv", cfg.csv);
        csv_budget = fopen(csvpath, "w");
        if (!csv_regions || !csv_budget)
            die("cannot write %s: %s", csvpath, strerror(errno));
    }

    big = big_path();
    make_file(big, cfg.big_size);
    for (i = 0; i < cfg.nfiles; i++) {
        char *p = small_path(i);
        make_file(p, cfg.small_size);
        free(p);
    }
    warm_page_cache(big);
    print_machine(&cfg);

    if (workload_enabled(&cfg, 1) || workload_enabled(&cfg, 5))
        workload_random(&cfg, big);
    if (workload_enabled(&cfg, 2))
        workload_scan(&cfg, big);
    if (workload_enabled(&cfg, 4))
        workload_pressure(&cfg, big);
    if (workload_enabled(&cfg, 3) || workload_enabled(&cfg, 6) ||
        workload_enabled(&cfg, 7)) {
        for (i = 0; i < cfg.nfiles; i++) {
            char *p = small_path(i);
            warm_page_cache(p);
            free(p);
        }
        file_set_open(&fs, &cfg);
        if (workload_enabled(&cfg, 3))
            workload_files(&cfg, &fs);
        if (workload_enabled(&cfg, 6))
            workload_regions(&cfg, &fs);
        if (workload_enabled(&cfg, 7)) {
            double per_region, per_file;
            check(smmap_bench_memory((const char *const *)fs.paths, fs.n,
                                     fs.size, &per_region, &per_file, stdout),
                  "memory measurement");
            add_target("Memory: bytes per region", per_region, 128, 0);
            add_target("Memory: bytes per file, without its path", per_file,
                       256, 0);
        }
        file_set_close(&fs);
    }
    cold_ok = can_drop_caches();
    if (cfg.cold && cold_ok) {
        bench_clock = CLOCK_MONOTONIC;
        workload_cold(&cfg, big);
        bench_clock = CLOCK_THREAD_CPUTIME_ID;
    }
    else
        printf("\n(cold page cache: %s)\n",
               !cfg.cold ? "not run; pass --cold (root) to run it"
                         : "cannot write /proc/sys/vm/drop_caches; not run");
    printf("\n");
    print_load("load average at the end");
    print_targets();
    printf("\n(targets are informational; speed is never asserted)\n");
    free(big);
    if (csv_regions)
        fclose(csv_regions);
    if (csv_budget)
        fclose(csv_budget);
    remove_data(&cfg);
    return 0;
}
