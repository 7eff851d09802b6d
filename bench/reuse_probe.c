/*
 * reuse_probe.c - workload 6's reuse case alone, in a small program that
 * can be linked against any commit's library (public API only): 500 files
 * of 2 MiB (the benchmark's small files, in DIR), 4 KiB windows, N regions
 * mapped once, then a million reads each through a cursor released,
 * re-initialised on the read's file and moved with smmap_cursor_at to a
 * cached region. Prints the best of 5 runs in ns per read (wall clock),
 * and the maps (N: nothing mapped during the runs); then the same reads
 * through whole-file maps of the 500 files (raw mmap: the floor, which
 * also pays for touching N pages rather than 100, in caches and TLB).
 *
 *   reuse_probe N LABEL DIR     e.g. reuse_probe 50000 new /tmp/bd
 *
 * bench/before-after.sh's workload 6 row measures the same thing inside
 * the benchmark, between whole-file map reads that flush the caches; this
 * probe's numbers are steadier here.
 */
#include "smmap.h"
#include "probe.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096ull
#define NFILES 500
#define FILE_SIZE (2ull << 20)

/* The same reads through whole-file maps: best of 5, ns per read (-1 when
 * a file cannot be mapped). */
static double raw_reads(const char *dir, const uint32_t *fi,
                        const uint64_t *of, size_t n)
{
    static const unsigned char *base[NFILES];
    char path[4096];
    double best = 1e300;
    uint64_t sum = 0;
    size_t i;
    int k, r;
    for (k = 0; k < NFILES; k++) {
        int fd;
        void *p;
        snprintf(path, sizeof(path), "%s/small-%03d.bin", dir, k);
        fd = open(path, O_RDONLY);
        if (fd < 0)
            return -1;
        p = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if (p == MAP_FAILED)
            return -1;
        base[k] = p;
    }
    for (i = 0; i < n; i++) /* page tables, as the regions had theirs */
        sum += base[fi[i]][of[i]];
    for (r = 0; r < 5; r++) {
        uint64_t t0 = probe_now_ns();
        double ns;
        for (i = 0; i < n; i++)
            sum += base[fi[i]][of[i]];
        ns = (double)(probe_now_ns() - t0) / (double)n;
        if (ns < best)
            best = ns;
    }
    for (k = 0; k < NFILES; k++)
        munmap((void *)base[k], FILE_SIZE);
    return best + (sum == 1 ? 1e-9 : 0);
}

int main(int argc, char **argv)
{
    const uint64_t per_file = FILE_SIZE / PAGE / 2, nslots = per_file * NFILES;
    const size_t n = 1000000;
    smmap_options o;
    smmap_manager *m;
    smmap_file *f[NFILES];
    smmap_cursor c;
    smmap_stats st;
    uint32_t *slot, *fi, nreg;
    uint64_t *of, sum = 0, i;
    double best = 1e300;
    char path[4096];
    int k, r;

    if (argc != 4 || (nreg = (uint32_t)strtoul(argv[1], NULL, 10)) == 0 ||
        nreg > nslots) {
        fprintf(stderr, "usage: %s N LABEL DIR (1 <= N <= %llu)\n", argv[0],
                (unsigned long long)nslots);
        return 2;
    }
    slot = malloc(sizeof(*slot) * nslots);
    fi = malloc(sizeof(*fi) * n);
    of = malloc(sizeof(*of) * n);
    if (slot == NULL || fi == NULL || of == NULL)
        return 1;
    for (i = 0; i < nslots; i++)
        slot[i] = (uint32_t)i;
    for (i = nslots - 1; i > 0; i--) {
        uint64_t j = probe_rng() % (i + 1);
        uint32_t t = slot[i];
        slot[i] = slot[j];
        slot[j] = t;
    }
    smmap_options_init(&o);
    o.window_size = PAGE;
    o.max_mapped = (uint64_t)nreg * 4 * PAGE;
    o.max_regions = nreg;
    o.max_open_files = 16;
    if (smmap_manager_new(&m, &o) != 0)
        return 1;
    for (k = 0; k < NFILES; k++) {
        snprintf(path, sizeof(path), "%s/small-%03d.bin", argv[3], k);
        if (smmap_file_open(m, path, &f[k]) != 0) {
            fprintf(stderr, "%s: cannot open (run smmap-bench --dir %s "
                            "--keep first)\n", path, argv[3]);
            return 1;
        }
    }
    for (i = 0; i < n; i++) {
        uint32_t a = slot[probe_rng() % nreg];
        fi[i] = (uint32_t)(a / per_file);
        of[i] = (2 * (a % per_file) + 1) * PAGE + probe_rng() % (PAGE - 8);
    }
    smmap_cursor_init(&c, f[0]);
    for (i = 0; i < nreg; i++) {
        uint32_t a = slot[i];
        smmap_cursor_release(&c);
        smmap_cursor_init(&c, f[a / per_file]);
        if (smmap_cursor_at(&c, (2 * (a % per_file) + 1) * PAGE, 8) == NULL)
            return 1;
    }
    smmap_cursor_release(&c);
    for (r = 0; r < 5; r++) {
        uint64_t t0 = probe_now_ns();
        double ns;
        for (i = 0; i < n; i++) {
            const unsigned char *p;
            smmap_cursor_release(&c);
            smmap_cursor_init(&c, f[fi[i]]);
            p = smmap_cursor_at(&c, of[i], 8);
            if (p == NULL)
                return 1;
            sum += p[0];
        }
        ns = (double)(probe_now_ns() - t0) / (double)n;
        if (ns < best)
            best = ns;
    }
    smmap_cursor_release(&c);
    smmap_manager_stats(m, &st);
    printf("%s: %u regions, %.1f ns per read (best of 5), maps %llu; raw "
           "mmap of the same reads %.1f ns%s\n", argv[2], nreg, best,
           (unsigned long long)st.maps, raw_reads(argv[3], fi, of, n),
           sum == 1 ? " " : "");
    for (k = 0; k < NFILES; k++)
        smmap_file_close(f[k]);
    smmap_manager_free(m);
    free(slot);
    free(fi);
    free(of);
    return 0;
}
