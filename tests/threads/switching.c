/*
 * switching.c - the switching phases of the thread test (issue 13).
 *
 * READERS threads share one manager and four "hot" files of a few MiB. Each
 * has two cursors and switches them at random among 64 KiB windows, most
 * of them among the first HOT_WINDOWS of each file, so that most switches
 * find the window cached: smmap_cursor_at, smmap_cursor_use, smmap_read and
 * smmap_cursor_copy, every byte they return compared with the file's known
 * contents (a function of file and offset). Meanwhile an evictor thread
 * collects, maps windows of a "cold" file under budgets that the hot set
 * alone nearly fills (so its maps evict the readers' cached windows), and
 * releases paths by prefix: -EBUSY or 0 where a reader may hold a window of
 * a matching file, exactly -EBUSY where the evictor itself holds one, and
 * exactly 0 where no cursor can.
 *
 * What smmap.h promises, checked here:
 *   - no wrong byte, ever; no error but -ERANGE past the end (the pinned
 *     windows and the maps in flight are far below the budgets, so neither
 *     -EMFILE nor -ENOMEM is allowed);
 *   - a window a cursor holds is never unmapped: readers keep reading a held
 *     window until a collect that began after they took it has completed,
 *     and a copy keeps its window (checked now and then, through collects)
 *     while the original moves on;
 *   - budgets hold exactly: every stats sample, by any thread, has
 *     mapped_bytes <= max_mapped (SMMAP_HARD_LIMITS), regions <= max_regions
 *     and peaks no smaller than the current values nor above the budgets;
 *   - stats are exact when no call is in flight: three times a phase every
 *     reader parks (holding its cursors, or having released them), and the
 *     evictor compares the stats after a collect with its own count of the
 *     distinct windows the cursors hold (their number and the sum of their
 *     sizes), and checks that release_path touched nothing when it said
 *     -EBUSY and closed every matching descriptor when it said 0; at the end
 *     the same with no cursor at all, and a cached window reused, not
 *     duplicated.
 *
 * The test's own flags (stop, pause request, the evictor's counts of
 * collects begun and done) are relaxed atomics, so that they add no
 * happens-before edge between the threads that could hide a race in the
 * library from ThreadSanitizer; helgrind, which does not model atomics, is
 * told not to check them (VALGRIND_HG_DISABLE_CHECKING), which adds no edge
 * either. The parking at a pause takes a mutex: there the threads are meant
 * to be ordered.
 */
#include "switching.h"
#include "smmap.h"
#include "os.h"
#include "../portable.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<valgrind/helgrind.h>)
#include <valgrind/helgrind.h>
#define SW_HG_DISABLE_CHECKING(p, n) VALGRIND_HG_DISABLE_CHECKING(p, n)
#define SW_ON_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef SW_HG_DISABLE_CHECKING
#define SW_HG_DISABLE_CHECKING(p, n) ((void)(p), (void)(n))
#define SW_ON_VALGRIND() 0
#endif

#define READERS 4
#define HOT_FILES 4
#define HOT_WINDOWS 16 /* per hot file: where 80% of the switches go */
#define MAX_REGIONS 96u
#define STEP_COLLECT 100 /* the evictor's steps other than step % 16 */
#define STEP_RELEASE 101
#define PAUSE_HOLD 1  /* readers park holding their cursors */
#define PAUSE_EMPTY 2 /* readers release their cursors, then park */

typedef struct sw_file {
    char path[320];
    uint64_t size;
    int id; /* the byte pattern's file number */
    smmap_file *shared;
} sw_file;

static char dir_path[256];
static sw_file hot[HOT_FILES], cold;
static uint64_t window; /* the phase's window_size: 64 KiB, or a granule */
static uint64_t granule;
static smmap_manager *manager;
static smmap_options options;
/* The evictor's pace: a collect every collect_every steps, at least
 * min_steps steps in a phase however slow the machine (valgrind runs a step
 * 50 times slower); fewer of both in phases under a second. */
static int collect_every, min_steps;

/* Relaxed atomics of the test (see the top comment). */
static struct {
    int stop;
    int pause_request;
    long collects_begun, collects_done; /* by the evictor */
} signals;

/* pause_lock guards parked, resume_generation and finished. */
static port_mutex pause_lock;
static int parked, resume_generation, finished;

typedef struct failures {
    long count;
    char first[240];
} failures;

typedef struct reader {
    port_thread thread;
    int id;
    uint64_t rng;
    smmap_file *own[HOT_FILES]; /* odd readers: handles of their own */
    long ops, holds, holds_through, copies, copies_through, switches;
    long stats_samples;
    long b_taken; /* collects begun when b took its window */
    int b_through; /* b's window was read after a collect that began later */
    long long bytes_checked;
    failures fail;
    /* What the reader holds, published before it parks. */
    const unsigned char *held_data[2];
    uint64_t held_begin[2];
    size_t held_size[2];
    int held_file[2]; /* index into hot[] */
    int held_fd[2];   /* the cursor keeps its file's descriptor open (a
                         pressure window, or a descriptor for direct
                         reads: smmap.h, POLICY) */
} reader;

typedef struct evictor {
    port_thread thread;
    uint64_t rng;
    unsigned ms;
    long collects, cold_maps, pauses, samples;
    long release_hot_ok, release_other_ok, release_busy;
    failures fail;
} evictor;

static unsigned char expected_byte(int file, uint64_t off)
{
    uint64_t x = off * 0x9E3779B97F4A7C15ull +
                 (uint64_t)file * 0xD1B54A32D192ED03ull;
    return (unsigned char)(x >> 56);
}

#if defined(__GNUC__) && !defined(_WIN32)
__attribute__((format(printf, 2, 3)))
#endif
static void fail(failures *f, const char *fmt, ...)
{
    va_list ap;
    if (f->count++ != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(f->first, sizeof(f->first), fmt, ap);
    va_end(ap);
}

static int write_file(sw_file *f, const char *name, int id, uint64_t size)
{
    unsigned char *buf = malloc((size_t)size);
    uint64_t k;
    int rc;
    if (buf == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s" PORT_SEP "%s", dir_path, name);
    f->size = size;
    f->id = id;
    for (k = 0; k < size; k++)
        buf[k] = expected_byte(id, k);
    rc = port_write_file(f->path, buf, (size_t)size);
    free(buf);
    return rc;
}

int switching_make_files(const char *dir)
{
    static const char *names[HOT_FILES] = {"sw-hot-a0", "sw-hot-a1",
                                           "sw-hot-b0", "sw-hot-b1"};
    /* Sizes in windows, and odd tails: last windows are partial. */
    static const uint64_t windows[HOT_FILES] = {32, 40, 24, 48};
    static const uint64_t tails[HOT_FILES] = {123, 7, 32769, 4095};
    int i;
    granule = smmap__os.granularity();
    window = 64 * 1024;
    if (window % granule != 0)
        window = granule > window ? granule : (window / granule + 1) * granule;
    /* Reads of up to a window less a granule need a window of two granules
     * at least (64 KiB granularity: 128 KiB windows). */
    if (window < 2 * granule)
        window = 2 * granule;
    snprintf(dir_path, sizeof(dir_path), "%s", dir);
    for (i = 0; i < HOT_FILES; i++)
        if (write_file(&hot[i], names[i], 10 + i, windows[i] * window +
                       tails[i] % window) != 0)
            return -1;
    return write_file(&cold, "sw-cold", 20, 64 * window + 5);
}

void switching_remove_files(void)
{
    int i;
    for (i = 0; i < HOT_FILES; i++)
        port_remove_file(hot[i].path);
    port_remove_file(cold.path);
}

unsigned switching_default_ms(void)
{
    const char *ms = getenv("SMMAP_THREADS_SWITCH_MS");
    const char *quick = getenv("SMMAP_TEST_QUICK");
    if (ms != NULL && *ms != '\0')
        return (unsigned)strtoul(ms, NULL, 0);
    if (SW_ON_VALGRIND() || (quick != NULL && strcmp(quick, "1") == 0))
        return 600;
    return 1500;
}

static void prefix_of(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s" PORT_SEP "%s", dir_path, name);
}

/* Compare bytes at p, file offsets [off, off + n), with the pattern. */
static int check_bytes(failures *f, long long *checked, int id, uint64_t off,
                       const unsigned char *p, uint64_t n)
{
    uint64_t k;
    for (k = 0; k < n; k++) {
        if (p[k] != expected_byte(id, off + k)) {
            fail(f, "wrong byte at offset %lld of file %d",
                 (long long)(off + k), id);
            return -1;
        }
    }
    *checked += (long long)n;
    return 0;
}

/* Check a held window: every byte (full) or a sample of ~700 of them. */
static void check_window(failures *f, long long *checked, int id,
                         const smmap_cursor *c, int full)
{
    size_t k, stride = full ? 1 : 251;
    if (c->data == NULL)
        return;
    for (k = 0; k < c->size; k += stride) {
        if (c->data[k] != expected_byte(id, c->begin + k)) {
            fail(f, "held window: wrong byte at offset %lld of file %d",
                 (long long)(c->begin + k), id);
            return;
        }
    }
    if (c->data[c->size - 1] != expected_byte(id, c->begin + c->size - 1))
        fail(f, "held window: wrong last byte at %lld of file %d",
             (long long)(c->begin + c->size - 1), id);
    *checked += (long long)(full ? c->size : c->size / stride + 1);
}

/*
 * Budgets hold at every instant: regions, mapped_bytes (SMMAP_HARD_LIMITS)
 * and their peaks within max_regions and max_mapped. When no call is in
 * flight (quiet) the stats are also exact: peaks are no smaller than the
 * current values (a map in flight has its reservation counted before its
 * peak is taken), and descriptors are within max_open_files (a map or a
 * pread in flight needs its file's descriptor open, whatever the budget),
 * plus held_fds: those that parked cursors keep open.
 */
static void check_budgets(failures *f, const smmap_stats *st, int quiet,
                          int held_fds)
{
    if (st->regions > options.max_regions ||
        st->peak_regions > options.max_regions)
        fail(f, "regions %lld (peak %lld) over max_regions",
             (long long)st->regions, (long long)st->peak_regions);
    if (st->mapped_bytes > options.max_mapped ||
        st->peak_mapped_bytes > options.max_mapped)
        fail(f, "mapped_bytes %lld (peak %lld) over a hard max_mapped",
             (long long)st->mapped_bytes, (long long)st->peak_mapped_bytes);
    if (st->files != HOT_FILES + 1 || st->open_fds > st->files)
        fail(f, "files %lld (expected %d), open_fds %lld",
             (long long)st->files, HOT_FILES + 1, (long long)st->open_fds);
    if (!quiet)
        return;
    if (st->peak_regions < st->regions ||
        st->peak_mapped_bytes < st->mapped_bytes)
        fail(f, "quiet: a peak below its current value: regions %lld (peak "
             "%lld), bytes %lld (peak %lld)", (long long)st->regions,
             (long long)st->peak_regions, (long long)st->mapped_bytes,
             (long long)st->peak_mapped_bytes);
    if (st->open_fds > options.max_open_files + (uint32_t)held_fds)
        fail(f, "quiet: open_fds %lld over max_open_files %lld (and %d "
             "held by parked cursors)", (long long)st->open_fds,
             (long long)options.max_open_files, held_fds);
}

static smmap_file *handle_of(reader *r, int file)
{
    if (r->own[file] != NULL && (next_rand(&r->rng) & 1))
        return r->own[file];
    return hot[file].shared;
}

/* A random offset: 90% in the first HOT_WINDOWS windows of the file. */
static uint64_t pick_offset(uint64_t *rng, uint64_t size)
{
    uint64_t r = next_rand(rng);
    uint64_t span = r % 10 != 0 ? HOT_WINDOWS * window : size;
    if (span > size)
        span = size;
    return next_rand(rng) % span;
}

static long collects_begun(void)
{
    return __atomic_load_n(&signals.collects_begun, __ATOMIC_RELAXED);
}

/* Whether a collect that began after `begun` was read has completed. */
static int collected_since(long begun)
{
    return __atomic_load_n(&signals.collects_done, __ATOMIC_RELAXED) > begun;
}

/* b's window: count it held through a collect once one that began after
 * b took it has completed, and check it. */
static void check_b(reader *r, const smmap_cursor *b, int file_b, int full)
{
    if (b->data == NULL)
        return;
    if (!r->b_through && collected_since(r->b_taken)) {
        r->b_through = 1;
        r->copies_through++;
    }
    check_window(&r->fail, &r->bytes_checked, hot[file_b].id, b, full);
}

/* Hold a's window and read it until a collect that began after the hold
 * has completed (the evictor collects every collect_every steps), or the
 * evictor pauses or stops. */
static void hold(reader *r, smmap_cursor *a, int file)
{
    long start = collects_begun();
    int through = 0;
    r->holds++;
    for (;;) {
        check_window(&r->fail, &r->bytes_checked, hot[file].id, a, 0);
        if (collected_since(start)) {
            through = 1;
            break;
        }
        if (__atomic_load_n(&signals.pause_request, __ATOMIC_RELAXED) ||
            __atomic_load_n(&signals.stop, __ATOMIC_RELAXED))
            break;
        port_sleep_us(50);
    }
    check_window(&r->fail, &r->bytes_checked, hot[file].id, a, 1);
    r->holds_through += through;
}

/* Park at a pause: publish what the cursors hold, wait for the evictor's
 * checks, then check that the held windows survived its collect and
 * release_path calls, every byte. */
static void park(reader *r, smmap_cursor *a, smmap_cursor *b, int file_a,
                 int file_b, int request)
{
    const smmap_cursor *held[2];
    int files[2], i, generation;
    if (request == PAUSE_EMPTY) {
        smmap_cursor_release(a);
        smmap_cursor_release(b);
    }
    held[0] = a;
    held[1] = b;
    files[0] = file_a;
    files[1] = file_b;
    for (i = 0; i < 2; i++) {
        r->held_data[i] = held[i]->data;
        r->held_begin[i] = held[i]->begin;
        r->held_size[i] = held[i]->size;
        r->held_file[i] = files[i];
        r->held_fd[i] = held[i]->holds_fd != 0;
    }
    port_mutex_lock(&pause_lock);
    parked++;
    generation = resume_generation;
    port_mutex_unlock(&pause_lock);
    for (;;) {
        int now;
        port_sleep_us(100);
        port_mutex_lock(&pause_lock);
        now = resume_generation;
        port_mutex_unlock(&pause_lock);
        if (now != generation)
            break;
    }
    for (i = 0; i < 2; i++) {
        if (held[i]->data != r->held_data[i] ||
            held[i]->begin != r->held_begin[i])
            fail(&r->fail, "a parked cursor moved: begin %lld, now %lld",
                 (long long)r->held_begin[i], (long long)held[i]->begin);
        if (i == 1)
            check_b(r, b, file_b, 1);
        else if (held[i]->data != NULL)
            check_window(&r->fail, &r->bytes_checked, hot[files[i]].id,
                         held[i], 1);
    }
}

static void reader_main(void *arg)
{
    reader *r = arg;
    smmap_cursor a, b;
    int file_a = r->id % HOT_FILES, file_b = file_a, hold_next = 0;
    unsigned char *buf = malloc((size_t)(3 * window));

    smmap_cursor_init(&a, handle_of(r, file_a));
    smmap_cursor_init(&b, NULL);
    if (buf == NULL)
        fail(&r->fail, "malloc of %lld bytes", (long long)(3 * window));
    while (buf != NULL &&
           !__atomic_load_n(&signals.stop, __ATOMIC_RELAXED)) {
        int request = __atomic_load_n(&signals.pause_request, __ATOMIC_RELAXED);
        uint64_t size = hot[file_a].size, off, len;
        int op, err;
        if (request != 0) {
            park(r, &a, &b, file_a, file_b, request);
            hold_next = 1;
            continue;
        }
        r->ops++;
        op = (int)(next_rand(&r->rng) % 1000);
        off = pick_offset(&r->rng, size);
        /* Up to a window less a granule: one window can always hold it. */
        len = next_rand(&r->rng) % 16 == 0
                  ? 1 + next_rand(&r->rng) % (window - granule)
                  : 1 + next_rand(&r->rng) % 64;
        if (len > size - off)
            len = size - off;
        if (op < 400) {
            const unsigned char *p = smmap_cursor_at(&a, off, (size_t)len);
            if (p == NULL)
                fail(&r->fail, "cursor_at gave %d at %lld", a.error,
                     (long long)off);
            else
                check_bytes(&r->fail, &r->bytes_checked, hot[file_a].id, off,
                            p, len);
        } else if (op < 420) {
            /* Past the end: exactly -ERANGE, the cursor's window kept or
             * not, never a pointer. */
            const unsigned char *p =
                smmap_cursor_at(&a, size - 1, 2 + (size_t)(off % 100));
            if (p != NULL || a.error != -ERANGE)
                fail(&r->fail, "cursor_at past the end gave error %d",
                     a.error);
        } else if (op < 600) {
            err = smmap_cursor_use(&a, off, (size_t)len);
            if (err != 0) {
                fail(&r->fail, "cursor_use gave %d at %lld", err,
                     (long long)off);
                continue;
            }
            if (a.data == NULL || off < a.begin || off + len > a.begin + a.size)
                fail(&r->fail, "the window does not hold %lld (begin %lld)",
                     (long long)off, (long long)a.begin);
            else
                check_bytes(&r->fail, &r->bytes_checked, hot[file_a].id, off,
                            a.data + (off - a.begin), len);
            check_window(&r->fail, &r->bytes_checked, hot[file_a].id, &a, 0);
        } else if (op < 750) {
            uint64_t want = next_rand(&r->rng) % 8 == 0
                                ? next_rand(&r->rng) % (3 * window)
                                : next_rand(&r->rng) % 512,
                     expect;
            int64_t n = smmap_read(&a, off, buf, (size_t)want);
            expect = want < size - off ? want : size - off;
            if (n < 0 || (uint64_t)n != expect)
                fail(&r->fail, "smmap_read gave %lld, expected %lld",
                     (long long)n, (long long)expect);
            else
                check_bytes(&r->fail, &r->bytes_checked, hot[file_a].id, off,
                            buf, (uint64_t)n);
        } else if (op < 850) {
            /* b shares a's window and keeps it while a moves on. */
            smmap_cursor_copy(&b, &a);
            file_b = file_a;
            r->copies++;
            r->b_taken = collects_begun();
            r->b_through = 0;
            if (b.data != a.data || b.begin != a.begin || b.size != a.size)
                fail(&r->fail, "copy: begin %lld, the original's %lld",
                     (long long)b.begin, (long long)a.begin);
            check_window(&r->fail, &r->bytes_checked, hot[file_b].id, &b, 0);
        } else if (op < 900) {
            check_b(r, &b, file_b, 0);
        } else if (op < 930) {
            smmap_cursor_release(next_rand(&r->rng) & 1 ? &a : &b);
        } else if (op < 999 && !hold_next) {
            /* Another file, through the shared handle or our own. */
            smmap_cursor_release(&a);
            file_a = (int)(next_rand(&r->rng) % HOT_FILES);
            smmap_cursor_init(&a, handle_of(r, file_a));
            r->switches++;
        } else {
            /* Now and then, and first thing after each pause. */
            hold_next = 0;
            err = smmap_cursor_use(&a, off, (size_t)(window / 2));
            if (err != 0)
                fail(&r->fail, "cursor_use (hold) gave %d at %lld", err,
                     (long long)off);
            else
                hold(r, &a, file_a);
        }
        if (r->ops % 256 == 0) {
            smmap_stats st;
            smmap_manager_stats(manager, &st);
            check_budgets(&r->fail, &st, 0, 0);
            r->stats_samples++;
        }
    }
    smmap_cursor_release(&a);
    smmap_cursor_release(&b);
    free(buf);
    port_mutex_lock(&pause_lock);
    finished++;
    port_mutex_unlock(&pause_lock);
}

static reader readers[READERS];

static void sample(evictor *e)
{
    smmap_stats st;
    smmap_manager_stats(manager, &st);
    check_budgets(&e->fail, &st, 0, 0);
    e->samples++;
}

/* A collect, counted before and after for the readers' holds. */
static size_t collect(evictor *e)
{
    size_t n;
    __atomic_add_fetch(&signals.collects_begun, 1, __ATOMIC_RELAXED);
    n = smmap_manager_collect(manager);
    __atomic_add_fetch(&signals.collects_done, 1, __ATOMIC_RELAXED);
    e->collects++;
    return n;
}

/* Map a random window of the cold file with the evictor's cursor. */
static void map_cold(evictor *e, smmap_cursor *c)
{
    long long checked = 0;
    uint64_t off = next_rand(&e->rng) % cold.size;
    int err = smmap_cursor_use(c, off, (size_t)(window / 2));
    if (err != 0) {
        fail(&e->fail, "cold cursor_use gave %d at %lld", err,
             (long long)off);
        return;
    }
    e->cold_maps++;
    check_window(&e->fail, &checked, cold.id, c, 0);
}

/* Release the files whose names start with name, counting the results. */
static int release_path(evictor *e, const char *name)
{
    char prefix[320];
    int err, touches_hot = strncmp(name, "sw-hot", 6) == 0 ||
                           strcmp(name, "sw-") == 0;
    prefix_of(prefix, sizeof(prefix), name);
    err = smmap_manager_release_path(manager, prefix);
    if (err == 0 && touches_hot) {
        e->release_hot_ok++;
    } else if (err == 0) {
        e->release_other_ok++;
    } else if (err == -EBUSY) {
        e->release_busy++;
    }
    return err;
}

static int same_counts(const smmap_stats *x, const smmap_stats *y)
{
    return x->regions == y->regions && x->mapped_bytes == y->mapped_bytes &&
           x->unmaps == y->unmaps && x->maps == y->maps;
}

/* With every reader parked: collect, and compare the stats with the
 * windows the cursors hold (distinct regions have distinct addresses). */
static void check_parked(evictor *e, smmap_cursor *c, int request)
{
    const unsigned char *seen[2 * READERS + 1];
    uint64_t bytes = 0;
    size_t collected;
    int distinct = 0, hot_held = -1, held_fds = 0, i, j, err;
    smmap_stats before, after, again;

    if (c->data == NULL)
        map_cold(e, c);
    for (i = 0; i < READERS; i++) {
        for (j = 0; j < 2; j++) {
            const unsigned char *d = readers[i].held_data[j];
            int k, dup = 0;
            if (d == NULL)
                continue;
            held_fds += readers[i].held_fd[j];
            if (request == PAUSE_EMPTY)
                fail(&e->fail, "reader %d still holds a window (%d)", i,
                     j);
            hot_held = readers[i].held_file[j];
            for (k = 0; k < distinct; k++)
                dup |= seen[k] == d;
            if (!dup) {
                seen[distinct++] = d;
                bytes += readers[i].held_size[j];
            }
        }
    }
    if (c->data != NULL) {
        seen[distinct++] = c->data;
        bytes += c->size;
    }
    smmap_manager_stats(manager, &before);
    if (c->holds_fd)
        held_fds++;
    check_budgets(&e->fail, &before, 1, held_fds);
    collected = collect(e);
    smmap_manager_stats(manager, &after);
    check_budgets(&e->fail, &after, 1, held_fds);
    if (after.regions != (uint32_t)distinct || after.mapped_bytes != bytes)
        fail(&e->fail, "parked, after collect: %lld regions, but the cursors "
             "hold %d windows", (long long)after.regions, distinct);
    if (collected != (size_t)(before.regions - after.regions))
        fail(&e->fail, "collect returned %lld, the stats fell by %lld",
             (long long)collected, (long long)(before.regions - after.regions));
    if ((options.flags & SMMAP_ALWAYS_MAP) &&
        after.maps - after.unmaps != after.regions)
        fail(&e->fail, "parked: maps - unmaps = %lld, regions %lld",
             (long long)(after.maps - after.unmaps), (long long)after.regions);
    if (hot_held >= 0) {
        /* A reader holds a window of this file: -EBUSY, nothing touched. */
        err = release_path(e, hot_held < 2 ? "sw-hot-a" : "sw-hot-b");
        smmap_manager_stats(manager, &again);
        if (err != -EBUSY || !same_counts(&after, &again))
            fail(&e->fail, "release_path of a held file gave %d, regions "
                 "%lld", err, (long long)again.regions);
    }
    err = release_path(e, "sw-none");
    smmap_manager_stats(manager, &again);
    if (err != 0 || !same_counts(&after, &again))
        fail(&e->fail, "release_path of no file gave %d, regions %lld", err,
             (long long)again.regions);
    if (request == PAUSE_EMPTY) {
        /* No reader holds anything: the hot files go, descriptors too. */
        err = release_path(e, "sw-hot");
        smmap_manager_stats(manager, &again);
        if (err != 0 || again.regions != 1 || again.mapped_bytes != c->size ||
            again.open_fds > 1)
            fail(&e->fail, "release_path of the hot files gave %d, left "
                 "%lld regions", err, (long long)again.regions);
        smmap_cursor_release(c);
        err = release_path(e, "sw-");
        smmap_manager_stats(manager, &again);
        if (err != 0 || again.regions != 0 || again.mapped_bytes != 0 ||
            again.open_fds != 0 || again.files_mapped != 0 ||
            again.maps != again.unmaps)
            fail(&e->fail, "release_path of every file gave %d, left %lld "
                 "regions", err, (long long)again.regions);
    }
}

static void pause_readers(evictor *e, smmap_cursor *c, int request)
{
    int all;
    __atomic_store_n(&signals.pause_request, request, __ATOMIC_RELAXED);
    do {
        port_sleep_us(100);
        port_mutex_lock(&pause_lock);
        all = parked == READERS;
        port_mutex_unlock(&pause_lock);
    } while (!all);
    check_parked(e, c, request);
    e->pauses++;
    port_mutex_lock(&pause_lock);
    parked = 0;
    __atomic_store_n(&signals.pause_request, 0, __ATOMIC_RELAXED);
    resume_generation++;
    port_mutex_unlock(&pause_lock);
}

static void evictor_main(void *arg)
{
    evictor *e = arg;
    smmap_cursor c;
    double start = port_now(), length = e->ms / 1000.0;
    int step = 0, pauses_done = 0, err;
    static const int pauses[3] = {PAUSE_HOLD, PAUSE_EMPTY, PAUSE_HOLD};
    static const char *hot_prefixes[3] = {"sw-hot-a", "sw-hot-b1", "sw-hot"};

    smmap_cursor_init(&c, cold.shared);
    for (;;) {
        double elapsed = port_now() - start;
        /* Pauses at a quarter, half and three quarters of the phase, in
         * time and in steps. */
        if (pauses_done < 3 && elapsed >= length * (pauses_done + 1) / 4 &&
            step >= min_steps * (pauses_done + 1) / 4) {
            pause_readers(e, &c, pauses[pauses_done++]);
            continue;
        }
        if (elapsed >= length && step >= min_steps && pauses_done == 3)
            break;
        /* Paced (a step every ~200 us, a collect every collect_every
         * steps) so that most switches of the readers find their window
         * cached. */
        switch (step % collect_every == 0                     ? STEP_COLLECT
                : step % collect_every == collect_every / 2 ? STEP_RELEASE
                                                            : step % 16) {
        case STEP_COLLECT:
            (void)collect(e);
            break;
        case STEP_RELEASE:
            err = release_path(e, hot_prefixes[step / collect_every % 3]);
            if (err != 0 && err != -EBUSY)
                fail(&e->fail, "release_path of hot files gave %d", err);
            break;
        case 8:
            /* Its own cursor holds a cold window: exactly -EBUSY. */
            if (c.data == NULL)
                map_cold(e, &c);
            err = release_path(e, "sw-cold");
            if (err != -EBUSY || release_path(e, "sw-") != -EBUSY)
                fail(&e->fail, "release_path of a held file gave %d", err);
            break;
        case 12:
            /* No cursor holds a cold window: exactly 0. */
            smmap_cursor_release(&c);
            err = release_path(e, "sw-cold");
            if (err != 0)
                fail(&e->fail, "release_path of a free file gave %d", err);
            break;
        case 14:
            err = release_path(e, "sw-none");
            if (err != 0)
                fail(&e->fail, "release_path of no file gave %d", err);
            break;
        default:
            map_cold(e, &c);
            break;
        }
        step++;
        sample(e);
        port_sleep_us(200);
    }
    smmap_cursor_release(&c);
    __atomic_store_n(&signals.stop, 1, __ATOMIC_RELAXED);
    port_mutex_lock(&pause_lock);
    finished++;
    port_mutex_unlock(&pause_lock);
}

/* After the threads: no cursor, no call in flight. Counts are exact. */
static void check_quiet(failures *f)
{
    enum { N = 8 };
    smmap_cursor held[N], again;
    smmap_stats st, before, now;
    size_t collected;
    char prefix[320];
    int k, err;

    smmap_manager_stats(manager, &st);
    check_budgets(f, &st, 1, 0);
    collected = smmap_manager_collect(manager);
    smmap_manager_stats(manager, &before);
    if (collected != st.regions || before.regions != 0 ||
        before.mapped_bytes != 0 || before.maps != before.unmaps ||
        before.files_mapped != 0)
        fail(f, "quiet collect: returned %lld of %lld regions",
             (long long)collected, (long long)st.regions);
    /* Eight whole windows: eight regions of exactly one window each. */
    for (k = 0; k < N; k++) {
        smmap_cursor_init(&held[k], hot[0].shared);
        err = smmap_cursor_use(&held[k], (uint64_t)k * window, (size_t)window);
        if (err != 0 || held[k].begin != (uint64_t)k * window ||
            held[k].size != window)
            fail(f, "quiet use of window %d gave %d", k, err);
    }
    smmap_manager_stats(manager, &now);
    if (now.regions != N || now.mapped_bytes != N * window ||
        now.maps != before.maps + N || now.files_mapped != 1 ||
        now.evictions != before.evictions || now.reuses != before.reuses)
        fail(f, "quiet: %lld regions after mapping %d windows",
             (long long)now.regions, N);
    /* A cached window is reused, not duplicated. */
    smmap_cursor_init(&again, hot[0].shared);
    err = smmap_cursor_use(&again, 3 * window + 5, 10);
    smmap_manager_stats(manager, &st);
    if (err != 0 || again.data != held[3].data || st.maps != now.maps ||
        st.reuses != now.reuses + 1 || st.regions != N)
        fail(f, "quiet reuse gave %d, %lld maps", err,
             (long long)(st.maps - now.maps));
    prefix_of(prefix, sizeof(prefix), "sw-hot-a");
    err = smmap_manager_release_path(manager, prefix);
    smmap_manager_stats(manager, &st);
    if (err != -EBUSY || st.regions != N || st.unmaps != now.unmaps)
        fail(f, "quiet release_path of held windows gave %d", err);
    smmap_cursor_release(&again);
    for (k = 0; k < N; k++)
        smmap_cursor_release(&held[k]);
    smmap_manager_stats(manager, &st);
    if (st.regions != N || st.mapped_bytes != N * window)
        fail(f, "quiet: released windows not cached: %lld regions",
             (long long)st.regions);
    err = smmap_manager_release_path(manager, prefix);
    smmap_manager_stats(manager, &st);
    if (err != 0 || st.regions != 0 || st.mapped_bytes != 0 ||
        st.unmaps != now.unmaps + N || st.files_mapped != 0)
        fail(f, "quiet release_path gave %d, left %lld regions", err,
             (long long)st.regions);
    prefix_of(prefix, sizeof(prefix), "sw-");
    err = smmap_manager_release_path(manager, prefix);
    smmap_manager_stats(manager, &st);
    if (err != 0 || st.open_fds != 0)
        fail(f, "quiet release_path of every file gave %d, %lld fds", err,
             (long long)st.open_fds);
}

static int report(const char *name, const char *who, long id,
                  const failures *f)
{
    if (f->count == 0)
        return 0;
    fprintf(stderr, "%s: %s %ld: %ld failures, first: %s\n", name, who, id,
            f->count, f->first);
    return 1;
}

int switching_run(const char *name, uint32_t extra_flags, unsigned ms,
                  int timeout)
{
    evictor e;
    failures quiet;
    smmap_stats st;
    double deadline;
    long ops = 0, holds = 0, through = 0, copies = 0, copies_through = 0;
    long switches = 0;
    long long bytes = 0;
    int i, err, bad = 0, exercised;

    collect_every = ms < 1000 ? 32 : 64;
    min_steps = ms < 1000 ? 160 : 512;
    smmap_options_init(&options);
    options.window_size = window;
    /* The hot set (HOT_WINDOWS of each file) fits; with the readers' other
     * windows and the evictor's cold ones it does not. The pinned windows
     * (two per reader, one for the evictor) and the maps in flight are far
     * below both budgets. */
    options.max_mapped = (uint64_t)(MAX_REGIONS - 8) * window + window / 2;
    options.max_regions = MAX_REGIONS;
    options.max_open_files = 3;
    options.flags = SMMAP_HARD_LIMITS | extra_flags;
    err = smmap_manager_new(&manager, &options);
    if (err != 0) {
        fprintf(stderr, "%s: manager_new gave %d\n", name, err);
        return 1;
    }
    for (i = 0; i < HOT_FILES; i++)
        if ((err = smmap_file_open(manager, hot[i].path, &hot[i].shared)) != 0)
            break;
    if (err == 0)
        err = smmap_file_open(manager, cold.path, &cold.shared);
    if (err != 0) {
        fprintf(stderr, "%s: open gave %d\n", name, err);
        return 1;
    }
    memset(&signals, 0, sizeof(signals));
    SW_HG_DISABLE_CHECKING(&signals, sizeof(signals));
    port_mutex_init(&pause_lock);
    parked = resume_generation = finished = 0;
    memset(&e, 0, sizeof(e));
    e.rng = 0x5EED5EEDull;
    e.ms = ms;
    for (i = 0; i < READERS; i++) {
        reader *r = &readers[i];
        int k;
        memset(r, 0, sizeof(*r));
        r->id = i;
        r->rng = 0x9876543ull * (uint64_t)(i + 1) + 7;
        for (k = 0; i % 2 == 1 && k < HOT_FILES; k++)
            if (smmap_file_open(manager, hot[k].path, &r->own[k]) != 0)
                fail(&r->fail, "open of own handle %d", k);
    }
    for (i = 0; i < READERS; i++)
        if (port_thread_start(&readers[i].thread, reader_main, &readers[i]))
            break;
    if (i < READERS || port_thread_start(&e.thread, evictor_main, &e) != 0) {
        fprintf(stderr, "%s: could not start the threads\n", name);
        printf("0 passed, 1 failed\n");
        fflush(NULL);
        _Exit(1);
    }
    /* The watchdog, as in test_threads.c: a deadlock fails the test. */
    deadline = port_now() + ms / 1000.0 + timeout;
    for (;;) {
        int done;
        port_mutex_lock(&pause_lock);
        done = finished == READERS + 1;
        port_mutex_unlock(&pause_lock);
        if (done)
            break;
        if (port_now() > deadline) {
            fprintf(stderr, "%s: the threads did not finish in %d s: "
                    "deadlock or livelock\n", name, timeout);
            printf("0 passed, 1 failed\n");
            fflush(NULL);
            _Exit(1);
        }
        port_sleep_us(10000);
    }
    for (i = 0; i < READERS; i++)
        port_thread_join(&readers[i].thread);
    port_thread_join(&e.thread);

    for (i = 0; i < READERS; i++) {
        reader *r = &readers[i];
        int k;
        ops += r->ops;
        bytes += r->bytes_checked;
        holds += r->holds;
        through += r->holds_through;
        copies += r->copies;
        copies_through += r->copies_through;
        switches += r->switches;
        bad |= report(name, "reader", i, &r->fail);
        for (k = 0; k < HOT_FILES; k++)
            smmap_file_close(r->own[k]);
    }
    bad |= report(name, "evictor", 0, &e.fail);
    smmap_manager_stats(manager, &st);
    printf("threads: %s: %d readers, %ld operations, %lld bytes checked, "
           "%llu maps, %llu evictions, %llu reuses, %llu read windows, "
           "%llu direct reads, peak %u regions and %llu bytes; evictor: %ld "
           "collects, %ld cold maps, release_path 0 %ld times on hot files "
           "and %ld on others, -EBUSY %ld times, %ld pauses, %ld stats; "
           "readers: %ld holds (%ld through a collect), %ld copies (%ld "
           "through a collect), %ld file switches\n",
           name, READERS, ops, bytes, (unsigned long long)st.maps,
           (unsigned long long)st.evictions, (unsigned long long)st.reuses,
           (unsigned long long)st.read_windows,
           (unsigned long long)st.direct_reads, st.peak_regions,
           (unsigned long long)st.peak_mapped_bytes, e.collects, e.cold_maps,
           e.release_hot_ok, e.release_other_ok, e.release_busy, e.pauses,
           e.samples, holds, through, copies, copies_through, switches);
    /* What the phase must have exercised. Under SMMAP_ALWAYS_MAP, the
     * evictions of cached windows; under the read policy, the misses it
     * serves by pread (pressure windows and direct reads): once it serves
     * them so, nothing need be evicted (a run of the CI simulation had 0
     * evictions there, other runs 2 to 11). */
    exercised = (extra_flags & SMMAP_ALWAYS_MAP)
                    ? st.evictions > 0
                    : st.read_windows > 0 && st.direct_reads > 0;
    if (!exercised || st.reuses == 0 || bytes == 0 || e.pauses != 3 ||
        through == 0 || copies_through == 0) {
        fprintf(stderr, "%s: nothing evicted (or served by pread under the "
                "read policy), reused or checked, or no window held through "
                "a collect: the phase tests too little\n",
                name);
        bad = 1;
    }
    memset(&quiet, 0, sizeof(quiet));
    check_quiet(&quiet);
    bad |= report(name, "after the threads", 0, &quiet);
    for (i = 0; i < HOT_FILES; i++)
        smmap_file_close(hot[i].shared);
    smmap_file_close(cold.shared);
    smmap_manager_stats(manager, &st);
    if (st.regions != 0 || st.mapped_bytes != 0 || st.files != 0 ||
        st.open_fds != 0) {
        fprintf(stderr, "%s: after closing: %u regions, %llu bytes, %u "
                "files, %u descriptors\n", name, st.regions,
                (unsigned long long)st.mapped_bytes, st.files, st.open_fds);
        bad = 1;
    }
    smmap_manager_free(manager);
    port_mutex_destroy(&pause_lock);
    return bad;
}
