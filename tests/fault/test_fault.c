/*
 * test_fault.c - fault injection through the OS table (issue 3, item 2).
 *
 * Every entry of smmap__os that can fail is wrapped with a counter (open,
 * dup, close, fstat, map, unmap, pread, malloc with free tracking, advise,
 * the guarded copy). A clean run of a scripted workload counts the calls per
 * site; then, for every site, every N up to its count and every errno
 * (ENOMEM, EMFILE, ENFILE, EACCES, EIO, EINTR, on Windows EPERM instead of
 * ENFILE; malloc returns NULL, the guarded copy -EIO as after a
 * truncation), the workload runs again with the Nth call of that site
 * failing once. All of it in three configurations: mapped windows, the read
 * backend (pread into heap windows), and the default read policy
 * (smmap_read may pread directly). Each time:
 *   - every public call returns 0 or exactly the injected error; a call that
 *     succeeds although the fault hit a system call it depends on must have
 *     recovered through the documented retry (stats.retries + 1), except for
 *     close and munmap, whose failures the library may only ignore;
 *   - after every call the counters are exact: regions and mapped bytes equal
 *     the regions in the files' trees, open_fds equals the descriptors the
 *     entries hold and the descriptors the table saw opened and not closed,
 *     regions equal the mappings the table saw made and not unmapped;
 *   - with the fault off, the same workload on the same manager succeeds
 *     with exactly the clean run's counters (except under the read policy,
 *     whose moving average remembers the faulted run), and after closing
 *     everything there are zero regions, descriptors, mappings and
 *     allocations.
 * SMMAP_TEST_QUICK (valgrind, mutation runs) injects at the first three
 * calls, every fifth and the last; --every N does the same with every Nth
 * (the Windows suite, where Wine makes each system call a round trip to
 * its server). The calls left out are counted and printed, not passed.
 *
 * Usage: test_fault [--every N]
 *
 * On Windows the same table entries are wrapped (os_win32.c fills the same
 * smmap_os), with the same errnos: they are what os_win32.c translates
 * Windows errors into, and the library above the table does not know which
 * system it runs on. Windows has no advice (advise succeeds or says
 * -EOPNOTSUPP for populate, and is never fatal) and pages are 64 KiB.
 */
#include "smmap_int.h"
#include "../portable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum site {
    S_OPEN,
    S_DUP,
    S_CLOSE,
    S_FSTAT,
    S_MAP,
    S_UNMAP,
    S_PREAD,
    S_MALLOC,
    S_ADVISE,
    S_COPY,
    S_COUNT
};
static const char *const site_names[S_COUNT] = {
    "open_ro", "dup_fd", "close", "fstat",  "map",
    "unmap",   "pread",  "malloc", "advise", "guarded_copy"};

static unsigned long calls[S_COUNT];
static int fault_site = -1;
static unsigned long fault_at;
static int fault_err;
static int fault_fired;
static long live_allocs, live_fds, live_maps;

static int failures;
static const char *context = "";

#define EXPECT(cond, ...)                                                    \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: [%s] ", __FILE__, __LINE__, context);    \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
            failures++;                                                      \
        }                                                                    \
    } while (0)

static int should_fail(enum site s)
{
    calls[s]++;
    if (fault_site == (int)s && calls[s] == fault_at) {
        fault_fired = 1;
        return 1;
    }
    return 0;
}

static int w_open(const char *path, smmap_os_fd *out)
{
    int err;
    if (should_fail(S_OPEN))
        return -fault_err;
    err = smmap__os_default.open_ro(path, out);
    if (err == 0)
        live_fds++;
    return err;
}

static int w_dup(int fd, smmap_os_fd *out)
{
    int err;
    if (should_fail(S_DUP))
        return -fault_err;
    err = smmap__os_default.dup_fd(fd, out);
    if (err == 0)
        live_fds++;
    return err;
}

/* close and munmap act, then report the fault: on Linux a descriptor is
 * gone after close() whatever it returns. */
static int w_close(smmap_os_fd fd)
{
    int fail = should_fail(S_CLOSE);
    int err = smmap__os_default.close(fd);
    live_fds--;
    return fail ? -fault_err : err;
}

static int w_fstat(smmap_os_fd fd, smmap_os_stat *out)
{
    if (should_fail(S_FSTAT))
        return -fault_err;
    return smmap__os_default.fstat(fd, out);
}

static int w_map(smmap_os_fd fd, uint64_t off, size_t len, void **out)
{
    int err;
    if (should_fail(S_MAP))
        return -fault_err;
    err = smmap__os_default.map(fd, off, len, out);
    if (err == 0)
        live_maps++;
    return err;
}

static int w_unmap(void *addr, size_t len)
{
    int fail = should_fail(S_UNMAP);
    int err = smmap__os_default.unmap(addr, len);
    live_maps--;
    return fail ? -fault_err : err;
}

/* pread may also be made to return short counts (as it may for any file),
 * and its "fault" 0 is an end of file before the handle's size: what a
 * truncation by another process looks like to a read. */
static int short_preads;

static int64_t w_pread(smmap_os_fd fd, void *buf, size_t len, uint64_t off)
{
    if (should_fail(S_PREAD))
        return fault_err == 0 ? 0 : -fault_err;
    if (short_preads && len > 100)
        len = 100;
    return smmap__os_default.pread(fd, buf, len, off);
}

static void *w_malloc(size_t size)
{
    void *p;
    if (should_fail(S_MALLOC))
        return NULL;
    p = smmap__os_default.malloc(size);
    if (p != NULL)
        live_allocs++;
    return p;
}

static void w_free(void *p)
{
    if (p != NULL)
        live_allocs--;
    smmap__os_default.free(p);
}

static int w_advise(void *addr, size_t len, int advice)
{
    if (should_fail(S_ADVISE))
        return -fault_err;
    return smmap__os_default.advise(addr, len, advice);
}

/* A failed guarded copy is what a truncation under smmap_read looks like. */
static int64_t w_copy(void *dst, const void *src, size_t len)
{
    if (should_fail(S_COPY))
        return -EIO;
    return smmap__os_default.guarded_copy(dst, src, len);
}

static void install_wrappers(void)
{
    smmap__os.advise = w_advise;
    smmap__os.guarded_copy = w_copy;
    smmap__os.open_ro = w_open;
    smmap__os.dup_fd = w_dup;
    smmap__os.close = w_close;
    smmap__os.fstat = w_fstat;
    smmap__os.map = w_map;
    smmap__os.unmap = w_unmap;
    smmap__os.pread = w_pread;
    smmap__os.malloc = w_malloc;
    smmap__os.free = w_free;
}

/* ------------------------------------------------------------- files */

#define SMALL_FILES 17 /* one more than the initial hash table */

static char dir[256];
static uint64_t page;
static struct {
    char path[320];
    uint64_t size;
    int fd; /* ours, for pread; opened without the table */
} files[3 + SMALL_FILES];

static int make_files(void)
{
    int i;
    /* The library's granularity: the page on POSIX, 64 KiB on Windows. */
    page = smmap__os_default.granularity();
    if (page > 65536) {
        fprintf(stderr, "granularity %llu: the workload's buffer holds 4 "
                "windows of at most 64 KiB\n", (unsigned long long)page);
        return -1;
    }
    if (port_make_temp_dir(dir, sizeof(dir), "smmap-fault") != 0)
        return -1;
    for (i = 0; i < 3 + SMALL_FILES; i++) {
        uint64_t size = i == 0 ? 5 * page + 100 : i == 1 ? 8 * page
                        : i == 2 ? 3 * page : page - (uint64_t)i;
        unsigned char *buf = malloc(size);
        uint64_t k;
        snprintf(files[i].path, sizeof(files[i].path), "%s" PORT_SEP "file%d",
                 dir, i);
        files[i].size = size;
        if (buf == NULL)
            return -1;
        for (k = 0; k < size; k++)
            buf[k] = (unsigned char)(k * 131 + (k >> 8) * 7 + (uint64_t)i * 29);
        if (port_write_file(files[i].path, buf, (size_t)size) != 0) {
            free(buf);
            return -1;
        }
        free(buf);
        files[i].fd = port_open_read(files[i].path);
        if (files[i].fd < 0)
            return -1;
    }
    return 0;
}

static void remove_files(void)
{
    int i;
    for (i = 0; i < 3 + SMALL_FILES; i++) {
        port_close(files[i].fd);
        port_remove_file(files[i].path);
    }
    port_remove_dir(dir);
}

static int bytes_match(int file, uint64_t off, const unsigned char *p,
                       size_t n)
{
    unsigned char buf[65536];
    while (n > 0) {
        size_t k = n < sizeof(buf) ? n : sizeof(buf);
        if (port_pread(files[file].fd, buf, k, off) != (int64_t)k ||
            memcmp(buf, p, k) != 0)
            return 0;
        p += k;
        off += k;
        n -= k;
    }
    return 1;
}

/* ------------------------------------------------------ consistency */

#define MAX_HANDLES (4 + SMALL_FILES)

typedef struct workload {
    smmap_manager *m;
    smmap_file *h[MAX_HANDLES];
    smmap_stats final; /* counters before the closes, for the rerun */
} workload;

static void sum_tree(const smmap_region *n, uint64_t *bytes, uint32_t *count,
                     uint32_t *mapped)
{
    if (n == NULL)
        return;
    *bytes += n->size;
    (*count)++;
    *mapped += !n->heap;
    sum_tree(n->left, bytes, count, mapped);
    sum_tree(n->right, bytes, count, mapped);
}

/* Pressure windows (held while every budget is spent) live outside the
 * tree, in the entry's transients list. */
static void sum_transients(const smmap_region *r, uint64_t *bytes,
                           uint32_t *count, uint32_t *mapped)
{
    for (; r != NULL; r = r->lru_next) {
        *bytes += r->size;
        (*count)++;
        *mapped += !r->heap;
    }
}

/* The counters against the structures and the table's own counts. */
static void check_exact(workload *w)
{
    smmap_entry *seen[MAX_HANDLES];
    int nseen = 0, i, j;
    uint64_t bytes = 0;
    uint32_t regions = 0, fds = 0, mappings = 0;
    smmap_stats st;

    smmap_manager_stats(w->m, &st);
    for (i = 0; i < MAX_HANDLES; i++) {
        smmap_entry *e;
        if (w->h[i] == NULL)
            continue;
        e = w->h[i]->entry;
        for (j = 0; j < nseen && seen[j] != e; j++)
            ;
        if (j < nseen)
            continue;
        seen[nseen++] = e;
        sum_tree(e->tree, &bytes, &regions, &mappings);
        sum_transients(e->transients, &bytes, &regions, &mappings);
        fds += e->fd != SMMAP_OS_NO_FD;
    }
    EXPECT(st.regions == regions, "stats.regions %u, trees hold %u",
           st.regions, regions);
    EXPECT(st.mapped_bytes == bytes, "stats.mapped_bytes %llu, trees hold %llu",
           (unsigned long long)st.mapped_bytes, (unsigned long long)bytes);
    EXPECT(st.open_fds == fds, "stats.open_fds %u, entries hold %u",
           st.open_fds, fds);
    EXPECT((long)st.open_fds == live_fds,
           "stats.open_fds %u, the table saw %ld open", st.open_fds, live_fds);
    EXPECT((long)mappings == live_maps,
           "%u mapped regions (not read-backed), the table saw %ld mappings",
           mappings, live_maps);
    EXPECT(st.files == (uint32_t)nseen, "stats.files %u, %d entries",
           st.files, nseen);
    EXPECT(st.regions <= 4, "%u regions over max_regions 4", st.regions);
}

/*
 * Check one public call's result. fired_before: whether the fault had fired
 * before the call; retries_before: stats.retries before it.
 */
static int judge(workload *w, const char *what, long result, int fired_before,
                 uint64_t retries_before, uint32_t no_mmap_before)
{
    smmap_stats st;
    int fired_now = fault_fired && !fired_before;
    smmap_manager_stats(w->m, &st);
    int eof = fault_site == S_PREAD && fault_err == 0;
    /* What the header promises to recover from: mmap ENOMEM/EMFILE/ENFILE
     * and open (and dup) EMFILE/ENFILE by collecting and retrying once, mmap
     * EACCES/ENODEV/EINVAL by the read backend. With one failed call, the
     * public call must succeed. */
    int must_recover = fired_now &&
        ((fault_site == S_MAP && (fault_err == ENOMEM || fault_err == EMFILE ||
                                  fault_err == ENFILE || fault_err == EACCES ||
                                  fault_err == ENODEV || fault_err == EINVAL)) ||
         ((fault_site == S_OPEN || fault_site == S_DUP) &&
          (fault_err == EMFILE || fault_err == ENFILE)));
    if (result < 0 && !fired_now && fired_before &&
        (fault_site == S_COPY || eof) &&
        (result == -ESTALE || result == -EIO)) {
        /* A failed guarded copy or a truncation seen by a read records
         * the file's end: no new windows for the handle (-ESTALE), no
         * read of bytes past that end (-EIO). */
    } else if (result < 0 && fired_now && eof) {
        /* The read backend's window fill says -ESTALE; a direct read says
         * -EIO and marks the file changed. */
        EXPECT(result == -ESTALE || result == -EIO,
               "%s gave %ld after pread hit EOF early", what, result);
        EXPECT(st.retries == retries_before, "%s: retries moved", what);
    } else if (result < 0 && must_recover) {
        EXPECT(0, "%s gave %ld: %s %d must be recovered by the retry", what,
               result, site_names[fault_site], -fault_err);
    } else if (result < 0) {
        EXPECT(fired_now, "%s failed with %ld without a fault", what, result);
        if (fired_now)
            EXPECT(result == -fault_err ||
                       (fault_site == S_MALLOC && result == -ENOMEM),
                   "%s gave %ld, the injected error was %d", what, result,
                   -fault_err);
        EXPECT(st.retries == retries_before,
               "%s failed but retries went %llu -> %llu", what,
               (unsigned long long)retries_before,
               (unsigned long long)st.retries);
    } else if (fired_now && fault_site == S_MAP &&
               (fault_err == EACCES || fault_err == ENODEV ||
                fault_err == EINVAL)) {
        /* mmap refused for the file system: the read backend takes over. */
        EXPECT(st.files_no_mmap == no_mmap_before + 1,
               "%s: map EACCES but files_no_mmap %u -> %u", what,
               no_mmap_before, st.files_no_mmap);
        EXPECT(st.retries == retries_before, "%s: retries %llu -> %llu",
               what, (unsigned long long)retries_before,
               (unsigned long long)st.retries);
    } else if (fired_now && fault_site == S_MALLOC) {
        /* A buffer of the read backend is retried like any refusal; the
         * hash table's growth is optional; nothing else may succeed. */
        EXPECT(st.retries == retries_before ||
                   st.retries == retries_before + 1,
               "%s: retries %llu -> %llu after a malloc failure", what,
               (unsigned long long)retries_before,
               (unsigned long long)st.retries);
    } else if (fired_now && fault_site != S_CLOSE &&
               fault_site != S_UNMAP && fault_site != S_ADVISE) {
        /* A system call the library needed failed, yet the call worked:
         * only the collect-and-retry may explain that. */
        int refusal = !eof && (fault_err == ENOMEM || fault_err == EMFILE ||
                               fault_err == ENFILE);
        EXPECT(refusal, "%s succeeded although %s failed with %d", what,
               site_names[fault_site], -fault_err);
        EXPECT(st.retries == retries_before + 1,
               "%s recovered from %s %d: retries %llu -> %llu, expected +1",
               what, site_names[fault_site], -fault_err,
               (unsigned long long)retries_before,
               (unsigned long long)st.retries);
    } else {
        EXPECT(st.retries == retries_before,
               "%s: retries %llu -> %llu without a refusal", what,
               (unsigned long long)retries_before,
               (unsigned long long)st.retries);
    }
    check_exact(w);
    return result >= 0;
}

/* The state before a call, for judge(). */
static int call_fired;
static uint64_t call_retries;
static uint32_t call_no_mmap;

static int before_call(workload *w)
{
    smmap_stats st;
    smmap_manager_stats(w->m, &st);
    call_fired = fault_fired;
    call_retries = st.retries;
    call_no_mmap = st.files_no_mmap;
    return 0;
}

static long after_call(workload *w, const char *what, long result)
{
    judge(w, what, result, call_fired, call_retries, call_no_mmap);
    return result;
}

/* The comma operator orders the snapshot, the call and the judgement. */
#define CALL(w, what, expr)                                                  \
    (before_call(w), after_call((w), (what), (long)(expr)))

/* A cursor's use: on success the window must hold the right bytes. */
static void check_cursor(smmap_cursor *c, int file, uint64_t off, long r)
{
    if (r != 0)
        return;
    EXPECT(c->data != NULL && smmap_cursor_includes(c, off),
           "cursor does not include %llu", (unsigned long long)off);
    if (c->data != NULL && smmap_cursor_includes(c, off))
        EXPECT(bytes_match(file, off, c->data + (off - c->begin), 1),
               "wrong byte at %llu of file %d", (unsigned long long)off, file);
}

/*
 * The scripted workload: opens (path, a second spelling, descriptor),
 * cursors that evict and reuse, a multi-window read, copy, collect,
 * release_path busy then free, reopen of closed descriptors, seventeen
 * more files (the hash table grows), then releases and closes all.
 */
static void run_workload(workload *w)
{
    smmap_cursor c[6];
    char spelled[400];
    /* Room for the multi-window read of 4 pages (64 KiB pages on
     * Windows). */
    static unsigned char buf[4 * 65536];
    long r;
    int i, fd;

    memset(w->h, 0, sizeof(w->h));
    for (i = 0; i < 6; i++)
        smmap_cursor_init(&c[i], NULL);

    CALL(w, "open A", smmap_file_open(w->m, files[0].path, &w->h[0]));
    snprintf(spelled, sizeof(spelled), "%s" PORT_SEP "." PORT_SEP "file0",
             dir);
    CALL(w, "open A again", smmap_file_open(w->m, spelled, &w->h[1]));
    fd = port_open_read(files[1].path);
    CALL(w, "open_fd B", smmap_file_open_fd(w->m, fd, &w->h[2]));
    port_close(fd);
    CALL(w, "open C", smmap_file_open(w->m, files[2].path, &w->h[3]));

    for (i = 0; i < 4; i++)
        smmap_cursor_init(&c[i], w->h[i]);
    if (w->h[0]) {
        r = CALL(w, "use A 0", smmap_cursor_use(&c[0], 0, 1));
        check_cursor(&c[0], 0, 0, r);
    }
    if (w->h[2]) {
        r = CALL(w, "use B 3p", smmap_cursor_use(&c[2], 3 * page, 10));
        check_cursor(&c[2], 1, 3 * page, r);
        smmap_cursor_release(&c[2]); /* B's region stays as a cache */
    }
    if (w->h[3]) {
        const unsigned char *p;
        before_call(w);
        p = smmap_cursor_at(&c[3], page + 5, 100);
        after_call(w, "at C", p != NULL ? 0 : c[3].error);
        if (p != NULL)
            EXPECT(bytes_match(2, page + 5, p, 100), "at C: wrong bytes");
    }
    if (w->h[1]) {
        r = CALL(w, "read A", smmap_read(&c[1], page - 10, buf, 4 * page));
        if (r >= 0) {
            EXPECT(r == (long)(4 * page), "read A gave %ld", r);
            EXPECT(bytes_match(0, page - 10, buf, (size_t)r),
                   "read A: wrong bytes");
        }
        smmap_cursor_release(&c[1]);
    }
    if (w->h[2]) {
        /* Scattered small reads: each window serves one read and is
         * evicted, which (without SMMAP_ALWAYS_MAP) turns the read policy
         * to direct preads. */
        smmap_cursor_init(&c[1], w->h[2]);
        for (i = 0; i < 30; i++) {
            uint64_t off = (uint64_t)(i * 5 % 8) * page + 3;
            r = CALL(w, "scattered read B", smmap_read(&c[1], off, buf, 16));
            if (r == -EIO && fault_site == S_PREAD && fault_err == 0)
                EXPECT(w->h[2]->entry->seen_end <= off + 16,
                       "a read at %llu that found the file ending early did "
                       "not record an end before it (seen_end %llu)",
                       (unsigned long long)off,
                       (unsigned long long)w->h[2]->entry->seen_end);
            if (r >= 0) {
                EXPECT(r == 16, "scattered read B gave %ld", r);
                EXPECT(bytes_match(1, off, buf, 16),
                       "scattered read B: wrong bytes at %llu",
                       (unsigned long long)off);
            }
        }
        smmap_cursor_release(&c[1]);
        smmap_cursor_init(&c[1], w->h[1]);
    }
    smmap_cursor_copy(&c[4], &c[0]);
    EXPECT(c[4].data == c[0].data && c[4].size == c[0].size,
           "copy differs from its source");
    check_exact(w);
    smmap_cursor_release(&c[0]);
    if (w->h[0]) {
        r = CALL(w, "use A 4p", smmap_cursor_use(&c[0], 4 * page, page + 50));
        check_cursor(&c[0], 0, 4 * page, r);
    }
    CALL(w, "collect", (long)smmap_manager_collect(w->m));
    smmap_cursor_release(&c[2]);
    if (w->h[3]) {
        /* No system call here: -EBUSY is the answer, not a fault. */
        r = smmap_manager_release_path(w->m, files[2].path);
        EXPECT(r == (c[3].data != NULL ? -EBUSY : 0),
               "release_path C gave %ld with the cursor %s", r,
               c[3].data != NULL ? "holding" : "empty");
        check_exact(w);
        smmap_cursor_release(&c[3]);
        r = CALL(w, "release_path C",
                 smmap_manager_release_path(w->m, files[2].path));
        EXPECT(r == 0, "release_path C gave %ld", r);
        r = CALL(w, "use C after release",
                 smmap_cursor_use(&c[3], 2 * page + 1, 0));
        check_cursor(&c[3], 2, 2 * page + 1, r);
    }
    for (i = 0; i < SMALL_FILES; i++) {
        CALL(w, "open small",
             smmap_file_open(w->m, files[3 + i].path, &w->h[4 + i]));
    }
    for (i = 0; i < SMALL_FILES; i++) {
        if (w->h[4 + i] == NULL)
            continue;
        smmap_cursor_init(&c[5], w->h[4 + i]);
        r = CALL(w, "use small", smmap_cursor_use(&c[5], 7, 3));
        check_cursor(&c[5], 3 + i, 7, r);
        smmap_cursor_release(&c[5]);
    }
    for (i = 0; i < 6; i++)
        smmap_cursor_release(&c[i]);
    smmap_manager_stats(w->m, &w->final);
    for (i = 0; i < MAX_HANDLES; i++) {
        smmap_file *f = w->h[i];
        w->h[i] = NULL;
        smmap_file_close(f);
        check_exact(w);
    }
}

/* Configuration 0 maps every window (with advice and prefaulting, so
 * advise is called); 1 is the read backend (pread instead of mmap); 2 is
 * the default read policy, where smmap_read may pread directly instead of
 * mapping, by a moving average of what evicted windows served. That
 * average carries the faulted run's history into the rerun, so in 2 the
 * rerun must succeed and end clean but need not repeat the clean counters. */
#define CONFIGS 3
static int config;
static const char *const config_names[CONFIGS] = {"mmap", "read backend",
                                                  "read policy"};

static smmap_options workload_options(void)
{
    smmap_options o;
    smmap_options_init(&o);
    o.window_size = 2 * page;
    o.max_mapped = 4 * page;
    o.max_regions = 4;
    o.max_open_files = 1;
    if (config == 0) {
        o.flags = SMMAP_POPULATE | SMMAP_ALWAYS_MAP;
        o.advice = SMMAP_ADVICE_RANDOM;
    } else if (config == 1) {
        o.flags = SMMAP_NO_MMAP | SMMAP_ALWAYS_MAP;
    }
    return o;
}

/* The counters the rerun must repeat exactly (the ones that count work, not
 * the peaks or the retries of the faulted run). */
static void stats_delta(const smmap_stats *a, const smmap_stats *b,
                        uint64_t out[8])
{
    out[0] = b->maps - a->maps;
    out[1] = b->unmaps - a->unmaps;
    out[2] = b->evictions - a->evictions;
    out[3] = b->reuses - a->reuses;
    out[4] = b->fd_closes - a->fd_closes;
    out[5] = b->fd_reopens - a->fd_reopens;
    out[6] = b->retries - a->retries;
    out[7] = b->mapped_bytes;
}

static uint64_t baseline[CONFIGS][8];
static unsigned long first_run_calls[S_COUNT];
static int first_run_fired;

/* One trial: the workload with the fault armed for site/at/err (site -1:
 * none), then again on the same manager with the fault off. */
static void trial(int site, unsigned long at, int err, int record_baseline)
{
    workload w;
    smmap_options o = workload_options();
    smmap_stats before;
    uint64_t delta[8];
    int rc, i;

    memset(calls, 0, sizeof(calls));
    fault_site = site;
    fault_at = at;
    fault_err = err;
    fault_fired = 0;
    memset(&w, 0, sizeof(w));
    rc = smmap_manager_new(&w.m, &o);
    if (rc != 0) {
        EXPECT(fault_fired && fault_site == S_MALLOC && rc == -ENOMEM,
               "manager_new gave %d", rc);
        EXPECT(w.m == NULL, "manager_new failed but set *out");
        fault_site = -1;
        rc = smmap_manager_new(&w.m, &o);
        EXPECT(rc == 0, "manager_new without a fault gave %d", rc);
        if (rc != 0)
            return;
        /* The rerun below is compared with the clean run's second pass on
         * one manager: give this manager its first pass. */
        run_workload(&w);
    } else {
        run_workload(&w);
    }
    memcpy(first_run_calls, calls, sizeof(calls));
    first_run_fired = fault_fired;
    /* The fault is off: the same workload must now run as the clean one. */
    fault_site = -1;
    smmap_manager_stats(w.m, &before);
    run_workload(&w);
    stats_delta(&before, &w.final, delta);
    if (record_baseline) {
        memcpy(baseline[config], delta, sizeof(baseline[config]));
    } else if (config != 2) {
        for (i = 0; i < 8; i++)
            EXPECT(delta[i] == baseline[config][i],
                   "rerun counter %d is %llu, the clean run had %llu", i,
                   (unsigned long long)delta[i],
                   (unsigned long long)baseline[config][i]);
    }
    smmap_manager_stats(w.m, &before);
    EXPECT(before.regions == 0 && before.open_fds == 0 && before.files == 0 &&
               before.mapped_bytes == 0,
           "after closing: %u regions, %u descriptors, %u files",
           before.regions, before.open_fds, before.files);
    smmap_manager_free(w.m);
    EXPECT(live_allocs == 0, "%ld allocations leaked", live_allocs);
    EXPECT(live_fds == 0, "%ld descriptors leaked", live_fds);
    EXPECT(live_maps == 0, "%ld mappings leaked", live_maps);
    live_allocs = live_fds = live_maps = 0;
}

/* The errnos injected at a site: the six of the issue for the system calls;
 * a guarded copy fails one way (-EIO), malloc one way (NULL). */
static int errnos_for(int site, const int **list)
{
#ifdef _WIN32
    /* What os_win32.c translates Windows errors into: no ENFILE there
     * (Windows has no system-wide handle table limit to report), but EPERM
     * (ERROR_PRIVILEGE_NOT_HELD). */
#define SYSCALL_ERRNOS ENOMEM, EMFILE, EPERM, EACCES, EIO, EINTR
#else
#define SYSCALL_ERRNOS ENOMEM, EMFILE, ENFILE, EACCES, EIO, EINTR
#endif
    static const int six[] = {SYSCALL_ERRNOS};
    static const int eio[] = {EIO};
    static const int nomem[] = {ENOMEM};
    static const int pread_faults[] = {SYSCALL_ERRNOS, 0 /* early EOF */};
    /* mmap also says "this file system cannot map" (ENODEV, EINVAL; on
     * Windows ERROR_NOT_SUPPORTED, ERROR_INVALID_PARAMETER): the file moves
     * to the read backend like after EACCES. */
    static const int map_faults[] = {SYSCALL_ERRNOS, ENODEV, EINVAL};
#undef SYSCALL_ERRNOS
    if (site == S_PREAD) {
        *list = pread_faults;
        return 7;
    }
    if (site == S_MAP) {
        *list = map_faults;
        return 8;
    }
    if (site == S_COPY) {
        *list = eio;
        return 1;
    }
    if (site == S_MALLOC) {
        *list = nomem;
        return 1;
    }
    *list = six;
    return 6;
}

int main(int argc, char **argv)
{
    unsigned long counts[CONFIGS][S_COUNT], n, injected = 0, left_out = 0;
    unsigned long every = getenv("SMMAP_TEST_QUICK") != NULL ? 5 : 1;
    int s, e, i;
    char ctx[160];

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--every") == 0 && i + 1 < argc) {
            every = strtoul(argv[++i], NULL, 0);
            if (every == 0)
                every = 1;
        } else {
            fprintf(stderr, "usage: %s [--every N]\n", argv[0]);
            return 2;
        }
    }

    if (make_files() != 0) {
        fprintf(stderr, "could not create the test files\n");
        return 1;
    }
    install_wrappers();
    for (config = 0; config < CONFIGS; config++) {
        context = config_names[config];
        trial(-1, 0, 0, 1);
        memcpy(counts[config], first_run_calls, sizeof(counts[config]));
        for (s = 0; s < S_COUNT; s++)
            printf("fault: %s: %-12s %lu calls in the workload\n",
                   config_names[config], site_names[s],
                   counts[config][s]);
    }
    if (failures != 0) {
        fprintf(stderr, "the clean workload failed\n");
        remove_files();
        printf("0 passed, 1 failed\n");
        return 1;
    }
    for (config = 0; config < CONFIGS; config++) {
        for (s = 0; s < S_COUNT; s++) {
            const int *list;
            int nerr = errnos_for(s, &list);
            for (n = 1; n <= counts[config][s]; n++) {
                /* Sampled (valgrind, Wine): the first three calls, every
                 * Nth and the last: the code paths are the same, the time
                 * is not. */
                if (every > 1 && n > 3 && n % every != 1 &&
                    n != counts[config][s]) {
                    left_out += (unsigned long)nerr;
                    continue;
                }
                for (e = 0; e < nerr; e++) {
                    snprintf(ctx, sizeof(ctx), "%s: %s call %lu fails with %s",
                             config_names[config], site_names[s],
                             n, s == S_MALLOC ? "NULL"
                                : list[e] == 0 ? "EOF (0 bytes)"
                                               : smmap_strerror(-list[e]));
                    context = ctx;
                    trial(s, n, list[e], 0);
                    EXPECT(first_run_fired, "the fault never fired");
                    injected++;
                }
            }
        }
    }
    /* Short preads (100 bytes at most per call) must still give every
     * byte right, in the read backend and through direct reads. */
    short_preads = 1;
    for (config = 1; config < CONFIGS; config++) {
        snprintf(ctx, sizeof(ctx), "%s: short preads", config_names[config]);
        context = ctx;
        trial(-1, 0, 0, 0);
    }
    short_preads = 0;
    remove_files();
    printf("fault: %lu faults injected, %d check failures\n", injected,
           failures);
    if (every > 1)
        printf("fault: sampled (first three calls of each site, every %luth, "
               "the last): %lu faults left out, not run\n", every, left_out);
    printf("%lu passed, %d failed\n", failures ? injected - 1 : injected,
           failures ? 1 : 0);
    return failures == 0 ? 0 : 1;
}
