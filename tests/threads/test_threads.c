/*
 * test_threads.c - eight threads sharing one manager and its files, each
 * with its own cursors, doing random use / at / read / copy / release under
 * budgets small enough that eviction never stops, while a ninth thread calls
 * collect and stats (issue 3, item 3), and moves the files' times on and
 * refreshes their handles (git's freshening, issue 12: a touch is no
 * change of version, and what an open or a refresh learns is never written
 * where a check outside the lock reads it).
 *
 * Every byte a thread sees is compared with the file's known contents (a
 * function of file and offset). A watchdog fails the test if the run does
 * not end in time (a deadlock), and the stats thread checks the budgets
 * that hold at every instant. Run it under ThreadSanitizer and helgrind
 * (scripts/test-sanitizers.sh) for the data races the checks cannot see.
 *
 * Threads, the mutex and the clock come from tests/portable.h: pthreads on
 * POSIX, Win32 threads and a critical section on Windows. Files are sized
 * in windows of the library's granularity (the page, or the build's
 * SMMAP_GRANULARITY; 64 KiB on Windows), which its OS table gives.
 *
 * The switching phases (switching.c, issue 13) follow: readers switching
 * among cached windows while another thread collects, evicts and releases
 * paths, for --switch-ms milliseconds each (switching_default_ms: 1500, or
 * 600 under valgrind and with SMMAP_TEST_QUICK=1; SMMAP_THREADS_SWITCH_MS
 * overrides the default).
 *
 * Usage: test_threads [--iterations N] [--timeout SECONDS] [--switch-ms MS]
 */
#include "smmap.h"
#include "switching.h"
#include "os.h"
#include "../portable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKERS 8
#define NFILES 6
#define MAX_REGIONS 12u

static char dir[256];
static char paths[NFILES][320];
static uint64_t sizes[NFILES];
static uint64_t granule;
static smmap_manager *manager;
static smmap_file *shared[NFILES];
static long iterations = 20000;
/* done_lock guards stop_stats and workers_done. */
static port_mutex done_lock;
static int stop_stats;
static int workers_done;

/* Counted per thread, summed at the end. */
typedef struct worker {
    port_thread thread;
    int id;
    uint64_t rng;
    long ops, emfile, enomem, errors;
    long long bytes_checked; /* past 2^31: long is 32 bits on Windows */
    char first_error[200];
} worker;

static unsigned char expected_byte(int file, uint64_t off)
{
    uint64_t x = off * 0x9E3779B97F4A7C15ull + (uint64_t)file * 0x632BE59BD9B4E019ull;
    return (unsigned char)(x >> 56);
}

static int make_files(void)
{
    int i;
    granule = smmap__os.granularity();
    if (port_make_temp_dir(dir, sizeof(dir), "smmap-threads") != 0)
        return -1;
    for (i = 0; i < NFILES; i++) {
        static const uint64_t pages[NFILES] = {1, 3, 8, 17, 64, 256};
        uint64_t size = pages[i] * granule + (uint64_t)i * 37, k;
        unsigned char *buf = malloc(size);
        if (buf == NULL)
            return -1;
        sizes[i] = size;
        snprintf(paths[i], sizeof(paths[i]), "%s" PORT_SEP "t%d", dir, i);
        for (k = 0; k < size; k++)
            buf[k] = expected_byte(i, k);
        if (port_write_file(paths[i], buf, (size_t)size) != 0) {
            free(buf);
            return -1;
        }
        free(buf);
    }
    return 0;
}

static void remove_files(void)
{
    int i;
    for (i = 0; i < NFILES; i++)
        port_remove_file(paths[i]);
    port_remove_dir(dir);
}

static void note_error(worker *w, const char *what, long value)
{
    if (w->errors++ == 0)
        snprintf(w->first_error, sizeof(w->first_error), "%s: %ld", what,
                 value);
}

/* A failed use is fine only for the budgets: every region pinned. */
static void count_failure(worker *w, const char *what, int err)
{
    if (err == -EMFILE)
        w->emfile++;
    else if (err == -ENOMEM)
        w->enomem++;
    else
        note_error(w, what, err);
}

static void check_span(worker *w, int file, uint64_t off,
                       const unsigned char *p, uint64_t n)
{
    uint64_t k;
    for (k = 0; k < n; k++) {
        if (p[k] != expected_byte(file, off + k)) {
            note_error(w, "wrong byte at offset", (long)(off + k));
            return;
        }
    }
    w->bytes_checked += (long long)n;
}

static void work(void *arg)
{
    worker *w = arg;
    smmap_cursor a, b;
    smmap_file *own = NULL;
    int file_a = 0;
    unsigned char *buf = malloc(6 * granule);
    long i;

    smmap_cursor_init(&a, shared[0]);
    smmap_cursor_init(&b, NULL);
    if (buf == NULL)
        note_error(w, "malloc of the read buffer", 0);
    for (i = 0; buf != NULL && i < iterations; i++) {
        uint64_t r = next_rand(&w->rng), off, len;
        int op = (int)(r % 100), err;
        w->ops++;
        if (op < 8) {
            /* Switch the cursor to another file, sometimes through a handle
             * of our own (the same entries, opened and closed under load). */
            smmap_cursor_release(&a);
            smmap_cursor_release(&b);
            smmap_cursor_init(&b, NULL);
            if (own != NULL) {
                smmap_file_close(own);
                own = NULL;
            }
            file_a = (int)(next_rand(&w->rng) % NFILES);
            if (op < 3) {
                err = smmap_file_open(manager, paths[file_a], &own);
                if (err != 0) {
                    note_error(w, "open", err);
                    own = NULL;
                }
            }
            smmap_cursor_init(&a, own != NULL ? own : shared[file_a]);
            continue;
        }
        off = next_rand(&w->rng) % sizes[file_a];
        len = 1 + next_rand(&w->rng) % (2 * granule);
        if (op < 45) {
            err = smmap_cursor_use(&a, off, (size_t)len);
            if (err != 0) {
                count_failure(w, "use", err);
                continue;
            }
            if (len > sizes[file_a] - off)
                len = sizes[file_a] - off;
            if (!smmap_cursor_includes(&a, off) ||
                off + len > a.begin + a.size) {
                note_error(w, "window does not hold the request", (long)off);
                continue;
            }
            check_span(w, file_a, off, a.data + (off - a.begin), len);
        } else if (op < 70) {
            const unsigned char *p = smmap_cursor_at(&a, off, (size_t)len);
            if (off + len > sizes[file_a]) {
                if (p != NULL || (a.error != -ERANGE && a.error != -EMFILE &&
                                  a.error != -ENOMEM))
                    note_error(w, "at past EOF", a.error);
                continue;
            }
            if (p == NULL) {
                count_failure(w, "at", a.error);
                continue;
            }
            check_span(w, file_a, off, p, len);
        } else if (op < 85) {
            int64_t n;
            len = next_rand(&w->rng) % (6 * granule);
            n = smmap_read(&a, off, buf, (size_t)len);
            if (n < 0) {
                count_failure(w, "read", (int)n);
                continue;
            }
            if ((uint64_t)n != (len < sizes[file_a] - off ? len
                                                          : sizes[file_a] - off))
                note_error(w, "read count", (long)n);
            check_span(w, file_a, off, buf, (uint64_t)n);
        } else if (op < 92) {
            /* Hold a second window a little while the first one moves. */
            smmap_cursor_copy(&b, &a);
            if (b.data != NULL)
                check_span(w, file_a, b.begin, b.data, 1);
        } else if (op < 97) {
            smmap_cursor_release(&b);
        } else {
            smmap_cursor_release(&a);
        }
    }
    smmap_cursor_release(&a);
    smmap_cursor_release(&b);
    smmap_file_close(own);
    free(buf);
    port_mutex_lock(&done_lock);
    workers_done++;
    port_mutex_unlock(&done_lock);
}

static long stats_calls, collects, stats_errors, touches;
static char stats_error[200];

/* Freshen a file as git does: its times one second on, nothing else; then
 * a refresh of its shared handle must find the same version. */
static void freshen(int file)
{
    port_times t;
    int err;
    if (port_get_times(paths[file], &t) != 0) {
        if (stats_errors++ == 0)
            snprintf(stats_error, sizeof(stats_error), "times of %.150s",
                     paths[file]);
        return;
    }
    port_times_later(&t);
    if (port_set_times(paths[file], &t) != 0 && stats_errors++ == 0)
        snprintf(stats_error, sizeof(stats_error), "touch of %.150s", paths[file]);
    err = smmap_file_refresh(shared[file]);
    if (err != 0 && stats_errors++ == 0)
        snprintf(stats_error, sizeof(stats_error),
                 "refresh after a touch of file %d gave %d", file, err);
    touches++;
}

static void collect_and_stats(void *arg)
{
    (void)arg;
    for (;;) {
        smmap_stats st;
        port_mutex_lock(&done_lock);
        if (stop_stats) {
            port_mutex_unlock(&done_lock);
            break;
        }
        port_mutex_unlock(&done_lock);
        smmap_manager_stats(manager, &st);
        stats_calls++;
        if (st.regions > MAX_REGIONS || st.peak_regions > MAX_REGIONS ||
            st.files > NFILES || st.open_fds > NFILES) {
            if (stats_errors++ == 0)
                snprintf(stats_error, sizeof(stats_error),
                         "regions %u peak %u files %u open_fds %u",
                         st.regions, st.peak_regions, st.files, st.open_fds);
        }
        if (stats_calls % 16 == 0) {
            (void)smmap_manager_collect(manager);
            collects++;
        }
        if (stats_calls % 4 == 0)
            freshen((int)(stats_calls / 4 % NFILES));
        port_sleep_us(200);
    }
}

/* One phase with the given options. Returns the number of failures. */
static int run_phase(const char *name, smmap_options *o, int timeout)
{
    worker w[WORKERS];
    port_thread stats_thread;
    double deadline;
    smmap_stats st;
    long ops = 0, emfile = 0, enomem = 0;
    long long bytes = 0;
    int i, err, failures = 0;

    err = smmap_manager_new(&manager, o);
    if (err != 0) {
        fprintf(stderr, "%s: manager_new gave %d\n", name, err);
        return 1;
    }
    for (i = 0; i < NFILES; i++) {
        err = smmap_file_open(manager, paths[i], &shared[i]);
        if (err != 0) {
            fprintf(stderr, "%s: open gave %d\n", name, err);
            return 1;
        }
    }
    workers_done = 0;
    stop_stats = 0;
    stats_calls = collects = stats_errors = touches = 0;
    if (port_thread_start(&stats_thread, collect_and_stats, NULL) != 0) {
        fprintf(stderr, "%s: could not start the stats thread\n", name);
        return 1;
    }
    for (i = 0; i < WORKERS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].id = i;
        w[i].rng = 0x1234567ull * (uint64_t)(i + 1) + 99;
        if (port_thread_start(&w[i].thread, work, &w[i]) != 0) {
            fprintf(stderr, "%s: could not start thread %d\n", name, i);
            printf("0 passed, 1 failed\n");
            fflush(NULL);
            _Exit(1);
        }
    }
    /* The watchdog: a deadlock fails the test instead of hanging it. It
     * polls (every 10 ms) so that it needs only a mutex and a clock. */
    deadline = port_now() + timeout;
    port_mutex_lock(&done_lock);
    while (workers_done < WORKERS) {
        port_mutex_unlock(&done_lock);
        if (port_now() > deadline) {
            port_mutex_lock(&done_lock);
            fprintf(stderr, "%s: only %d of %d threads finished in %d s: "
                    "deadlock or livelock\n", name, workers_done, WORKERS,
                    timeout);
            printf("0 passed, 1 failed\n");
            fflush(NULL);
            _Exit(1);
        }
        port_sleep_us(10000);
        port_mutex_lock(&done_lock);
    }
    stop_stats = 1;
    port_mutex_unlock(&done_lock);
    for (i = 0; i < WORKERS; i++)
        port_thread_join(&w[i].thread);
    port_thread_join(&stats_thread);

    for (i = 0; i < WORKERS; i++) {
        ops += w[i].ops;
        bytes += w[i].bytes_checked;
        emfile += w[i].emfile;
        enomem += w[i].enomem;
        if (w[i].errors) {
            fprintf(stderr, "%s: thread %d: %ld errors, first: %s\n", name,
                    i, w[i].errors, w[i].first_error);
            failures++;
        }
    }
    if (stats_errors) {
        fprintf(stderr, "%s: stats out of budget %ld times, first: %s\n",
                name, stats_errors, stats_error);
        failures++;
    }
    smmap_manager_stats(manager, &st);
    printf("threads: %s: %ld operations, %lld bytes checked, %llu maps, "
           "%llu evictions, %llu reuses, %llu direct reads, %llu read "
           "windows, %ld -EMFILE, %ld -ENOMEM, %ld stats, %ld collects, "
           "%ld touches\n",
           name, ops, bytes, (unsigned long long)st.maps,
           (unsigned long long)st.evictions, (unsigned long long)st.reuses,
           (unsigned long long)st.direct_reads,
           (unsigned long long)st.read_windows, emfile, enomem, stats_calls,
           collects, touches);
    if (st.evictions == 0 || bytes == 0) {
        fprintf(stderr, "%s: no eviction or nothing checked: the budgets are "
                "not tight enough to test anything\n", name);
        failures++;
    }
    if (st.mapped_bytes != 0 && st.regions == 0) {
        fprintf(stderr, "%s: mapped_bytes %llu with no region\n", name,
                (unsigned long long)st.mapped_bytes);
        failures++;
    }
    for (i = 0; i < NFILES; i++)
        smmap_file_close(shared[i]);
    smmap_manager_stats(manager, &st);
    if (st.regions != 0 || st.mapped_bytes != 0 || st.files != 0 ||
        st.open_fds != 0) {
        fprintf(stderr, "%s: after closing: %u regions, %llu bytes, %u files, "
                "%u descriptors\n", name, st.regions,
                (unsigned long long)st.mapped_bytes, st.files, st.open_fds);
        failures++;
    }
    smmap_manager_free(manager);
    return failures;
}

int main(int argc, char **argv)
{
    smmap_options o;
    int i, timeout = 120, failures = 0, phases = 0;
    unsigned switch_ms = switching_default_ms();

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
            iterations = strtol(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout = (int)strtol(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--switch-ms") == 0 && i + 1 < argc)
            switch_ms = (unsigned)strtoul(argv[++i], NULL, 0);
        else {
            fprintf(stderr, "usage: %s [--iterations N] [--timeout S] "
                    "[--switch-ms MS]\n", argv[0]);
            return 2;
        }
    }
    port_mutex_init(&done_lock);
    if (make_files() != 0 || switching_make_files(dir) != 0) {
        fprintf(stderr, "could not create the test files\n");
        return 1;
    }
    /* Sliding windows of one granule, four of them in budget, twelve regions:
     * eight threads with two cursors each keep all of it pinned. */
    smmap_options_init(&o);
    o.window_size = granule;
    o.max_mapped = 4 * granule;
    o.max_regions = MAX_REGIONS;
    o.max_open_files = 2;
    failures += run_phase("sliding", &o, timeout) != 0;
    phases++;
    /* Static mode: whole files, a budget of two of the small ones. */
    o.window_size = 0;
    o.max_mapped = 8 * granule;
    failures += run_phase("static", &o, timeout) != 0;
    phases++;
#ifdef SMMAP_NO_MMAP
    /* The read backend: heap windows filled by pread. */
    o.window_size = 2 * granule;
    o.max_mapped = 8 * granule;
    o.flags = SMMAP_NO_MMAP;
    failures += run_phase("read backend", &o, timeout) != 0;
    phases++;
#endif
    /* Readers switching among cached windows, mapped windows only, then
     * with the read policy's pressure windows and direct reads. */
    failures += switching_run("switching", SMMAP_ALWAYS_MAP, switch_ms,
                              timeout) != 0;
    phases++;
    failures += switching_run("switching, read policy", 0, switch_ms,
                              timeout) != 0;
    phases++;
    switching_remove_files();
    remove_files();
    port_mutex_destroy(&done_lock);
    printf("%d passed, %d failed\n", phases - failures, failures);
    return failures == 0 ? 0 : 1;
}
