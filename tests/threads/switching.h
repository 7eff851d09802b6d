/*
 * switching.h - the switching phases of the thread test (switching.c):
 * readers switch among cached windows of shared files while another thread
 * collects, evicts and releases paths (issue 13).
 */
#ifndef SMMAP_TEST_SWITCHING_H
#define SMMAP_TEST_SWITCHING_H

#include <stdint.h>

/* xorshift64: the random numbers of the whole thread test (s nonzero). */
static inline uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Write the phase's files (sw-hot-a0, sw-hot-a1, sw-hot-b0, sw-hot-b1 and
 * sw-cold, a few MiB each) into the directory dir. Returns 0 or -1. */
int switching_make_files(const char *dir);

/* Remove the files switching_make_files wrote. */
void switching_remove_files(void);

/* How long a phase runs, in milliseconds: SMMAP_THREADS_SWITCH_MS if set,
 * else 600 under valgrind or with SMMAP_TEST_QUICK=1, else 1500. */
unsigned switching_default_ms(void);

/*
 * Run one switching phase for about ms milliseconds on a manager with
 * SMMAP_HARD_LIMITS and extra_flags (SMMAP_ALWAYS_MAP, or 0 for the read
 * policy). A phase that has not ended after timeout seconds fails the whole
 * test at once (a deadlock). Prints one line of counts; returns the number
 * of failures (0 or 1).
 */
int switching_run(const char *name, uint32_t extra_flags, unsigned ms,
                  int timeout);

#endif /* SMMAP_TEST_SWITCHING_H */
