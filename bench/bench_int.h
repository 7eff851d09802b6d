/*
 * bench_int.h - what the benchmark's files share: the configuration, the
 * cases and their patterns, the helpers that make data, managers and
 * tables, and the list of workloads (workloads.def).
 *
 * Internal to bench/: every name here starts with bench_ (or is a type of
 * the benchmark), so that a program linking smmap_benchlib keeps its own
 * names. Errors never return: bench_die() prints and unwinds to
 * smmap_bench_main(), which returns 1.
 */
#ifndef SMMAP_BENCH_INT_H
#define SMMAP_BENCH_INT_H

#include "smmap.h"

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define KIB ((uint64_t)1024)
#define MIB ((uint64_t)1024 * 1024)
#define GIB ((uint64_t)1024 * 1024 * 1024)
#define PAGE ((uint64_t)4096)
#define MAX_REPS 31
#define BENCH_MAX_THREADS 64      /* threads in one run of workload 8 */
#define BENCH_MAX_THREAD_COUNTS 8 /* thread counts it compares */

/* ---- configuration (bench_main.c) -------------------------------------- */

/* What the options chose, and the data they imply. Read-only for workloads. */
typedef struct bench_config {
    int quick;           /* --quick: small data, short runs */
    int reps;            /* timed repetitions per case, 1..MAX_REPS */
    int cold;            /* --cold: run the cold page cache cases */
    int keep;            /* --keep: keep the generated data */
    double target_s;     /* wall time of one repetition of one case */
    const char *dir;     /* --dir, or NULL: a fresh temporary directory */
    const char *csv;     /* --csv directory, or NULL */
    uint64_t big_size;   /* the big file's size */
    const char *big_path;
    int nfiles;          /* the small files (see bench_files_open) */
    uint64_t small_size; /* each small file's size */
    FILE *csv_regions;   /* regions.csv and budget.csv, NULL without --csv */
    FILE *csv_budget;
    int nthreads;        /* --threads: workload 8's thread counts, ascending; */
    int threads[BENCH_MAX_THREAD_COUNTS]; /* 0 counts: 1, 2 and the CPUs */
} bench_config;

/* ---- failing, allocating, timing, random numbers (bench_util.c) --------- */

/* Print "PROGRAM: message" to stderr and unwind to smmap_bench_main. */
void bench_die(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;
/* bench_die("what: strerror") when err < 0. */
void bench_check(int err, const char *what);
void *bench_malloc(size_t n);

/* The program name in messages: argv[0] without its directory. */
extern const char *bench_program;
/* Where bench_die unwinds to (set by smmap_bench_main). */
extern jmp_buf bench_abort;

/* Keeps every value read alive: add what a loop read to it. */
extern volatile uint64_t bench_sink;

/*
 * The clock: the CPU time of this thread for the warm cases (on a shared
 * machine other processes take whole time slices, and a wall clock would
 * charge them to whichever case was running), CLOCK_MONOTONIC for the cold
 * ones (which wait for the disk).
 */
extern clockid_t bench_clock;
uint64_t bench_now_ns(void);

/* xorshift64*, reseeded by the driver before each workload, so that a
 * workload run alone reads the same offsets as in a full run. */
void bench_rng_seed(uint64_t seed);
uint64_t bench_rng(void);

/* ---- data (bench_data.c) ------------------------------------------------ */

/* Make (or reuse) the data directory: cfg->dir, or a temporary one. */
void bench_data_dir_make(const char *dir);
const char *bench_data_dir(void);
/* Remove what bench_data_dir_make created, unless cfg->keep. */
void bench_data_remove(const bench_config *cfg);
char *bench_big_path(void);     /* malloc'd */
char *bench_small_path(int i);  /* malloc'd */
/* Write size pseudo-random bytes to path unless it already has that size. */
void bench_make_file(const char *path, uint64_t size);
/* Read a file once so that its pages are in the page cache. */
void bench_warm_page_cache(const char *path);
int bench_can_drop_caches(void);
void bench_drop_caches(void);
int bench_open_ro(const char *path);
const unsigned char *bench_map_whole(int fd, uint64_t size, int populate);

/* The small files: paths, descriptors and whole-file maps (the baselines). */
typedef struct file_set {
    int n;
    char **paths;
    int *fds;
    const unsigned char **bases;
    uint64_t size;
} file_set;

/* Open and map cfg->nfiles small files; the first call reads them into the
 * page cache. */
void bench_files_open(file_set *s, const bench_config *cfg);
void bench_files_close(file_set *s);

/* ---- cases (bench_cases.c) ---------------------------------------------- */

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
    /* The kernel's share of workload 6's eviction: N live mappings of two
     * pages made by hand; every other read unmaps the oldest and maps the
     * next slot, the others read a live one. No smmap code runs. */
    K_RAW_EVICT
};

/* The window of K_MMAP_CHECKED, reached through a pointer the compiler must
 * reload (see bench_escape()). */
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

/* A budget of max descriptors over n paths, none open yet. */
void bench_fd_budget_init(fd_budget *b, char **paths, int n, int max);
void bench_fd_budget_free(fd_budget *b);

/* An access pattern: operation i reads len bytes at off[i] of file fidx[i]
 * (fidx NULL: file 0). */
typedef struct pattern {
    uint64_t *off;
    uint32_t *fidx;
    size_t n;
    size_t len;
} pattern;

/* n reads of len bytes at random offsets in [lo, lo + span), file 0. */
pattern bench_random_pattern(size_t n, uint64_t lo, uint64_t span, size_t len);
/* Reads of len bytes at 0, len, 2 len, ... up to size, file 0. */
pattern bench_sequential_pattern(uint64_t size, size_t len);
void bench_free_pattern(pattern *p);

/* One strategy on one pattern, and what measuring it found. */
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

/* A case without a manager (the baselines); set bases/fds after. */
bcase bench_case(const char *strategy, const char *mode, enum kind k,
                 const pattern *pat);

/*
 * Run every case cfg->reps times, interleaved (repetition r runs case 0,
 * 1, ... before repetition r + 1 starts), so that the machine's noise falls
 * on all of them alike. Each case is first calibrated (which also warms it)
 * to about cfg->target_s per repetition; fills in ops, samples and ns.
 */
void bench_measure(bcase *cases, int ncases, const bench_config *cfg);
/* The median of n samples (n <= MAX_REPS; the array is left as it is). */
double bench_median(const double *samples, int n);
/* One timed repetition of c->ops operations (what bench_measure repeats;
 * the cold cases call it once). */
void bench_timed_run(bcase *c);

/* An empty asm that claims to read buf: a copy into buf cannot be elided. */
static inline void bench_escape(void *buf)
{
    __asm__ volatile("" : : "r"(buf) : "memory");
}

/* The operation count of a workload: full, or an eighth of it in quick mode. */
size_t bench_ops(const bench_config *cfg, size_t full);

/* A manager with this window, budgets (0: the default) and flags. */
smmap_manager *bench_new_manager(uint64_t window, uint64_t max_mapped,
                                 uint32_t max_regions, uint32_t max_open_files,
                                 uint32_t flags);
smmap_file *bench_open_smmap(smmap_manager *m, const char *path);
/* The window size smmap_options_init gives on this platform. */
uint64_t bench_default_window(void);

/* One smmap configuration over the big file: a manager, a handle, and a
 * cursor per case. */
typedef struct big_smmap {
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor cursors[16];
    int ncursors;
} big_smmap;

void bench_big_open(big_smmap *b, const char *path, uint64_t window,
                    uint64_t max_mapped, uint32_t max_regions);
smmap_cursor *bench_big_cursor(big_smmap *b);
void bench_big_close(big_smmap *b);
/* A case reading through a new cursor of b. */
bcase bench_big_case(const char *strategy, const char *mode, enum kind k,
                     const pattern *pat, big_smmap *b);
/* Fault in every page of [lo, lo + size) through c (warm page tables). */
void bench_warm_through(smmap_cursor *c, uint64_t lo, uint64_t size);

/* smmap over a file set: a manager, a handle and a cursor per file. */
typedef struct many_smmap {
    smmap_manager *m;
    smmap_file **files;
    smmap_cursor *cursors;
    int n;
} many_smmap;

void bench_many_open(many_smmap *ms, const file_set *s, uint64_t window,
                     uint64_t max_mapped, uint32_t max_regions,
                     uint32_t max_open_files, uint32_t flags);
void bench_many_close(many_smmap *ms);
/* A case reading through ms's cursors (K_SWITCH: through cursor 0). */
bcase bench_many_case(const char *strategy, const char *mode, enum kind k,
                      const pattern *pat, many_smmap *ms);

/* ---- labels, tables and targets (bench_report.c) ------------------------ */

/* "64 MiB", "4 KiB", "1 GiB": v in the largest unit that divides it. */
void bench_fmt_size(char *out, size_t outsize, uint64_t v);
/* A manager's mode as the tables print it: "static" (window 0), or
 * "sliding 4 MiB", with " (default)" when window is bench_default_window(). */
void bench_fmt_mode(char *out, size_t outsize, uint64_t window);

/* A table of cases: ns per operation, ratios to the case marked is_mmap
 * and is_pread, and what the manager did during the timed runs. */
void bench_print_table(const char *title, const bcase *cases, int n,
                       const char *unit);

/* A target: ratio must be <= limit (or >= limit when at_least). Printed
 * with a verdict after every workload ran, never turned into a failure. */
void bench_target(const char *text, double ratio, double limit, int at_least);
void bench_print_targets(void);

/* The header of a run: the machine, the version, the options. */
void bench_print_machine(const bench_config *cfg);
/* The load average: on a shared machine it says how much to trust a run. */
void bench_print_load(const char *when);

/* ---- workloads ---------------------------------------------------------- */

/*
 * A workload: runs its cases with bench_measure, prints its tables with
 * bench_print_table (titles "Workload N: ..."), may add targets with
 * bench_target. bench_rng is seeded for it. It must leave nothing open.
 */
typedef void bench_workload_fn(const bench_config *cfg);

/* workloads.def lists them: BENCH_WORKLOAD(number, function, summary). */
#define BENCH_WORKLOAD(number, function, summary) bench_workload_fn function;
#include "workloads.def"
#undef BENCH_WORKLOAD

/* The cold page cache cases (workload_cold.c): run by --cold, after the
 * numbered workloads; needs root to drop the caches. */
bench_workload_fn bench_cold;

/* The memory measurement behind workload 7 (bench_memory.c). */
int bench_memory_measure(const char *const *paths, int npaths,
                         uint64_t file_size, double *per_region,
                         double *per_file, FILE *out);

#endif /* SMMAP_BENCH_INT_H */
