/*
 * workload_threads.c - workload 8: T threads sharing one manager, each with
 * its own cursor, random 8-byte smmap_cursor_at reads over the big file
 * whose windows are all cached: every read that leaves the cursor's window
 * is a switch to another cached window, the path a multithreaded reader of
 * a pack file takes all day. Against the same reads from one whole-file map
 * (the physical limit), and through one window holding the whole file (the
 * hit path alone). Throughput is wall-clock reads per second over all
 * threads; T = 1, 2 and the machine's online processors, or --threads.
 */
#include "bench_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum thr_kind { THR_MMAP, THR_SWITCH, THR_ONE_WINDOW };

typedef struct thr_run thr_run;

/* Each worker on lines of its own (two: the adjacent-line prefetcher pairs
 * them): its cursor is written at every switch, and a neighbour's reads of
 * a shared line would be false sharing, measured as the library's. */
typedef struct thr_worker {
    _Alignas(128) thr_run *run;
    const uint64_t *off; /* this thread's offsets */
    smmap_cursor cursor;
    uint64_t sum;
    uint64_t start_ns, end_ns;
    int error;
} thr_worker;

struct thr_run {
    enum thr_kind kind;
    const unsigned char *base; /* THR_MMAP */
    size_t n;                  /* reads per thread */
    int threads;
    pthread_barrier_t start;
    thr_worker workers[BENCH_MAX_THREADS];
};

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t load8(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void *worker_main(void *arg)
{
    thr_worker *w = arg;
    thr_run *run = w->run;
    const uint64_t *off = w->off;
    size_t i, n = run->n;
    uint64_t sum = 0;

    pthread_barrier_wait(&run->start);
    w->start_ns = wall_ns();
    if (run->kind == THR_MMAP) {
        const unsigned char *base = run->base;
        for (i = 0; i < n; i++)
            sum += load8(base + off[i]);
    } else {
        smmap_cursor *c = &w->cursor;
        for (i = 0; i < n; i++) {
            const unsigned char *p = smmap_cursor_at(c, off[i], 8);
            if (p == NULL) {
                w->error = c->error;
                break;
            }
            sum += load8(p);
        }
    }
    w->end_ns = wall_ns();
    w->sum = sum;
    return NULL;
}

/* One timed repetition with run->threads threads: reads per second. */
static double run_once(thr_run *run)
{
    pthread_t tid[BENCH_MAX_THREADS];
    uint64_t first = UINT64_MAX, last = 0;
    int t;

    if (pthread_barrier_init(&run->start, NULL, (unsigned)run->threads) != 0)
        bench_die("pthread_barrier_init failed");
    for (t = 0; t < run->threads; t++)
        if (pthread_create(&tid[t], NULL, worker_main, &run->workers[t]) != 0)
            bench_die("pthread_create failed");
    for (t = 0; t < run->threads; t++) {
        thr_worker *w = &run->workers[t];
        pthread_join(tid[t], NULL);
        if (w->error != 0)
            bench_check(w->error, "smmap_cursor_at (threads)");
        bench_sink += w->sum;
        if (w->start_ns < first)
            first = w->start_ns;
        if (w->end_ns > last)
            last = w->end_ns;
    }
    pthread_barrier_destroy(&run->start);
    return (double)run->n * run->threads * 1e9 / (double)(last - first);
}

#define THR_CASES 4

typedef struct thr_case {
    const char *label;
    char mode[96];
    enum thr_kind kind;
    int nmanagers;                     /* 0 (raw mmap), 1, or one per thread */
    smmap_manager *m[BENCH_MAX_THREADS];
    smmap_file *f[BENCH_MAX_THREADS];  /* thread t reads f[t % nmanagers] */
    double rate[BENCH_MAX_THREAD_COUNTS]; /* median reads/s per count */
    uint64_t maps;  /* maps during the timed runs */
} thr_case;

static void cursors_init(thr_run *run, const thr_case *cs, int threads)
{
    int t;
    for (t = 0; t < threads; t++)
        smmap_cursor_init(&run->workers[t].cursor, cs->f[t % cs->nmanagers]);
}

static void cursors_release(thr_run *run, int threads)
{
    int t;
    for (t = 0; t < threads; t++)
        smmap_cursor_release(&run->workers[t].cursor);
}

/* The maps of all the case's managers so far. */
static uint64_t case_maps(const thr_case *cs)
{
    smmap_stats st;
    uint64_t maps = 0;
    int i;
    for (i = 0; i < cs->nmanagers; i++) {
        smmap_manager_stats(cs->m[i], &st);
        maps += st.maps;
    }
    return maps;
}

/* Touch every window of f once, so that all of them are cached. */
static void warm_windows(smmap_file *f, uint64_t size, uint64_t window)
{
    smmap_cursor c;
    uint64_t o;
    smmap_cursor_init(&c, f);
    for (o = 0; o < size; o += window / 2) {
        if (smmap_cursor_at(&c, o, 1) == NULL)
            bench_check(c.error, "smmap_cursor_at (warm)");
        bench_sink += c.data[o - c.begin];
    }
    smmap_cursor_release(&c);
}

/* The thread counts: --threads, else 1, 2 and the online processors (at
 * most BENCH_MAX_THREADS). Returns how many. */
static int thread_counts(const bench_config *cfg, long online, int *counts)
{
    int n = 0;
    if (cfg->nthreads > 0) {
        memcpy(counts, cfg->threads, sizeof(int) * (size_t)cfg->nthreads);
        return cfg->nthreads;
    }
    counts[n++] = 1;
    counts[n++] = 2;
    if (online > 2)
        counts[n++] = online > BENCH_MAX_THREADS ? BENCH_MAX_THREADS
                                                 : (int)online;
    return n;
}

/* The index of count in counts, or -1. */
static int count_index(const int *counts, int ncounts, int count)
{
    int i;
    for (i = 0; i < ncounts; i++)
        if (counts[i] == count)
            return i;
    return -1;
}

void bench_workload_threads(const bench_config *cfg)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int counts[BENCH_MAX_THREAD_COUNTS], ncounts, ci, rep, k, t, one, two;
    uint64_t size = cfg->big_size, window = size / 16;
    size_t n = bench_ops(cfg, 2000000);
    int fd = bench_open_ro(cfg->big_path);
    const unsigned char *base = bench_map_whole(fd, size, 1);
    uint64_t *off;
    thr_case cs[THR_CASES];
    thr_run *runs = NULL;
    char wsize[32], title[512], text[256], list[128];

    ncounts = thread_counts(cfg, online, counts);
    if (posix_memalign((void **)&runs, 128, THR_CASES * sizeof(*runs)) != 0)
        bench_die("out of memory (%zu bytes)", THR_CASES * sizeof(*runs));
    off = bench_malloc(sizeof(*off) * n * (size_t)counts[ncounts - 1]);
    for (k = 0; k < (int)(n * (size_t)counts[ncounts - 1]); k++)
        off[k] = bench_rng() % (size - 8);

    memset(cs, 0, sizeof(cs));
    bench_fmt_size(wsize, sizeof(wsize), window);
    cs[0].label = "mmap";
    snprintf(cs[0].mode, sizeof(cs[0].mode), "whole file");
    cs[0].kind = THR_MMAP;
    cs[1].label = "smmap_cursor_at";
    snprintf(cs[1].mode, sizeof(cs[1].mode),
             "sliding %s, the 16 windows cached (switching)", wsize);
    cs[1].kind = THR_SWITCH;
    cs[1].nmanagers = 1;
    /* The control: the same switching with nothing shared between the
     * threads, each its own manager. What it loses with more threads is
     * the machine's (frequency, shared cores), not the library's. */
    cs[2].label = "smmap_cursor_at";
    snprintf(cs[2].mode, sizeof(cs[2].mode),
             "the same, a manager per thread (control: nothing shared)");
    cs[2].kind = THR_SWITCH;
    cs[2].nmanagers = counts[ncounts - 1];
    cs[3].label = "smmap_cursor_at";
    bench_fmt_size(wsize, sizeof(wsize), size);
    snprintf(cs[3].mode, sizeof(cs[3].mode),
             "one %s window (the hit path)", wsize);
    cs[3].kind = THR_ONE_WINDOW;
    cs[3].nmanagers = 1;
    for (k = 1; k < THR_CASES; k++) {
        /* the whole file as one window; or 16 windows and room for one
         * more, so that all stay cached */
        int whole = cs[k].kind == THR_ONE_WINDOW;
        uint64_t w = whole ? size : window;
        for (t = 0; t < cs[k].nmanagers; t++) {
            cs[k].m[t] = bench_new_manager(w, whole ? size : size + w, 0, 0,
                                           0);
            cs[k].f[t] = bench_open_smmap(cs[k].m[t], cfg->big_path);
            warm_windows(cs[k].f[t], size, w);
        }
    }

    for (ci = 0; ci < ncounts; ci++) {
        double samples[THR_CASES][MAX_REPS];
        uint64_t before[THR_CASES];
        int threads = counts[ci];
        for (k = 0; k < THR_CASES; k++) {
            thr_run *run = &runs[k];
            run->kind = cs[k].kind;
            run->base = base;
            run->n = n;
            run->threads = threads;
            for (t = 0; t < threads; t++) {
                memset(&run->workers[t], 0, sizeof(run->workers[t]));
                run->workers[t].run = run;
                run->workers[t].off = off + (size_t)t * n;
            }
            if (cs[k].nmanagers > 0) {
                cursors_init(run, &cs[k], threads);
                before[k] = case_maps(&cs[k]);
            }
            (void)run_once(run); /* warm-up */
        }
        /* Interleaved, so that the machine's noise falls on all alike. */
        for (rep = 0; rep < cfg->reps; rep++)
            for (k = 0; k < THR_CASES; k++)
                samples[k][rep] = run_once(&runs[k]);
        for (k = 0; k < THR_CASES; k++) {
            if (cs[k].nmanagers > 0) {
                cursors_release(&runs[k], threads);
                cs[k].maps += case_maps(&cs[k]) - before[k];
            }
            cs[k].rate[ci] = bench_median(samples[k], cfg->reps);
        }
    }

    list[0] = '\0';
    for (ci = 0; ci < ncounts; ci++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%d",
                 ci ? ", " : "", counts[ci]);
    snprintf(title, sizeof(title),
             "Workload 8: threads sharing one manager, each with its own "
             "cursor, random 8-byte reads over a %" PRIu64 " MiB file "
             "(T = %s; %ld online processors)",
             size / MIB, list, online);
    printf("\n### %s\n\n", title);
    printf("| case | mode | T=%d M reads/s |", counts[0]);
    for (ci = 1; ci < ncounts; ci++)
        printf(" T=%d M reads/s | x%d/%d |", counts[ci], counts[ci],
               counts[0]);
    printf(" T=%d, x mmap time | maps in the timed runs |\n|---|---|---:|",
           counts[0]);
    for (ci = 1; ci < ncounts; ci++)
        printf("---:|---:|");
    printf("---:|---:|\n");
    for (k = 0; k < THR_CASES; k++) {
        printf("| %s | %s | %.1f |", cs[k].label, cs[k].mode,
               cs[k].rate[0] / 1e6);
        for (ci = 1; ci < ncounts; ci++)
            printf(" %.1f | %.2f |", cs[k].rate[ci] / 1e6,
                   cs[k].rate[ci] / cs[k].rate[0]);
        printf(" %.2f | %" PRIu64 " |\n", cs[0].rate[0] / cs[k].rate[0],
               cs[k].maps);
    }
    fflush(stdout);

    one = count_index(counts, ncounts, 1);
    two = count_index(counts, ncounts, 2);
    if (one >= 0 && two >= 0)
        bench_target("W8 switching, 2 threads / 1 thread (raw mmap gives "
                     "about 2)",
                     cs[1].rate[two] / cs[1].rate[one], 1.9, 1);
    if (one >= 0)
        bench_target("W8 switching, 1 thread: time per read / raw mmap's",
                     cs[0].rate[one] / cs[1].rate[one], 2.0, 0);
    if (ncounts > 1 && counts[ncounts - 1] > 2) {
        snprintf(text, sizeof(text),
                 "W8 switching, scaling to %d threads / raw mmap's scaling",
                 counts[ncounts - 1]);
        bench_target(text,
                     (cs[1].rate[ncounts - 1] / cs[1].rate[0]) /
                         (cs[0].rate[ncounts - 1] / cs[0].rate[0]),
                     0.9, 1);
    }
    for (k = 1; k < THR_CASES; k++)
        for (t = 0; t < cs[k].nmanagers; t++) {
            smmap_file_close(cs[k].f[t]);
            smmap_manager_free(cs[k].m[t]);
        }
    free(off);
    free(runs);
    munmap((void *)base, (size_t)size);
    close(fd);
}
