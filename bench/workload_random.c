/*
 * workload_random.c - workload 1: random 8-byte and 64-byte reads over the
 * big file, warm (page cache and page tables), with every strategy: the
 * raw baselines, smmap_cursor_at and smmap_read in static mode, with the
 * default window and with windows of a sixteenth of the file (all of them
 * cached: the cost of switching among cached windows), and the diagnostics
 * that show what a lock, an atomic or a bounds check costs per read.
 */
#include "bench_int.h"

#include <sys/mman.h>
#include <unistd.h>

/* The three smmap configurations over the big file, and their labels. */
typedef struct random_setup {
    const unsigned char *base; /* the whole-file map of the baselines */
    int fd;
    big_smmap dflt, small, stat;
    uint64_t dflt_window, small_window;
    char dflt_mode[64], small_mode[64];
} random_setup;

/* One table (reads of len bytes); adds its targets. warm: fault in every
 * page through each cursor first (the second table finds them warm). */
static void random_reads(const bench_config *cfg, random_setup *r, size_t len,
                         int warm)
{
    uint64_t size = cfg->big_size;
    pattern pat = bench_random_pattern(bench_ops(cfg, 4000000), 0, size, len);
    char fsize[32], title[256], t[256];
    bcase cs[13];
    raw_window whole;
    int n = 0, i;
    int mmap_i, copy_i, pread_i, static_at, small_at, static_read, dflt_read;

    mmap_i = n;
    cs[n] = bench_case("mmap", "-", K_MMAP, &pat);
    cs[n++].is_mmap = 1;
    copy_i = n;
    cs[n++] = bench_case("mmap+memcpy", "-", K_MMAP_COPY, &pat);
    pread_i = n;
    cs[n] = bench_case("pread", "-", K_PREAD, &pat);
    cs[n++].is_pread = 1;
    static_at = n;
    cs[n++] = bench_big_case("smmap_cursor_at", "static", K_CURSOR_AT, &pat,
                             &r->stat);
    cs[n++] = bench_big_case("smmap_cursor_at", r->dflt_mode, K_CURSOR_AT,
                             &pat, &r->dflt);
    small_at = n;
    cs[n++] = bench_big_case("smmap_cursor_at", r->small_mode, K_CURSOR_AT,
                             &pat, &r->small);
    static_read = n;
    cs[n++] = bench_big_case("smmap_read", "static", K_READ, &pat, &r->stat);
    dflt_read = n;
    cs[n++] = bench_big_case("smmap_read", r->dflt_mode, K_READ, &pat,
                             &r->dflt);
    cs[n++] = bench_big_case("smmap_read", r->small_mode, K_READ, &pat,
                             &r->small);
    /* what an inline smmap_read hit path would cost */
    cs[n++] = bench_big_case("smmap_cursor_at+memcpy", r->dflt_mode,
                             K_CURSOR_AT_COPY, &pat, &r->dflt);
    cs[n++] = bench_case("diagnostic: mmap + 1 atomic add per read", "-",
                         K_MMAP_ATOMIC, &pat);
    cs[n++] = bench_case("diagnostic: mmap + mutex lock/unlock per read", "-",
                         K_MMAP_MUTEX, &pat);
    whole.data = r->base;
    whole.begin = 0;
    whole.size = (size_t)size;
    bench_escape(&whole);
    cs[n] = bench_case("diagnostic: mmap + cursor_at's two bounds checks, "
                       "no library",
                       "-", K_MMAP_CHECKED, &pat);
    cs[n++].window = &whole;
    for (i = 0; i < n; i++) {
        cs[i].bases = &r->base;
        cs[i].fds = &r->fd;
        if (cs[i].cursors && warm)
            bench_warm_through(cs[i].cursors, 0, size);
    }
    bench_measure(cs, n, cfg);
    bench_fmt_size(fsize, sizeof(fsize), size);
    snprintf(title, sizeof(title),
             "Workload 1: random %zu-byte reads over a %s file, warm page "
             "cache and page tables",
             len, fsize);
    bench_print_table(title, cs, n, "ns/op");

    if (len == 8) {
        snprintf(t, sizeof(t),
                 "W1 static smmap_cursor_at %zu B over the whole file / mmap",
                 len);
        bench_target(t, cs[static_at].ns / cs[mmap_i].ns, 1.05, 0);
        snprintf(t, sizeof(t),
                 "W1 switching among cached windows: cursor_at %zu B, %s / "
                 "mmap",
                 len, r->small_mode);
        bench_target(t, cs[small_at].ns / cs[mmap_i].ns, 1.5, 0);
    } else {
        snprintf(t, sizeof(t),
                 "W1 smmap_read %zu B (default sliding) / (mmap+memcpy)", len);
        bench_target(t, cs[dflt_read].ns / cs[copy_i].ns, 1.5, 0);
        snprintf(t, sizeof(t), "W1 smmap_read %zu B (static) / (mmap+memcpy)",
                 len);
        bench_target(t, cs[static_read].ns / cs[copy_i].ns, 1.5, 0);
        snprintf(t, sizeof(t),
                 "W1 pread / smmap_read %zu B (default sliding), speed-up",
                 len);
        bench_target(t, cs[pread_i].ns / cs[dflt_read].ns, 10, 1);
    }
    bench_free_pattern(&pat);
}

void bench_workload_random(const bench_config *cfg)
{
    uint64_t size = cfg->big_size;
    random_setup r;

    r.fd = bench_open_ro(cfg->big_path);
    r.base = bench_map_whole(r.fd, size, 1);
    r.dflt_window = bench_default_window();
    r.small_window = size / 16;
    bench_fmt_mode(r.dflt_mode, sizeof(r.dflt_mode), r.dflt_window);
    bench_fmt_mode(r.small_mode, sizeof(r.small_mode), r.small_window);
    bench_big_open(&r.dflt, cfg->big_path, r.dflt_window, 0, 0);
    bench_big_open(&r.small, cfg->big_path, r.small_window, 0, 0);
    bench_big_open(&r.stat, cfg->big_path, 0, 0, 0);

    random_reads(cfg, &r, 8, 1);
    random_reads(cfg, &r, 64, 0);

    bench_big_close(&r.dflt);
    bench_big_close(&r.small);
    bench_big_close(&r.stat);
    munmap((void *)r.base, (size_t)size);
    close(r.fd);
}
