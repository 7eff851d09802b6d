/*
 * workload_pressure.c - workload 4: random 64-byte reads over the big file
 * with max_mapped a tenth of it, with 1 MiB and 64 KiB windows, one manager
 * per strategy (they must not evict each other's windows); and, with
 * --csv, the budget sweep behind budget.csv: the same reads with the budget
 * from 1% to 100% of the file.
 */
#include "bench_int.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void bench_workload_pressure(const bench_config *cfg)
{
    uint64_t size = cfg->big_size;
    const size_t len = 64;
    const double pressure_pct = 10; /* workload 4's budget */
    int fd = bench_open_ro(cfg->big_path);
    const unsigned char *base = bench_map_whole(fd, size, 1);
    pattern pat = bench_random_pattern(bench_ops(cfg, 2000000), 0, size, len);
    const uint64_t windows[2] = {1 * MIB, 64 * KIB};
    /* the sweep's budgets in percent of the data */
    static const double pct_full[] = {1, 2, 5, 10, 25, 50, 75, 100};
    static const double pct_quick[] = {10, 50, 100};
    const double *pct = cfg->quick ? pct_quick : pct_full;
    int npct = cfg->quick ? 3 : 8, w, p;
    bcase base_cs[3];
    char title[256];

    base_cs[0] = bench_case("mmap", "- (whole file)", K_MMAP, &pat);
    base_cs[0].is_mmap = 1;
    base_cs[1] = bench_case("mmap+memcpy", "- (whole file)", K_MMAP_COPY, &pat);
    base_cs[2] = bench_case("pread", "-", K_PREAD, &pat);
    base_cs[2].is_pread = 1;
    for (p = 0; p < 3; p++) {
        base_cs[p].bases = &base;
        base_cs[p].fds = &fd;
    }

    for (w = 0; w < 2; w++) {
        bcase cs[3 + 2];
        big_smmap b, b2; /* one manager per strategy */
        uint64_t budget = (uint64_t)((double)size * pressure_pct / 100.0);
        char mode[96], wn[32];
        int n;
        budget -= budget % windows[w];
        bench_big_open(&b, cfg->big_path, windows[w], budget, 1u << 20);
        bench_big_open(&b2, cfg->big_path, windows[w], budget, 1u << 20);
        bench_fmt_mode(mode, sizeof(mode), windows[w]);
        bench_fmt_size(wn, sizeof(wn), windows[w]);
        snprintf(mode + strlen(mode), sizeof(mode) - strlen(mode),
                 ", max_mapped %g%%", pressure_pct);
        memcpy(cs, base_cs, sizeof(base_cs));
        n = 3;
        cs[n++] = bench_big_case("smmap_cursor_at", mode, K_CURSOR_AT, &pat,
                                 &b);
        cs[n++] = bench_big_case("smmap_read", mode, K_READ, &pat, &b2);
        bench_measure(cs, n, cfg);
        snprintf(title, sizeof(title),
                 "Workload 4: random %zu-byte reads, max_mapped %g%% of the "
                 "data, %s windows",
                 len, pressure_pct, wn);
        bench_print_table(title, cs, n, "ns/op");
        snprintf(title, sizeof(title),
                 "W4 under pressure, %s windows: smmap_read %zu B / pread", wn,
                 len);
        bench_target(title, cs[4].ns / cs[2].ns, 1.1, 0);
        snprintf(title, sizeof(title),
                 "W4 under pressure, %s windows: cursor_at %zu B / pread", wn,
                 len);
        bench_target(title, cs[3].ns / cs[2].ns, 1.1, 0);
        if (w == 0 && cfg->csv_budget) {
            fprintf(cfg->csv_budget, "budget_pct,window,strategy,ns_per_op\n");
            fprintf(cfg->csv_budget, "0,-,mmap,%.2f\n", cs[0].ns);
            fprintf(cfg->csv_budget, "0,-,pread,%.2f\n", cs[2].ns);
        }
        bench_big_close(&b);
        bench_big_close(&b2);
    }

    /* The sweep: throughput against the budget. One budget point at a
     * time, its two managers (one per strategy) closed before the next: all
     * of them at once would pass vm.max_map_count with 64 KiB windows. */
    for (w = 0; w < 2 && cfg->csv_budget; w++) {
        char wn[32];
        bench_fmt_size(wn, sizeof(wn), windows[w]);
        for (p = 0; p < npct; p++) {
            bcase cs[2];
            big_smmap b1, b2;
            char mode[96];
            uint64_t budget = (uint64_t)((double)size * pct[p] / 100.0);
            budget -= budget % windows[w];
            if (budget < windows[w])
                budget = windows[w];
            bench_big_open(&b1, cfg->big_path, windows[w], budget, 1u << 20);
            bench_big_open(&b2, cfg->big_path, windows[w], budget, 1u << 20);
            snprintf(mode, sizeof(mode), "%s windows, budget %g%%", wn,
                     pct[p]);
            cs[0] = bench_big_case("smmap_read", mode, K_READ, &pat, &b1);
            cs[1] = bench_big_case("smmap_cursor_at", mode, K_CURSOR_AT, &pat,
                                   &b2);
            bench_measure(cs, 2, cfg);
            snprintf(title, sizeof(title),
                     "Budget sweep, %s windows, max_mapped %g%% of the file "
                     "(plot data)",
                     wn, pct[p]);
            bench_print_table(title, cs, 2, "ns/op");
            fprintf(cfg->csv_budget, "%g,%s,smmap_read,%.2f\n", pct[p], wn,
                    cs[0].ns);
            fprintf(cfg->csv_budget, "%g,%s,smmap_cursor_at,%.2f\n", pct[p], wn,
                    cs[1].ns);
            bench_big_close(&b1);
            bench_big_close(&b2);
        }
    }
    bench_free_pattern(&pat);
    munmap((void *)base, (size_t)size);
    close(fd);
}
