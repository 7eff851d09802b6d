/*
 * workload_files.c - workload 3: random 64-byte reads over many small
 * files, one cursor per file, under a budget of 16 descriptors: the
 * baselines with every descriptor open and with pread under the same
 * budget, smmap in static mode and with the default window (every file
 * mapped once), and with small windows and a tenth of the data mapped, so
 * that windows churn and descriptors are closed and reopened.
 */
#include "bench_int.h"

#include <string.h>

void bench_workload_files(const bench_config *cfg)
{
    const uint32_t fds = 16;          /* max_open_files of every manager */
    const uint64_t tight_window = 64 * KIB;
    const int tight_pct = 10;         /* max_mapped, percent of the data */
    file_set s;
    pattern pat;
    many_smmap dflt, stat, tight, tight2;
    fd_budget budget;
    bcase cs[9];
    int n = 0, k;
    size_t i;
    char title[256], fsize[32], wsize[32];
    char static_mode[96], dflt_mode[96], tight_mode[96], lru_mode[96];
    uint64_t total;

    bench_files_open(&s, cfg);
    total = s.size * (uint64_t)s.n;
    pat.n = bench_ops(cfg, 2000000);
    pat.len = 64;
    pat.off = bench_malloc(pat.n * sizeof(*pat.off));
    pat.fidx = bench_malloc(pat.n * sizeof(*pat.fidx));
    for (i = 0; i < pat.n; i++) {
        pat.fidx[i] = (uint32_t)(bench_rng() % (uint64_t)s.n);
        pat.off[i] = bench_rng() % (s.size - pat.len + 1);
    }
    bench_many_open(&dflt, &s, bench_default_window(), 0, 0, fds, 0);
    bench_many_open(&stat, &s, 0, 0, 0, fds, 0);
    /* the descriptor budget only bites when windows churn: small windows,
     * a tenth of the data mapped; one manager per strategy */
    bench_many_open(&tight, &s, tight_window, total * tight_pct / 100, 0, fds,
                    0);
    bench_many_open(&tight2, &s, tight_window, total * tight_pct / 100, 0, fds,
                    0);

    bench_fmt_size(wsize, sizeof(wsize), tight_window);
    snprintf(static_mode, sizeof(static_mode), "static, %u fds", fds);
    bench_fmt_mode(dflt_mode, sizeof(dflt_mode), bench_default_window());
    snprintf(dflt_mode + strlen(dflt_mode), sizeof(dflt_mode) - strlen(dflt_mode),
             ", %u fds", fds);
    snprintf(tight_mode, sizeof(tight_mode),
             "sliding %s, max_mapped %d%%, %u fds", wsize, tight_pct, fds);
    snprintf(lru_mode, sizeof(lru_mode),
             "%u fds (open on demand, close the oldest)", fds);

    cs[n] = bench_case("mmap", "-", K_MMAP, &pat);
    cs[n++].is_mmap = 1;
    cs[n] = bench_case("pread", "- (all fds open)", K_PREAD, &pat);
    cs[n++].is_pread = 1;
    bench_fd_budget_init(&budget, s.paths, s.n, (int)fds);
    cs[n] = bench_case("pread", lru_mode, K_PREAD_LRU, &pat);
    cs[n++].budget = &budget;
    cs[n++] = bench_many_case("smmap_cursor_at", static_mode, K_CURSOR_AT,
                              &pat, &stat);
    cs[n++] = bench_many_case("smmap_cursor_at", dflt_mode, K_CURSOR_AT, &pat,
                              &dflt);
    cs[n++] = bench_many_case("smmap_read", static_mode, K_READ, &pat, &stat);
    cs[n++] = bench_many_case("smmap_read", dflt_mode, K_READ, &pat, &dflt);
    cs[n++] = bench_many_case("smmap_cursor_at", tight_mode, K_CURSOR_AT, &pat,
                              &tight);
    cs[n++] = bench_many_case("smmap_read", tight_mode, K_READ, &pat, &tight2);
    for (k = 0; k < n; k++) {
        cs[k].bases = s.bases;
        cs[k].fds = s.fds;
    }
    bench_measure(cs, n, cfg);
    bench_fmt_size(fsize, sizeof(fsize), s.size);
    snprintf(title, sizeof(title),
             "Workload 3: random %zu-byte reads over %d files of %s, "
             "max_open_files %u, one cursor per file, warm",
             pat.len, s.n, fsize, fds);
    bench_print_table(title, cs, n, "ns/op");
    bench_free_pattern(&pat);
    bench_fd_budget_free(&budget);
    bench_many_close(&dflt);
    bench_many_close(&stat);
    bench_many_close(&tight);
    bench_many_close(&tight2);
    bench_files_close(&s);
}
