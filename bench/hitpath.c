/*
 * hitpath.c - the probe behind check-hitpath.sh: N smmap_cursor_at hits in
 * one out-of-line function, hit_loop(), so that its machine code can be
 * disassembled (no lock-prefixed or atomic instruction may appear in it) and
 * so that callgrind, collecting inside hit_loop only, can count the
 * instructions per hit and show that the loop calls no function at all.
 *
 * usage: smmap-bench-hitpath N [DIR]   (a 1 MiB file is made in DIR or /tmp)
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

int main(int argc, char **argv)
{
    const size_t window = 1024 * 1024;
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
        fprintf(stderr, "usage: smmap-bench-hitpath N [DIR]\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/smmap-hitpath-%ld.bin",
             argc > 2 ? argv[2] : "/tmp", (long)getpid());
    buf = malloc(window);
    off = malloc(n * sizeof(*off));
    if (buf == NULL || off == NULL)
        return 1;
    for (i = 0; i < window; i++)
        buf[i] = (unsigned char)(i * 131u);
    fp = fopen(path, "wb");
    if (fp == NULL || fwrite(buf, 1, window, fp) != window || fclose(fp) != 0) {
        perror(path);
        return 1;
    }
    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        off[i] = x % (window - 8);
    }
    smmap_options_init(&o);
    o.window_size = window;
    if ((err = smmap_manager_new(&m, &o)) != 0 ||
        (err = smmap_file_open(m, path, &f)) != 0) {
        fprintf(stderr, "smmap: %s\n", smmap_strerror(err));
        return 1;
    }
    smmap_cursor_init(&c, f);
    if ((err = smmap_cursor_use(&c, 0, window)) != 0) {
        fprintf(stderr, "smmap_cursor_use: %s\n", smmap_strerror(err));
        return 1;
    }
    smmap_manager_stats(m, &before);
    sum = hit_loop(&c, off, n);
    smmap_manager_stats(m, &after);
    printf("hits %zu, checksum %llu, cursor_use calls during the loop: %llu\n",
           n, (unsigned long long)sum,
           (unsigned long long)((after.maps + after.reuses) -
                                (before.maps + before.reuses)));
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
    unlink(path);
    free(buf);
    free(off);
    return sum == UINT64_MAX || after.maps + after.reuses !=
                                    before.maps + before.reuses;
}
