/*
 * test.h - the unit tests' harness: checks that report the exact values that
 * differed, a table of tests per file, and a fixture of files with known,
 * non-repeating contents in a temporary directory.
 *
 * Each test file defines its tests as `static void test_<module>__<what>(void)`
 * and lists them in a TEST_LIST; main() is TEST_MAIN(list). A failing check
 * prints file:line and both values, and the test binary exits non-zero.
 */
#ifndef SMMAP_TEST_H
#define SMMAP_TEST_H

#include "smmap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int test_failures;
extern const char *test_current;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__,       \
                    __LINE__, test_current, #cond);                          \
            test_failures++;                                                 \
        }                                                                    \
    } while (0)

#define CHECK_EQ(actual, expected)                                           \
    do {                                                                     \
        unsigned long long a_ = (unsigned long long)(actual);                \
        unsigned long long e_ = (unsigned long long)(expected);              \
        if (a_ != e_) {                                                      \
            fprintf(stderr, "%s:%d: %s: %s == %lld (0x%llx), expected %s == " \
                    "%lld\n", __FILE__, __LINE__, test_current, #actual,     \
                    (long long)a_, a_, #expected, (long long)e_);            \
            test_failures++;                                                 \
        }                                                                    \
    } while (0)

/* An assertion the rest of the test depends on: stop the test. */
#define REQUIRE_EQ(actual, expected)                                         \
    do {                                                                     \
        int before_ = test_failures;                                         \
        CHECK_EQ(actual, expected);                                          \
        if (test_failures != before_)                                        \
            return;                                                          \
    } while (0)

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

#define TEST_ENTRY(fn) {#fn, fn}
#define TEST_MAIN(list)                                                      \
    int main(int argc, char **argv)                                          \
    {                                                                        \
        return test_run(list, sizeof(list) / sizeof(list[0]), argc, argv);   \
    }

int test_run(const test_case *tests, size_t count, int argc, char **argv);

/* The byte every fixture file holds at offset off: no period a window size
 * or a page could hide (unlike a file of zeros or of i % 256). */
static inline unsigned char pattern_byte(uint64_t off)
{
    uint64_t x = off * 0x9E3779B97F4A7C15ull;
    return (unsigned char)((x >> 56) ^ (off >> 12) ^ off);
}

/* A fresh temporary directory for the current test (removed afterwards). */
const char *fixture_dir(void);
/* dir/name as a new string in a static ring buffer (valid for 16 calls). */
const char *fixture_path(const char *name);
/* Write a file of size bytes of pattern_byte(offset + base); returns path. */
const char *fixture_file(const char *name, uint64_t size);
/* A sparse file of size bytes: pattern bytes only at the given offsets (n
 * runs of len bytes each), zeros elsewhere. */
const char *fixture_sparse(const char *name, uint64_t size,
                           const uint64_t *offsets, size_t n, size_t len);
/* Replace a file's contents by rename of a new file (a new inode). */
void fixture_replace(const char *path, uint64_t size, unsigned char fill);
/* Check buf against the pattern at off; returns 1 when every byte matches. */
int pattern_matches(const unsigned char *buf, uint64_t off, size_t len);
/* Read bytes of a file with plain stdio (the reference for smmap reads). */
int fixture_read(const char *path, uint64_t off, void *buf, size_t len);

/* The page size smmap aligns to, as the library sees it. */
uint64_t test_granularity(void);
/* vm.max_map_count (0 where unreadable) and the soft RLIMIT_NOFILE (0 when
 * unlimited), read without the OS layer where the platform allows. */
uint64_t test_system_max_map_count(void);
uint64_t test_system_max_open_files(void);

/* A manager with these options (exits the test binary if creation fails). */
smmap_manager *test_manager(uint64_t window, uint64_t max_mapped,
                            uint32_t max_regions, uint32_t max_files,
                            uint32_t flags);
/* Map windows [k * g, (k + 1) * g) of f for k < n (g: the granularity)
 * through one cursor, then release it: n cached regions, none held. */
void test_map_windows(smmap_file *f, unsigned n);
/* Open path in m (exits on failure). */
smmap_file *test_open(smmap_manager *m, const char *path);
/* The manager's statistics. */
smmap_stats test_stats(smmap_manager *m);

#endif
