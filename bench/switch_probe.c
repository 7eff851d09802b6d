/*
 * switch_probe.c - where the time of a switch among cached windows goes.
 * Random 8-byte reads over one file (the benchmark's big file), the same
 * offsets for every case, best of 5 runs, ns per read (wall clock):
 *
 *   raw          whole-file map, read in place (the physical limit)
 *   chase        the same map, each offset taken from the bytes read before
 *                (one read in flight at a time: the machine's latency)
 *   raw+workN    raw, plus instructions that do not depend on the read
 *                (N = 8, 16, 32 steps: 44, 76 and 240 instructions per
 *                read in all with gcc 12 -O3, which unrolls the first two;
 *                count them in the binary at hand): what only the length of
 *                the loop body costs, through fewer reads in flight
 *   raw+branch   raw, plus one branch per read taken at random 1 time in 16
 *                (the cursor's hit test in this pattern)
 *   hit          smmap_cursor_at, one window holding the whole file
 *   switch       smmap_cursor_at, windows of a sixteenth of the file, all
 *                cached: 15 reads of 16 switch
 *
 *   smmap-switch-probe FILE
 *
 * If switch lands where its instruction count (about 130 per read,
 * bench/check-hitpath.sh) falls among the raw+workN cases, its cost is the
 * loop's length; if near chase, something in it serializes the reads.
 */
#include "smmap.h"
#include "probe.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define N_READS 2000000u
#define RUNS 5

static uint64_t load8(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* n steps of four chains that depend on i, never on a read; the empty
 * asm keeps the compiler from folding them. */
#define WORK(n, i, acc)                                                       \
    do {                                                                      \
        uint64_t a_ = (i), b_ = (i) + 1, c_ = (i) + 2, d_ = (i) + 3;         \
        int k_;                                                               \
        for (k_ = 0; k_ < (n); k_++) {                                        \
            a_ += (uint64_t)k_;                                               \
            b_ ^= (uint64_t)k_;                                               \
            c_ += b_;                                                         \
            d_ ^= a_;                                                         \
            __asm__ volatile("" : "+r"(a_), "+r"(b_));                       \
            __asm__ volatile("" : "+r"(c_), "+r"(d_));                       \
        }                                                                     \
        (acc) += a_ ^ b_ ^ c_ ^ d_;                                           \
    } while (0)

/* raw reads plus WORK(n) per read */
#define WORK_LOOP(x, n, sum)                                                  \
    do {                                                                      \
        size_t j_;                                                            \
        for (j_ = 0; j_ < N_READS; j_++) {                                    \
            (sum) += load8((x)->base + (x)->off[j_]);                         \
            WORK(n, j_, sum);                                                 \
        }                                                                     \
    } while (0)

enum probe { RAW, CHASE, WORK8, WORK16, WORK32, BRANCH, HIT, SWITCH, NPROBES };

static const char *const names[NPROBES] = {
    "raw", "chase", "raw+work8", "raw+work16", "raw+work32", "raw+branch",
    "hit", "switch"};

typedef struct probe_ctx {
    const unsigned char *base;
    uint64_t size;
    const uint64_t *off;
    const unsigned char *taken; /* raw+branch: 1 in 16 */
    smmap_cursor *hit, *sw;
} probe_ctx;

static volatile uint64_t sink;

static void fail(const char *what, int err)
{
    fprintf(stderr, "smmap-switch-probe: %s: %s\n", what, smmap_strerror(err));
    exit(1);
}

static const unsigned char *at(smmap_cursor *c, uint64_t off)
{
    const unsigned char *p = smmap_cursor_at(c, off, 8);
    if (p == NULL)
        fail("smmap_cursor_at", c->error);
    return p;
}

static uint64_t run(const probe_ctx *x, enum probe which)
{
    uint64_t sum = 0, o;
    size_t i;
    switch (which) {
    case RAW:
        for (i = 0; i < N_READS; i++)
            sum += load8(x->base + x->off[i]);
        break;
    case CHASE:
        o = x->off[0];
        for (i = 0; i < N_READS; i++) {
            uint64_t v = load8(x->base + o);
            sum += v;
            o = (x->off[i] ^ (v & 1)) % (x->size - 8);
        }
        break;
    case WORK8:
    case WORK16:
    case WORK32:
        /* a constant count in each loop, which the compiler may unroll */
        if (which == WORK8)
            WORK_LOOP(x, 8, sum);
        else if (which == WORK16)
            WORK_LOOP(x, 16, sum);
        else
            WORK_LOOP(x, 32, sum);
        break;
    case BRANCH:
        for (i = 0; i < N_READS; i++) {
            sum += load8(x->base + x->off[i]);
            if (x->taken[i]) {
                __asm__ volatile("" : "+r"(sum));
                sum += 7;
            }
        }
        break;
    case HIT:
    case SWITCH: {
        smmap_cursor *c = which == HIT ? x->hit : x->sw;
        for (i = 0; i < N_READS; i++)
            sum += load8(at(c, x->off[i]));
        break;
    }
    case NPROBES:
        break;
    }
    return sum;
}

/* A manager with windows of window bytes over path, every window used
 * once (cached), and a cursor on it. */
static void open_cursor(const char *path, uint64_t size, uint64_t window,
                        smmap_manager **m, smmap_file **f, smmap_cursor *c)
{
    smmap_options o;
    uint64_t off;
    int err;
    smmap_options_init(&o);
    o.window_size = window;
    o.max_mapped = size + window;
    if ((err = smmap_manager_new(m, &o)) != 0)
        fail("smmap_manager_new", err);
    if ((err = smmap_file_open(*m, path, f)) != 0)
        fail(path, err);
    smmap_cursor_init(c, *f);
    for (off = 0; off + 8 <= size; off += 4096)
        sink += *at(c, off);
}

int main(int argc, char **argv)
{
    probe_ctx x;
    smmap_manager *mh, *ms;
    smmap_file *fh, *fs;
    smmap_cursor hit, sw;
    struct stat st;
    uint64_t *off;
    unsigned char *taken;
    double best[NPROBES];
    size_t i;
    int fd, p, r;

    if (argc != 2) {
        fprintf(stderr, "usage: smmap-switch-probe FILE\n");
        return 2;
    }
    fd = open(argv[1], O_RDONLY);
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < (1 << 24)) {
        fprintf(stderr, "smmap-switch-probe: %s: not a readable file of at "
                        "least 16 MiB\n", argv[1]);
        return 1;
    }
    x.size = (uint64_t)st.st_size;
    x.base = mmap(NULL, (size_t)x.size, PROT_READ, MAP_SHARED, fd, 0);
    if (x.base == MAP_FAILED) {
        perror("smmap-switch-probe: mmap");
        return 1;
    }
    off = malloc(N_READS * sizeof(*off));
    taken = malloc(N_READS);
    if (off == NULL || taken == NULL)
        return 1;
    for (i = 0; i < N_READS; i++) {
        off[i] = probe_rng() % (x.size - 8);
        taken[i] = (probe_rng() & 15) == 0;
    }
    for (i = 0; i + 8 <= x.size; i += 4096)
        sink += x.base[i];
    open_cursor(argv[1], x.size, x.size, &mh, &fh, &hit);
    open_cursor(argv[1], x.size, x.size / 16, &ms, &fs, &sw);
    x.off = off;
    x.taken = taken;
    x.hit = &hit;
    x.sw = &sw;

    for (p = 0; p < NPROBES; p++)
        best[p] = 1e300;
    /* Interleaved: the machine's noise falls on every case alike. */
    for (r = 0; r < RUNS; r++)
        for (p = 0; p < NPROBES; p++) {
            uint64_t t0 = probe_now_ns(), t1;
            sink += run(&x, (enum probe)p);
            t1 = probe_now_ns();
            if ((double)(t1 - t0) / N_READS < best[p])
                best[p] = (double)(t1 - t0) / N_READS;
        }
    printf("| case | ns per read | x raw |\n|---|---:|---:|\n");
    for (p = 0; p < NPROBES; p++)
        printf("| %s | %.1f | %.2f |\n", names[p], best[p],
               best[p] / best[RAW]);

    smmap_cursor_release(&hit);
    smmap_cursor_release(&sw);
    smmap_file_close(fh);
    smmap_file_close(fs);
    smmap_manager_free(mh);
    smmap_manager_free(ms);
    munmap((void *)x.base, (size_t)x.size);
    close(fd);
    free(off);
    free(taken);
    return 0;
}
