/*
 * bench_main.c - the benchmark's driver: smmap_bench_main parses and checks
 * the options, makes the data, runs the selected workloads of
 * workloads.def in their order (then the cold cases with --cold), and
 * prints the targets last.
 *
 * Each workload runs every strategy in the same process, interleaved
 * repetition by repetition, so that the machine's noise falls on all of
 * them alike (bench_measure). Nothing here asserts anything about speed:
 * the targets are evaluated and printed, never turned into a failure,
 * because a shared machine is noisy.
 */
#include "bench_int.h"
#include "smmap_bench.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct bench_workload {
    unsigned number;
    bench_workload_fn *run;
    const char *summary;
} bench_workload;

static const bench_workload workloads[] = {
#define BENCH_WORKLOAD(number, function, summary) {number, function, summary},
#include "workloads.def"
#undef BENCH_WORKLOAD
};
#define NWORKLOADS ((int)(sizeof(workloads) / sizeof(workloads[0])))

/* The options, before they become a bench_config. */
typedef struct bench_options {
    int quick, cold, keep, help;
    long reps; /* -1: the mode's default */
    const char *dir, *csv;
    unsigned char selected[NWORKLOADS]; /* all 1 without --workloads */
    int nthreads, threads[BENCH_MAX_THREAD_COUNTS]; /* --threads */
} bench_options;

static void usage(FILE *out)
{
    int i;
    fprintf(out,
            "usage: %s [--quick] [--reps N] [--cold] [--dir DIR] [--keep]\n"
            "          [--csv DIR] [--workloads N[,N...]] [--threads T[,T...]]\n"
            "  --quick          small data, short runs (seconds; for CI)\n"
            "  --reps N         timed repetitions per case, 1-%d (the median "
            "is\n"
            "                   reported; default 9, with --quick 3)\n"
            "  --cold           also run the cold page cache cases (root: "
            "drops\n"
            "                   the caches)\n"
            "  --dir DIR        where to generate (or reuse) the data; "
            "default a\n"
            "                   new temporary directory, removed at the end\n"
            "  --keep           keep the generated data\n"
            "  --csv DIR        write regions.csv and budget.csv for "
            "bench/plot.py\n"
            "  --threads LIST   workload 8's thread counts, ascending, each "
            "1-%d,\n"
            "                   at most %d of them (default 1, 2 and the "
            "online\n"
            "                   processors); scaling is against the first\n"
            "  --workloads LIST run only these workloads, e.g. 1,4 (default "
            "all):\n",
            bench_program, MAX_REPS, BENCH_MAX_THREADS,
            BENCH_MAX_THREAD_COUNTS);
    for (i = 0; i < NWORKLOADS; i++)
        fprintf(out, "    %2u  %s\n", workloads[i].number,
                workloads[i].summary);
    fprintf(out, "Workloads run in this order; the targets are printed at "
                 "the end.\n");
}

/* Print "PROGRAM: message" and a pointer to --help; returns 2. */
static int usage_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", bench_program);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(%s --help lists the options)\n", bench_program);
    return 2;
}

/* A decimal number in [lo, hi], all of s: no sign, no blanks, no suffix. */
static int parse_number(const char *s, unsigned long lo, unsigned long hi,
                        unsigned long *out)
{
    char *end;
    unsigned long v;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* The next item of a comma-separated list at *p into item (NUL-ended);
 * advances *p past its comma. Returns 1 for an item, 0 at the end, -1 for
 * an empty or overlong one. */
static int list_next(const char **p, char *item, size_t size)
{
    size_t n;
    if (*p == NULL)
        return 0;
    n = strcspn(*p, ",");
    if (n == 0 || n >= size)
        return -1;
    memcpy(item, *p, n);
    item[n] = '\0';
    *p = (*p)[n] == '\0' ? NULL : *p + n + 1;
    return 1;
}

/* "1,2,8,16": ascending thread counts, each 1..BENCH_MAX_THREADS. */
static int parse_threads(const char *list, bench_options *opt)
{
    const char *p = list;
    char item[32];
    int got;
    opt->nthreads = 0;
    while ((got = list_next(&p, item, sizeof(item))) != 0) {
        unsigned long v;
        if (got < 0 || parse_number(item, 1, BENCH_MAX_THREADS, &v) != 0)
            return usage_error("--threads: '%s' is not a list of thread "
                               "counts from 1 to %d (e.g. 1,2,4)",
                               list, BENCH_MAX_THREADS);
        if (opt->nthreads == BENCH_MAX_THREAD_COUNTS)
            return usage_error("--threads: at most %d counts",
                               BENCH_MAX_THREAD_COUNTS);
        if (opt->nthreads > 0 && (int)v <= opt->threads[opt->nthreads - 1])
            return usage_error("--threads: '%s' is not ascending", list);
        opt->threads[opt->nthreads++] = (int)v;
    }
    return 0;
}

/* "1,4,6": each a workload of the table, at least one. */
static int parse_workloads(const char *list, unsigned char *selected)
{
    const char *p = list;
    char item[32];
    int got;
    memset(selected, 0, NWORKLOADS);
    while ((got = list_next(&p, item, sizeof(item))) != 0) {
        unsigned long v;
        int i, found = 0;
        if (got < 0)
            return usage_error("--workloads: '%s' is not a list of workload "
                               "numbers (e.g. 1,4)",
                               list);
        if (parse_number(item, 0, UINT_MAX, &v) == 0)
            for (i = 0; i < NWORKLOADS; i++)
                if (workloads[i].number == v) {
                    selected[i] = 1;
                    found = 1;
                }
        if (!found)
            return usage_error("--workloads: no workload '%s' (they are "
                               "%u-%u; --help lists them)",
                               item, workloads[0].number,
                               workloads[NWORKLOADS - 1].number);
    }
    return 0;
}

/* Returns 0, or 2 after printing a usage error. */
static int parse_options(int argc, char **argv, bench_options *opt)
{
    int i, err;
    memset(opt, 0, sizeof(*opt));
    opt->reps = -1;
    memset(opt->selected, 1, sizeof(opt->selected));
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0)
            opt->quick = 1;
        else if (strcmp(a, "--cold") == 0)
            opt->cold = 1;
        else if (strcmp(a, "--keep") == 0)
            opt->keep = 1;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            opt->help = 1;
        else if (strcmp(a, "--reps") == 0 || strcmp(a, "--dir") == 0 ||
                 strcmp(a, "--csv") == 0 || strcmp(a, "--workloads") == 0 ||
                 strcmp(a, "--threads") == 0) {
            if (value == NULL)
                return usage_error("%s needs a value", a);
            i++;
            if (strcmp(a, "--reps") == 0) {
                unsigned long v;
                if (parse_number(value, 1, MAX_REPS, &v) != 0)
                    return usage_error("--reps: '%s' is not a number from 1 "
                                       "to %d",
                                       value, MAX_REPS);
                opt->reps = (long)v;
            } else if (*value == '\0') {
                return usage_error("%s: the value is empty", a);
            } else if (strcmp(a, "--dir") == 0) {
                opt->dir = value;
            } else if (strcmp(a, "--csv") == 0) {
                opt->csv = value;
            } else if (strcmp(a, "--threads") == 0) {
                if ((err = parse_threads(value, opt)) != 0)
                    return err;
            } else if ((err = parse_workloads(value, opt->selected)) != 0) {
                return err;
            }
        } else if (a[0] == '-') {
            return usage_error("unknown option '%s'", a);
        } else {
            return usage_error("unexpected argument '%s' (the benchmark "
                               "takes only options)",
                               a);
        }
    }
    return 0;
}

static FILE *open_csv(const char *dir, const char *name)
{
    char path[4200];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (f == NULL)
        bench_die("cannot write %s: %s", path, strerror(errno));
    return f;
}

static void close_csv(FILE **f)
{
    if (*f != NULL && fclose(*f) != 0)
        bench_die("writing the CSV files: %s", strerror(errno));
    *f = NULL;
}

/* The configuration as seen after a longjmp (the locals of
 * smmap_bench_main are indeterminate there). */
static bench_config cfg_copy;

int smmap_bench_main(int argc, char **argv)
{
    bench_options opt;
    bench_config cfg;
    char *big;
    int i, err;

    /* A piped run shows each row as it is measured. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    bench_program = "smmap-bench";
    if (argc > 0 && argv[0] != NULL && argv[0][0] != '\0') {
        const char *slash = strrchr(argv[0], '/');
        bench_program = slash ? slash + 1 : argv[0];
    }
    err = parse_options(argc, argv, &opt);
    if (err != 0)
        return err;
    if (opt.help) {
        usage(stdout);
        return 0;
    }

    memset(&cfg, 0, sizeof(cfg));
    cfg.quick = opt.quick;
    cfg.cold = opt.cold;
    cfg.keep = opt.keep;
    cfg.dir = opt.dir;
    cfg.csv = opt.csv;
    cfg.nthreads = opt.nthreads;
    memcpy(cfg.threads, opt.threads, sizeof(cfg.threads));
    cfg.reps = opt.reps != -1 ? (int)opt.reps : opt.quick ? 3 : 9;
    cfg.target_s = cfg.quick ? 0.02 : 0.08;
    cfg.big_size = cfg.quick ? 64 * MIB : 1 * GIB;
    cfg.nfiles = cfg.quick ? 100 : 500;
    cfg.small_size = cfg.quick ? 256 * KIB : 2 * MIB;

    cfg_copy = cfg;
    if (setjmp(bench_abort) != 0) {
        fflush(stdout);
        if (cfg_copy.csv_regions)
            fclose(cfg_copy.csv_regions);
        if (cfg_copy.csv_budget)
            fclose(cfg_copy.csv_budget);
        bench_clock = CLOCK_THREAD_CPUTIME_ID;
        bench_data_remove(&cfg_copy);
        return 1;
    }
    bench_data_dir_make(cfg.dir);
    if (cfg.csv) {
        if (mkdir(cfg.csv, 0755) != 0 && errno != EEXIST)
            bench_die("mkdir %s: %s", cfg.csv, strerror(errno));
        cfg.csv_regions = cfg_copy.csv_regions = open_csv(cfg.csv,
                                                          "regions.csv");
        cfg.csv_budget = cfg_copy.csv_budget = open_csv(cfg.csv, "budget.csv");
    }

    bench_rng_seed(0);
    big = bench_big_path();
    cfg.big_path = cfg_copy.big_path = big;
    bench_make_file(big, cfg.big_size);
    for (i = 0; i < cfg.nfiles; i++) {
        char *p = bench_small_path(i);
        bench_make_file(p, cfg.small_size);
        free(p);
    }
    bench_warm_page_cache(big);
    bench_print_machine(&cfg);

    for (i = 0; i < NWORKLOADS; i++)
        if (opt.selected[i]) {
            bench_rng_seed(workloads[i].number);
            workloads[i].run(&cfg);
        }
    if (cfg.cold && bench_can_drop_caches()) {
        bench_rng_seed(0);
        bench_clock = CLOCK_MONOTONIC;
        bench_cold(&cfg);
        bench_clock = CLOCK_THREAD_CPUTIME_ID;
    } else {
        printf("\n(cold page cache: %s)\n",
               !cfg.cold ? "not run; pass --cold (root) to run it"
                         : "cannot write /proc/sys/vm/drop_caches; not run");
    }
    printf("\n");
    bench_print_load("load average at the end");
    bench_print_targets();
    printf("\n(targets are informational; speed is never asserted)\n");
    close_csv(&cfg.csv_regions);
    cfg_copy.csv_regions = NULL;
    close_csv(&cfg.csv_budget);
    cfg_copy.csv_budget = NULL;
    free(big);
    bench_data_remove(&cfg);
    return 0;
}
