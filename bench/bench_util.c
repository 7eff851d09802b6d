/*
 * bench_util.c - the small machinery every benchmark file uses: failing
 * (print and unwind to smmap_bench_main), allocating, the clock and the
 * random numbers.
 */
#include "bench_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>

/* Set by bench_main.c before anything can fail. */
const char *bench_program = "smmap-bench";
jmp_buf bench_abort;

volatile uint64_t bench_sink;
clockid_t bench_clock = CLOCK_THREAD_CPUTIME_ID;

/* A failure unwinds to smmap_bench_main, which returns 1: a program that
 * calls it must be able to flush and exit itself. What was allocated is
 * left to the process exit. */
void bench_die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", bench_program);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    longjmp(bench_abort, 1);
}

void bench_check(int err, const char *what)
{
    if (err < 0)
        bench_die("%s: %s", what, smmap_strerror(err));
}

void *bench_malloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        bench_die("out of memory (%zu bytes)", n);
    return p;
}

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

void bench_rng_seed(uint64_t seed)
{
    /* xorshift must not start at 0; the golden-ratio constant keeps small
     * seeds apart. */
    rng_state = 0x9E3779B97F4A7C15ull ^ (seed * 0xBF58476D1CE4E5B9ull);
    if (rng_state == 0)
        rng_state = 0x9E3779B97F4A7C15ull;
}

/* xorshift64*: a fixed seed gives every run the same offsets. */
uint64_t bench_rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}
