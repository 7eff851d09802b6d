/*
 * workload_scan.c - workload 2: a sequential scan of the big file in 64 KiB
 * chunks, warm, every strategy copying the chunk out (mmap+memcpy, pread,
 * smmap_cursor_at+memcpy, smmap_read).
 */
#include "bench_int.h"

#include <sys/mman.h>
#include <unistd.h>

void bench_workload_scan(const bench_config *cfg)
{
    const size_t chunk = 64 * KIB;
    const uint64_t small_window = 64 * MIB;
    uint64_t size = cfg->big_size;
    int fd = bench_open_ro(cfg->big_path);
    const unsigned char *base = bench_map_whole(fd, size, 1);
    pattern pat = bench_sequential_pattern(size, chunk);
    big_smmap dflt, small, stat;
    bcase cs[7];
    int n = 0, k;
    char title[256], fsize[32], csize[32], unit[48];
    char dflt_mode[64], small_mode[64];

    bench_fmt_mode(dflt_mode, sizeof(dflt_mode), bench_default_window());
    bench_fmt_mode(small_mode, sizeof(small_mode), small_window);
    bench_big_open(&dflt, cfg->big_path, bench_default_window(), 0, 0);
    bench_big_open(&small, cfg->big_path, small_window, 0, 0);
    bench_big_open(&stat, cfg->big_path, 0, 0, 0);
    cs[n] = bench_case("mmap+memcpy", "-", K_MMAP_COPY, &pat);
    cs[n++].is_mmap = 1;
    cs[n] = bench_case("pread", "-", K_PREAD, &pat);
    cs[n++].is_pread = 1;
    cs[n++] = bench_big_case("smmap_cursor_at+memcpy", "static",
                             K_CURSOR_AT_COPY, &pat, &stat);
    cs[n++] = bench_big_case("smmap_cursor_at+memcpy", small_mode,
                             K_CURSOR_AT_COPY, &pat, &small);
    cs[n++] = bench_big_case("smmap_read", "static", K_READ, &pat, &stat);
    cs[n++] = bench_big_case("smmap_read", dflt_mode, K_READ, &pat, &dflt);
    cs[n++] = bench_big_case("smmap_read", small_mode, K_READ, &pat, &small);
    for (k = 0; k < n; k++) {
        cs[k].bases = &base;
        cs[k].fds = &fd;
    }
    bench_measure(cs, n, cfg);
    bench_fmt_size(fsize, sizeof(fsize), size);
    bench_fmt_size(csize, sizeof(csize), chunk);
    snprintf(title, sizeof(title),
             "Workload 2: sequential scan of the %s file in %s chunks, warm "
             "(ns per %s; GB/s = %.1f / ns * 1000)",
             fsize, csize, csize, (double)chunk / 1000.0);
    snprintf(unit, sizeof(unit), "ns/%s", csize);
    bench_print_table(title, cs, n, unit);
    bench_free_pattern(&pat);
    bench_big_close(&dflt);
    bench_big_close(&small);
    bench_big_close(&stat);
    munmap((void *)base, (size_t)size);
    close(fd);
}
