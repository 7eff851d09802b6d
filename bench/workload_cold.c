/*
 * workload_cold.c - the cold page cache cases (--cold, root only): random
 * 8-byte reads and a sequential scan of the big file, one pass per
 * strategy, the caches dropped before each, timed by the wall clock (the
 * driver sets bench_clock).
 */
#include "bench_int.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* One strategy of a cold table. window: the manager's window size, or
 * NO_SMMAP for the raw baselines. */
#define NO_SMMAP UINT64_MAX
typedef struct cold_plan {
    const char *strategy;
    enum kind kind;
    uint64_t window;
} cold_plan;

/* Run each plan once over pat, caches dropped before each; modes are
 * written into the cases (which keep them). */
static void cold_pass(const bench_config *cfg, const cold_plan *plan, int n,
                      const pattern *pat, bcase *cs)
{
    int i;
    for (i = 0; i < n; i++) {
        int fd;
        const unsigned char *base = NULL;
        big_smmap b;
        char mode[64] = "-";
        bench_drop_caches();
        fd = bench_open_ro(cfg->big_path);
        if (plan[i].kind == K_MMAP || plan[i].kind == K_MMAP_COPY)
            base = bench_map_whole(fd, cfg->big_size, 0);
        if (plan[i].window != NO_SMMAP)
            bench_fmt_mode(mode, sizeof(mode), plan[i].window);
        cs[i] = bench_case(plan[i].strategy, mode, plan[i].kind, pat);
        cs[i].bases = &base;
        cs[i].fds = &fd;
        cs[i].is_mmap = plan[i].kind == K_MMAP || plan[i].kind == K_MMAP_COPY;
        cs[i].is_pread = plan[i].kind == K_PREAD;
        if (plan[i].window != NO_SMMAP) {
            bench_big_open(&b, cfg->big_path, plan[i].window, 0, 0);
            cs[i].cursors = bench_big_cursor(&b);
            cs[i].manager = b.m;
        }
        cs[i].ops = pat->n;
        bench_timed_run(&cs[i]);
        cs[i].ns = cs[i].samples[0];
        if (plan[i].window != NO_SMMAP)
            bench_big_close(&b);
        if (base)
            munmap((void *)base, (size_t)cfg->big_size);
        close(fd);
        /* the case outlives base, fd and the manager: only its numbers
         * and labels are read from here on */
        cs[i].bases = NULL;
        cs[i].fds = NULL;
        cs[i].cursors = NULL;
    }
}

void bench_cold(const bench_config *cfg)
{
    const size_t nreads = 3000, len = 8, chunk = 64 * KIB;
    const uint64_t dflt = bench_default_window();
    const cold_plan random_plan[] = {
        {"mmap", K_MMAP, NO_SMMAP},
        {"pread", K_PREAD, NO_SMMAP},
        {"smmap_cursor_at", K_CURSOR_AT, 0},
        {"smmap_cursor_at", K_CURSOR_AT, dflt},
        {"smmap_read", K_READ, dflt},
        {"smmap_read", K_READ, 1 * MIB},
    };
    const cold_plan scan_plan[] = {
        {"mmap+memcpy", K_MMAP_COPY, NO_SMMAP},
        {"pread", K_PREAD, NO_SMMAP},
        {"smmap_read", K_READ, dflt},
        {"smmap_read", K_READ, 64 * MIB},
    };
    pattern pat = bench_random_pattern(nreads, 0, cfg->big_size, len);
    pattern seq = bench_sequential_pattern(cfg->big_size, chunk);
    bcase cs[6], scan[4];
    char title[256], csize[32], unit[48];

    cold_pass(cfg, random_plan, 6, &pat, cs);
    snprintf(title, sizeof(title),
             "Cold page cache: %zu random %zu-byte reads over the big file, "
             "caches dropped before each strategy (one pass)",
             nreads, len);
    bench_print_table(title, cs, 6, "ns/op");

    cold_pass(cfg, scan_plan, 4, &seq, scan);
    bench_fmt_size(csize, sizeof(csize), chunk);
    snprintf(title, sizeof(title),
             "Cold page cache: sequential scan in %s chunks, caches dropped "
             "before each strategy (one pass)",
             csize);
    snprintf(unit, sizeof(unit), "ns/%s", csize);
    bench_print_table(title, scan, 4, unit);
    bench_free_pattern(&seq);
    bench_free_pattern(&pat);
}
