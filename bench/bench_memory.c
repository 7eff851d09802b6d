/*
 * bench_memory.c - the memory overhead per file and per region, measured.
 *
 * This is the one bench file that includes a private header: src/os.h, for
 * the allocator entries of the OS table. It swaps smmap__os.malloc/free for
 * a counting allocator while one manager lives, so the bytes the library
 * asks for are counted exactly (glibc's own heap use, with its chunk
 * headers, is printed beside them from mallinfo2). That is why
 * smmap_benchlib links the static library: the table is hidden in the
 * shared one. Single-threaded by construction: nothing else runs meanwhile.
 */
#include "bench_int.h"
#include "os.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

/* Counts live blocks and the bytes asked for; a 16-byte header keeps the
 * size for free() and the alignment malloc promises. */
static struct {
    uint64_t bytes, blocks;
} live;

static void *counting_malloc(size_t n)
{
    unsigned char *p = malloc(n + 16);
    if (p == NULL)
        return NULL;
    memcpy(p, &n, sizeof(n));
    live.bytes += n;
    live.blocks++;
    return p + 16;
}

static void counting_free(void *q)
{
    unsigned char *p;
    size_t n;
    if (q == NULL)
        return;
    p = (unsigned char *)q - 16;
    memcpy(&n, p, sizeof(n));
    live.bytes -= n;
    live.blocks--;
    free(p);
}

/* glibc's heap in use, or 0 where it cannot be asked. The counting header
 * (16 bytes per block) is taken off so the figure is what the library's
 * own malloc calls would cost. */
static uint64_t heap_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    struct mallinfo2 mi = mallinfo2();
    return (uint64_t)mi.uordblks - 16 * live.blocks;
#else
    return 0;
#endif
}

typedef struct snapshot {
    uint64_t bytes, blocks, heap;
} snapshot;

static snapshot take(void)
{
    snapshot s;
    s.bytes = live.bytes;
    s.blocks = live.blocks;
    s.heap = heap_in_use();
    return s;
}

/* Open every path (each spelled with `pad` extra "./" components) in m;
 * returns the per-file bytes counted. */
static int open_all(smmap_manager *m, const char *const *paths, int n, int pad,
                    smmap_file **files)
{
    int i, j, err;
    for (i = 0; i < n; i++) {
        const char *slash = strrchr(paths[i], '/');
        size_t dirlen = slash ? (size_t)(slash - paths[i]) : 0;
        char *p = malloc(strlen(paths[i]) + 2 * (size_t)pad + 4);
        if (p == NULL)
            return -ENOMEM;
        memcpy(p, paths[i], dirlen);
        p[dirlen] = '\0';
        for (j = 0; j < pad; j++)
            strcat(p, "/.");
        strcat(p, slash ? slash : "/");
        if (!slash)
            strcat(p, paths[i]);
        err = smmap_file_open(m, p, &files[i]);
        free(p);
        if (err != 0)
            return err;
    }
    return 0;
}

int bench_memory_measure(const char *const *paths, int npaths,
                         uint64_t file_size, double *per_region,
                         double *per_file, FILE *out)
{
    const uint64_t page = 4096, pad = 50;
    smmap_options o;
    smmap_manager *m = NULL;
    smmap_file **files = calloc((size_t)npaths, sizeof(*files));
    smmap_cursor c;
    snapshot s0, s1, s2, s3;
    double short_file, long_file, copies, region_bytes, region_heap, file_heap;
    uint64_t slots = file_size / page / 2, nregions, k;
    size_t pathlen = strlen(paths[0]) + 1;
    int i, err = 0;
    char wsize[32];

    if (files == NULL)
        return -ENOMEM;
    smmap__os.malloc = counting_malloc;
    smmap__os.free = counting_free;

    /* Files: the same set opened with short and with padded paths, in two
     * managers, tells how many copies of the path each file keeps. */
    smmap_options_init(&o);
    o.window_size = page;
    o.max_regions = 1u << 20;
    o.max_mapped = 1ull << 40;
    err = smmap_manager_new(&m, &o);
    if (err != 0)
        goto done;
    s0 = take();
    err = open_all(m, paths, npaths, 0, files);
    if (err != 0)
        goto done;
    s1 = take();
    short_file = (double)(s1.bytes - s0.bytes) / npaths;
    file_heap = ((double)s1.heap - (double)s0.heap) / npaths;

    /* Regions: one per slot [2k, 2k+2) pages (see workload_regions.c),
     * at most 20000, mapped through one cursor moved across files. */
    nregions = slots * (uint64_t)npaths;
    if (nregions > 20000)
        nregions = 20000;
    for (k = 0; k < nregions && err == 0; k++) {
        smmap_file *f = files[k % (uint64_t)npaths];
        uint64_t off = (2 * (k / (uint64_t)npaths) + 1) * page;
        if (k > 0)
            smmap_cursor_release(&c);
        smmap_cursor_init(&c, f);
        err = smmap_cursor_use(&c, off, 8);
    }
    smmap_cursor_release(&c);
    if (err != 0)
        goto done;
    s2 = take();
    region_bytes = (double)(s2.bytes - s1.bytes) / (double)nregions;
    region_heap = ((double)s2.heap - (double)s1.heap) / (double)nregions;
    for (i = 0; i < npaths; i++) {
        smmap_file_close(files[i]);
        files[i] = NULL;
    }
    smmap_manager_free(m);
    m = NULL;

    err = smmap_manager_new(&m, &o);
    if (err != 0)
        goto done;
    s0 = take();
    err = open_all(m, paths, npaths, (int)pad, files);
    if (err != 0)
        goto done;
    s3 = take();
    long_file = (double)(s3.bytes - s0.bytes) / npaths;
    copies = (long_file - short_file) / (2.0 * (double)pad);

    *per_region = region_bytes;
    *per_file = short_file - copies * (double)pathlen;
    fprintf(out,
            "\n### Memory overhead (counting allocator on smmap__os.malloc; "
            "glibc heap from mallinfo2)\n\n");
    fprintf(out, "| what | bytes asked of malloc | glibc heap in use |\n");
    fprintf(out, "|---|---:|---:|\n");
    bench_fmt_size(wsize, sizeof(wsize), page);
    fprintf(out, "| per region (%" PRIu64 " live regions, %s windows) | "
                 "%.1f | %.1f |\n",
            nregions, wsize, region_bytes, region_heap);
    fprintf(out, "| per file, %d files, path of %zu bytes | %.1f | %.1f |\n",
            npaths, pathlen, short_file,
            file_heap);
    fprintf(out, "| per file, without its path (%.2f copies of the path "
                 "measured by lengthening it %" PRIu64 " bytes) | %.1f | |\n",
            copies, 2 * pad, *per_file);
    fflush(out);

done:
    if (m != NULL) {
        for (i = 0; i < npaths; i++)
            smmap_file_close(files[i]);
        smmap_manager_free(m);
    }
    free(files);
    smmap__os.malloc = smmap__os_default.malloc;
    smmap__os.free = smmap__os_default.free;
    return err;
}
