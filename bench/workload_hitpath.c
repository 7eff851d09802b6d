/*
 * workload_hitpath.c - workload 5: random 8-byte reads inside the one
 * window each cursor holds, so that every read is a hit: the hit path of
 * smmap_cursor_at and smmap_read alone, against the same reads from a
 * whole-file map.
 */
#include "bench_int.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void bench_workload_hitpath(const bench_config *cfg)
{
    const uint64_t window = MIB;
    const size_t len = 8;
    int fd = bench_open_ro(cfg->big_path);
    const unsigned char *base = bench_map_whole(fd, cfg->big_size, 1);
    pattern pat = bench_random_pattern(bench_ops(cfg, 8000000), 0, window, len);
    big_smmap b;
    bcase cs[5];
    char wsize[32], mmap_mode[64], held_mode[96], title[256], t[256];

    bench_fmt_size(wsize, sizeof(wsize), window);
    snprintf(mmap_mode, sizeof(mmap_mode), "first %s of the map", wsize);
    bench_fmt_mode(held_mode, sizeof(held_mode), window);
    snprintf(held_mode + strlen(held_mode), sizeof(held_mode) - strlen(held_mode),
             ", window held");
    bench_big_open(&b, cfg->big_path, window, 0, 0);
    cs[0] = bench_case("mmap", mmap_mode, K_MMAP, &pat);
    cs[0].is_mmap = 1;
    cs[1] = bench_big_case("smmap_cursor_at", held_mode, K_CURSOR_AT, &pat,
                           &b);
    cs[2] = bench_big_case("smmap_read", held_mode, K_READ, &pat, &b);
    cs[3] = bench_case("mmap+memcpy", mmap_mode, K_MMAP_COPY, &pat);
    cs[4] = bench_big_case("smmap_cursor_at+memcpy", held_mode,
                           K_CURSOR_AT_COPY, &pat, &b);
    cs[0].bases = cs[3].bases = &base;
    bench_warm_through(cs[1].cursors, 0, window);
    bench_warm_through(cs[2].cursors, 0, window);
    bench_warm_through(cs[4].cursors, 0, window);
    bench_measure(cs, 5, cfg);
    snprintf(title, sizeof(title),
             "Workload 5: random %zu-byte reads inside the window the cursor "
             "holds (the hit path alone)",
             len);
    bench_print_table(title, cs, 5, "ns/op");
    snprintf(t, sizeof(t),
             "W5 smmap_read %zu B inside the held window / (mmap+memcpy)", len);
    bench_target(t, cs[2].ns / cs[3].ns, 1.5, 0);
    snprintf(t, sizeof(t),
             "W5 hit path: cursor_at %zu B inside the held window / mmap", len);
    bench_target(t, cs[1].ns / cs[0].ns, 1.05, 0);
    bench_free_pattern(&pat);
    bench_big_close(&b);
    munmap((void *)base, (size_t)cfg->big_size);
    close(fd);
}
