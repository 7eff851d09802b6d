/*
 * hitpath.c - the probe behind check-hitpath.sh: N smmap_cursor_at hits in
 * one out-of-line function, hit_loop(), so that its machine code can be
 * disassembled (no lock-prefixed or atomic instruction may appear in it) and
 * so that callgrind, collecting inside hit_loop only, can count the
 * instructions per hit and show that the loop calls no function at all.
 *
 * With a third argument it also serves as a probe of the other paths, for
 * callgrind's instruction counts (where the time goes):
 *   read    N smmap_read calls of 8 bytes inside the held window
 *   switch  N smmap_cursor_at calls, each in another of 16 cached 64 KiB
 *           windows (its miss, smmap_cursor_use_exact, switching to a
 *           cached region)
 *   map     the same reads with room for 4 regions only (SMMAP_ALWAYS_MAP):
 *           most reads evict a region and map another, under the manager's
 *           lock (check-hitpath.sh's control: callgrind must see the lock)
 *
 * usage: smmap-bench-hitpath N [DIR [at|read|switch|map]]
 *        (a 1 MiB file is made in DIR, default /tmp)
 */
#include "smmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Kept out of line and external so that objdump finds it by name. */
__attribute__((noinline)) uint64_t hit_loop(smmap_cursor *c,
                                            const uint64_t *off, size_t n);

uint64_t hit_loop(smmap_cursor *c, const uint64_t *off, size_t n)
{
    uint64_t sum = 0, v;
    size_t i;
    for (i = 0; i < n; i++) {
        const unsigned char *p = smmap_cursor_at(c, off[i], 8);
        if (p == NULL)
            return UINT64_MAX;
        memcpy(&v, p, 8);
        sum += v;
    }
    return sum;
}

__attribute__((noinline)) uint64_t read_loop(smmap_cursor *c,
                                             const uint64_t *off, size_t n);

uint64_t read_loop(smmap_cursor *c, const uint64_t *off, size_t n)
{
    uint64_t sum = 0, v;
    size_t i;
    for (i = 0; i < n; i++) {
        if (smmap_read(c, off[i], &v, 8) != 8)
            return UINT64_MAX;
        sum += v;
    }
    return sum;
}

int main(int argc, char **argv)
{
    const size_t file_size = 1024 * 1024;
    const char *mode = argc > 3 ? argv[3] : "at";
    int mapping = strcmp(mode, "map") == 0;
    int switching = strcmp(mode, "switch") == 0 || mapping;
    size_t window = switching ? 64 * 1024 : file_size;
    size_t n, i;
    char path[4096];
    unsigned char *buf;
    uint64_t *off, x = 88172645463325252ull, sum;
    smmap_options o;
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c;
    smmap_stats before, after;
    FILE *fp;
    int err;

    if (argc < 2 || (n = strtoul(argv[1], NULL, 10)) == 0) {
        fprintf(stderr,
                "usage: smmap-bench-hitpath N [DIR [at|read|switch|map]]\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/smmap-hitpath-%ld.bin",
             argc > 2 ? argv[2] : "/tmp", (long)getpid());
    if (strcmp(mode, "at") != 0 && strcmp(mode, "read") != 0 && !switching) {
        fprintf(stderr,
                "usage: smmap-bench-hitpath N [DIR [at|read|switch|map]]\n");
        return 2;
    }
    buf = malloc(file_size);
    off = malloc(n * sizeof(*off));
    if (buf == NULL || off == NULL)
        return 1;
    for (i = 0; i < file_size; i++)
        buf[i] = (unsigned char)(i * 131u);
    fp = fopen(path, "wb");
    if (fp == NULL || fwrite(buf, 1, file_size, fp) != file_size ||
        fclose(fp) != 0) {
        perror(path);
        return 1;
    }
    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (switching) /* the next window, anywhere inside it */
            off[i] = (i % 16) * window + x % (window - 8);
        else
            off[i] = x % (window - 8);
    }
    smmap_options_init(&o);
    o.window_size = window;
    if (mapping) {
        o.max_regions = 4;
        o.flags = SMMAP_ALWAYS_MAP;
    }
    if ((err = smmap_manager_new(&m, &o)) != 0 ||
        (err = smmap_file_open(m, path, &f)) != 0) {
        fprintf(stderr, "smmap: %s\n", smmap_strerror(err));
        return 1;
    }
    smmap_cursor_init(&c, f);
    /* map every window once (16 in switch mode), then hold the first */
    for (i = file_size; i >= window; i -= window)
        if ((err = smmap_cursor_use(&c, i - window, window)) != 0) {
            fprintf(stderr, "smmap_cursor_use: %s\n", smmap_strerror(err));
            return 1;
        }
    smmap_manager_stats(m, &before);
    if (strcmp(mode, "read") == 0)
        sum = read_loop(&c, off, n);
    else
        sum = hit_loop(&c, off, n);
    smmap_manager_stats(m, &after);
    printf("%s: %zu reads, checksum %llu, maps during the loop %llu, "
           "cursor_use calls during the loop: %llu\n",
           mode, n, (unsigned long long)sum,
           (unsigned long long)(after.maps - before.maps),
           (unsigned long long)((after.maps + after.reuses) -
                                (before.maps + before.reuses)));
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
    unlink(path);
    free(buf);
    free(off);
    if (sum == UINT64_MAX)
        return 1;
    /* the hit probes must not have moved the cursor; switch must not map,
     * map must */
    if (mapping)
        return after.maps == before.maps;
    if (switching)
        return after.maps != before.maps;
    return after.maps + after.reuses != before.maps + before.reuses;
}
