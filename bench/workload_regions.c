/*
 * workload_regions.c - workload 6: cost per read as the number of live
 * regions grows, with windows of one page over the small files and one
 * cursor moved across files: reuse (every read switches to a cached
 * region), eviction (about half the reads evict one and map another), and
 * the kernel's own cost of the same map/unmap rate with N live mappings
 * made by hand. With --csv it writes regions.csv.
 */
#include "bench_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Point the single cursor of ms at one slot (see bench_workload_regions). */
static void warm_slot(many_smmap *ms, uint32_t slot_id, uint64_t slots_per_file)
{
    smmap_cursor *c = &ms->cursors[0];
    smmap_cursor_release(c);
    smmap_cursor_init(c, ms->files[slot_id / slots_per_file]);
    if (smmap_cursor_at(c, (2 * (slot_id % slots_per_file) + 1) * PAGE, 8) ==
        NULL)
        bench_check(c->error, "smmap_cursor_at (warm)");
}

/*
 * Workload 6: cost per operation as the number of live regions grows.
 * 4 KiB windows; a read at x < 4088 bytes into page 2k+1 of a file gets the
 * region [2k, 2k+2) pages (the window grows left first, as smmap's does), so
 * "slots" (file, k) map one to one onto regions. Reuse: N slots, budget N
 * regions: every read switches the one cursor to a cached region. Eviction:
 * 2N slots, budget N: about half the reads evict and map (SMMAP_ALWAYS_MAP:
 * the read policy would serve them with pressure windows instead).
 */
void bench_workload_regions(const bench_config *cfg)
{
    const uint64_t window = PAGE;
    const size_t len = 8;
    static const uint32_t counts_full[] = {100, 1000, 5000, 10000, 20000,
                                           50000};
    static const uint32_t counts_quick[] = {100, 1000};
    const uint32_t *counts = cfg->quick ? counts_quick : counts_full;
    int ncounts = cfg->quick ? 2 : 6, ci;
    file_set s;
    uint64_t slots_per_file, nslots, i;
    uint32_t *slot;
    double first_reuse = 0, first_evict = 0, last_reuse = 0, last_evict = 0;
    double first_raw_evict = 0, last_raw_evict = 0;
    uint32_t last_n = 0;
    char fsize[32], wsize[32];

    bench_files_open(&s, cfg);
    slots_per_file = s.size / PAGE / 2;
    nslots = slots_per_file * (uint64_t)s.n;
    slot = bench_malloc(sizeof(uint32_t) * (size_t)nslots);

    /* a random order of all slots: the first 2N are the working sets */
    for (i = 0; i < nslots; i++)
        slot[i] = (uint32_t)i;
    for (i = nslots - 1; i > 0; i--) {
        uint64_t j = bench_rng() % (i + 1);
        uint32_t t = slot[i];
        slot[i] = slot[j];
        slot[j] = t;
    }
    if (cfg->csv_regions)
        fprintf(cfg->csv_regions, "regions,mmap_ns,reuse_ns,evict_ns,"
                                  "evict_maps_per_op,raw_evict_ns\n");
    bench_fmt_size(fsize, sizeof(fsize), s.size);
    bench_fmt_size(wsize, sizeof(wsize), window);
    printf("\n### Workload 6: cost per operation against live regions "
           "(%d files of %s, %s windows, random %zu-byte reads, one cursor "
           "moved across files)\n\n",
           s.n, fsize, wsize, len);
    printf("| live regions | mmap ns/op | smmap reuse ns/op | x mmap | smmap "
           "eviction ns/op | kernel floor: raw mmap/munmap ns/op | x floor | "
           "maps/op |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (ci = 0; ci < ncounts; ci++) {
        uint32_t nreg = counts[ci];
        pattern reuse, evict;
        many_smmap rs, es;
        bcase cs[4];
        smmap_stats st;
        size_t nops = bench_ops(cfg, 1000000), k;
        if ((uint64_t)nreg * 2 > nslots)
            break;
        reuse.n = evict.n = nops;
        reuse.len = evict.len = len;
        reuse.off = bench_malloc(nops * sizeof(uint64_t));
        reuse.fidx = bench_malloc(nops * sizeof(uint32_t));
        evict.off = bench_malloc(nops * sizeof(uint64_t));
        evict.fidx = bench_malloc(nops * sizeof(uint32_t));
        for (k = 0; k < nops; k++) {
            uint32_t a = slot[bench_rng() % nreg];
            uint32_t b = slot[bench_rng() % (2 * nreg)];
            reuse.fidx[k] = (uint32_t)(a / slots_per_file);
            reuse.off[k] = (2 * (a % slots_per_file) + 1) * PAGE +
                           bench_rng() % (PAGE - len);
            evict.fidx[k] = (uint32_t)(b / slots_per_file);
            evict.off[k] = (2 * (b % slots_per_file) + 1) * PAGE +
                           bench_rng() % (PAGE - len);
        }
        /* One manager at a time: two of 50,000 regions each would pass
         * vm.max_map_count (65530 here). */
        bench_many_open(&rs, &s, window, (uint64_t)nreg * 4 * PAGE, nreg, 0,
                        0);
        cs[0] = bench_case("mmap", "-", K_MMAP, &reuse);
        cs[0].is_mmap = 1;
        cs[0].bases = s.bases;
        cs[1] = bench_many_case("smmap_cursor_at", "reuse", K_SWITCH, &reuse,
                                &rs);
        /* map every slot of the reuse working set once */
        for (k = 0; k < nreg; k++)
            warm_slot(&rs, slot[k], slots_per_file);
        smmap_cursor_release(&rs.cursors[0]);
        smmap_manager_stats(rs.m, &st);
        if (st.regions != nreg)
            bench_die("workload 6: %u regions live after warming, expected %u",
                      st.regions, nreg);
        bench_measure(cs, 2, cfg);
        smmap_manager_stats(rs.m, &st);
        if (st.maps != nreg)
            bench_die("workload 6: reuse mapped %" PRIu64
                      " times, expected %u",
                      st.maps, nreg);
        bench_many_close(&rs);

        /* Eviction: the budget filled with N of the 2N slots first, so the
         * measurement sees the steady state (about half the reads map). */
        /* SMMAP_ALWAYS_MAP: the read policy would serve these misses with
         * pressure windows (no map, no eviction); this case measures what
         * mapping with eviction costs as regions grow. */
        bench_many_open(&es, &s, window, (uint64_t)nreg * 4 * PAGE, nreg, 0,
                        SMMAP_ALWAYS_MAP);
        cs[2] = bench_many_case("smmap_cursor_at", "eviction", K_SWITCH,
                                &evict, &es);
        for (k = 0; k < nreg; k++)
            warm_slot(&es, slot[nreg + k], slots_per_file);
        smmap_cursor_release(&es.cursors[0]);
        smmap_manager_stats(es.m, &st);
        if (st.regions != nreg)
            bench_die("workload 6: %u regions live after filling the eviction "
                      "budget, expected %u",
                      st.regions, nreg);
        bench_measure(cs + 2, 1, cfg);
        smmap_manager_stats(es.m, &st);
        if (st.regions != nreg)
            bench_die("workload 6: %u regions live under eviction, expected %u",
                      st.regions, nreg);
        bench_many_close(&es);

        /* The kernel's share: the same map rate by hand, N live mappings. */
        {
            raw_evict raw;
            double maps_per_op =
                (double)cs[2].maps / ((double)cs[2].ops * cs[2].nsamples);
            raw.n = nreg;
            raw.head = 0;
            raw.live = bench_malloc(sizeof(*raw.live) * nreg);
            raw.live_off = bench_malloc(sizeof(*raw.live_off) * nreg);
            for (k = 0; k < nreg; k++) {
                uint32_t a = slot[nreg + k];
                uint64_t o = 2 * (a % slots_per_file) * PAGE;
                void *m = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED,
                               s.fds[a / slots_per_file], (off_t)o);
                if (m == MAP_FAILED)
                    bench_die("mmap: %s", strerror(errno));
                bench_sink += *((volatile unsigned char *)m + PAGE);
                raw.live[k] = m;
                raw.live_off[k] = o;
            }
            cs[3] = bench_case("raw mmap/munmap", "eviction floor",
                               K_RAW_EVICT, &evict);
            cs[3].fds = s.fds;
            cs[3].raw = &raw;
            bench_measure(cs + 3, 1, cfg);
            for (k = 0; k < nreg; k++)
                munmap((void *)raw.live[k], 2 * PAGE);
            free(raw.live);
            free(raw.live_off);
            printf("| %u | %.1f | %.1f | %.2f | %.0f | %.0f | %.2f | %.3f |\n",
                   nreg, cs[0].ns, cs[1].ns, cs[1].ns / cs[0].ns, cs[2].ns,
                   cs[3].ns, cs[2].ns / cs[3].ns, maps_per_op);
            if (cfg->csv_regions)
                fprintf(cfg->csv_regions, "%u,%.2f,%.2f,%.2f,%.4f,%.2f\n",
                        nreg, cs[0].ns, cs[1].ns, cs[2].ns, maps_per_op,
                        cs[3].ns);
        }
        if (ci == 0) {
            first_reuse = cs[1].ns;
            first_evict = cs[2].ns;
            first_raw_evict = cs[3].ns;
        }
        last_reuse = cs[1].ns;
        last_evict = cs[2].ns;
        last_raw_evict = cs[3].ns;
        last_n = nreg;
        bench_free_pattern(&reuse);
        bench_free_pattern(&evict);
    }
    if (last_n > counts[0]) {
        char t[160];
        snprintf(t, sizeof(t),
                 "W6 scaling, reuse: cost at %u regions / cost at %u", last_n,
                 counts[0]);
        bench_target(t, last_reuse / first_reuse, 1.5, 0);
        snprintf(t, sizeof(t),
                 "W6 scaling, map with eviction: cost at %u regions / cost at "
                 "%u",
                 last_n, counts[0]);
        bench_target(t, last_evict / first_evict, 1.5, 0);
        printf("\n(the kernel floor alone grows %.2fx from %u to %u live "
               "mappings)\n",
               last_raw_evict / first_raw_evict, counts[0], last_n);
    }
    free(slot);
    bench_files_close(&s);
}

