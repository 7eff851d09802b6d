/*
 * probe.h - what the small probes (reuse_probe.c, switch_probe.c) share: a
 * wall clock and a seeded random sequence. Header-only and public API
 * only, so that a probe builds alone against any commit's library
 * (bench/before-after.sh).
 */
#ifndef SMMAP_BENCH_PROBE_H
#define SMMAP_BENCH_PROBE_H

#include <stdint.h>
#include <time.h>

static inline uint64_t probe_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* xorshift64, the same sequence in every run. */
static uint64_t probe_rng_state = 88172645463325252ull;
static inline uint64_t probe_rng(void)
{
    probe_rng_state ^= probe_rng_state << 13;
    probe_rng_state ^= probe_rng_state >> 7;
    probe_rng_state ^= probe_rng_state << 17;
    return probe_rng_state;
}

#endif
