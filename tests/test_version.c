/*
 * test_version.c - versions of a file (src/version.c, identity in file.c):
 * written from what smmap.h promises under "VERSIONS OF A FILE", with the
 * file changing under the handles: touched (git's freshening), replaced by
 * a file that reuses its inode number, grown while another handle opens
 * it, truncated to a size that is not page-aligned, refreshed from two
 * threads while it grows, truncated under SMMAP_POPULATE, and forked while
 * other threads are inside the manager. Each case of issue 12 that the
 * C library owns is one test here, and failed before the change it names.
 */
#include "test.h"
#include "os.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KIB 1024ull
#define MIB (1024ull * 1024)

static uint64_t inode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* Move the file's times one second on, as git does to a pack it keeps. */
static int touch_later(const char *path)
{
    struct stat st;
    struct timeval tv[2];
    if (stat(path, &st) != 0)
        return -1;
    tv[0].tv_sec = st.st_atime + 1;
    tv[0].tv_usec = 0;
    tv[1].tv_sec = st.st_mtime + 1;
    tv[1].tv_usec = 0;
    return utimes(path, tv);
}

static int write_fill(const char *path, uint64_t size, unsigned char fill)
{
    unsigned char buf[4096];
    uint64_t done = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    memset(buf, fill, sizeof(buf));
    while (done < size) {
        size_t n = size - done < sizeof(buf) ? (size_t)(size - done)
                                             : sizeof(buf);
        if (write(fd, buf, n) != (ssize_t)n)
            break;
        done += n;
    }
    close(fd);
    return done == size ? 0 : -1;
}

/* Append chunk to fd every 20 us for at least `seconds`, and until every
 * counter in counts[0..n) reached `least` (the threads racing the appends
 * did run, however loaded the machine); returns the appends made. */
static long append_while(int fd, const unsigned char *chunk, size_t len,
                         double seconds, long *const *counts, int n,
                         long least)
{
    struct timespec start, now, pause = {0, 20000};
    long appends = 0;
    int i, behind;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        if (write(fd, chunk, len) != (ssize_t)len)
            return -1;
        appends++;
        nanosleep(&pause, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
        for (behind = 0, i = 0; i < n; i++)
            behind |= __atomic_load_n(counts[i], __ATOMIC_RELAXED) < least;
    } while (behind || (double)(now.tv_sec - start.tv_sec) +
                               (now.tv_nsec - start.tv_nsec) / 1e9 <
                           seconds);
    return appends;
}

static int all_bytes(const unsigned char *buf, size_t len, unsigned char b)
{
    size_t i;
    for (i = 0; i < len; i++)
        if (buf[i] != b)
            return 0;
    return 1;
}

/* Case 1: a touch changes nothing, whether the descriptor stayed open or
 * the budget closed it and the next window reopens the path. */
static void touch_then_new_window(uint32_t max_files)
{
    const char *pack = fixture_file("pack", 4 * MIB);
    const char *idx = fixture_file("idx", 64 * KIB);
    smmap_manager *m = test_manager(64 * KIB, 256 * KIB, 100, max_files,
                                    SMMAP_ALWAYS_MAP);
    smmap_file *f = test_open(m, pack), *g = test_open(m, idx);
    smmap_cursor c;
    unsigned char buf[64];

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_read(&c, 100, buf, 64), 64);
    CHECK(pattern_matches(buf, 100, 64));
    smmap_cursor_release(&c);
    CHECK_EQ(test_stats(m).open_fds, max_files == 1 ? 1 : 2);
    REQUIRE_EQ(touch_later(pack), 0);
    CHECK_EQ(smmap_read(&c, 3 * MIB + 5, buf, 64), 64);
    CHECK(pattern_matches(buf, 3 * MIB + 5, 64));
    CHECK_EQ(test_stats(m).fd_reopens, max_files == 1 ? 1 : 0);
    /* A later open of the touched file shares the regions. */
    smmap_file_close(g);
    g = test_open(m, pack);
    CHECK_EQ(test_stats(m).files, 1);
    smmap_cursor_release(&c);
    smmap_file_close(g);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_version__touch_keeps_reading_open_descriptor(void)
{
    touch_then_new_window(8);
}

static void test_version__touch_keeps_reading_after_reopen(void)
{
    touch_then_new_window(1);
}

/* Replace path by a new file of fill bytes, trying to get the inode number
 * `want` back (ext4 hands a freed inode to the next file created in its
 * group); returns 1 when it did. */
static int replace_reusing_inode(const char *path, uint64_t size,
                                 unsigned char fill, uint64_t want)
{
    int tries;
    for (tries = 0; tries < 200; tries++) {
        if (unlink(path) != 0 || write_fill(path, size, fill) != 0)
            return 0;
        if (inode_of(path) == want)
            return 1;
    }
    return 0;
}

/* Case 2 (a): the old handle's descriptor was closed by the budget, the
 * file was replaced by one with the same inode number, and the path was
 * opened again: the old handle gets -ESTALE, never the new bytes. */
static void test_version__replaced_with_reused_inode(void)
{
    const char *pack = fixture_file("pack", 256 * KIB);
    const char *idx = fixture_file("idx", 64 * KIB);
    smmap_manager *m = test_manager(64 * KIB, 128 * KIB, 100, 1,
                                    SMMAP_ALWAYS_MAP);
    smmap_file *f = test_open(m, pack), *g, *h;
    smmap_cursor c, d;
    unsigned char buf[64];
    uint64_t ino = inode_of(pack);
    int reused;

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_read(&c, 100, buf, 64), 64);
    smmap_cursor_release(&c);
    g = test_open(m, idx); /* the budget of one closes pack's descriptor */
    CHECK_EQ(test_stats(m).open_fds, 1);
    CHECK_EQ(test_stats(m).fd_closes, 1);
    smmap_manager_collect(m);

    reused = replace_reusing_inode(pack, 256 * KIB, 0x5A, ino);
    printf("replaced_with_reused_inode: inode %s\n",
           reused ? "reused" : "NOT reused on this file system");
    h = test_open(m, pack);
    CHECK_EQ(test_stats(m).files, 3); /* another version: another entry */
    smmap_cursor_init(&d, h);
    REQUIRE_EQ(smmap_read(&d, 200000, buf, 64), 64);
    CHECK(all_bytes(buf, 64, 0x5A));
    smmap_cursor_release(&d);

    /* The old handle: its own bytes (none mapped now) or -ESTALE. */
    CHECK_EQ(smmap_read(&c, 200000, buf, 64), -ESTALE);
    CHECK_EQ(smmap_cursor_use(&c, 100, 64), -ESTALE);
    CHECK(c.data == NULL);
    /* And the new handle still reads the new file. */
    CHECK_EQ(smmap_read(&d, 100, buf, 64), 64);
    CHECK(all_bytes(buf, 64, 0x5A));
    smmap_cursor_release(&d);
    smmap_cursor_release(&c);
    smmap_file_close(h);
    smmap_file_close(g);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* A handle opened from a descriptor is refreshed through it, even when a
 * handle opened by path (since closed) gave the entry that path, and the
 * path now names another file: its own file grew, and refresh takes that
 * (it gave -ESTALE, looking the file up by the other handle's path). */
static void test_version__refresh_of_descriptor_handle_asks_the_descriptor(void)
{
    smmap_manager *m = test_manager(16 * KIB, 1 * MIB, 100, 8,
                                    SMMAP_ALWAYS_MAP);
    smmap_file *byfd = NULL, *bypath;
    smmap_cursor c;
    unsigned char chunk[4096], buf[64];
    char tmp[4096];
    int order, fd, nfd;

    memset(chunk, 0x6B, sizeof(chunk));
    for (order = 0; order < 2; order++) {
        const char *path = fixture_file(order == 0 ? "fdlog0" : "fdlog1", 64 * KIB);
        fd = open(path, O_RDWR);
        REQUIRE_EQ(fd >= 0, 1);
        /* the path handle opened before the descriptor's, then after */
        bypath = order == 0 ? test_open(m, path) : NULL;
        REQUIRE_EQ(smmap_file_open_fd(m, fd, &byfd), 0);
        if (bypath == NULL)
            bypath = test_open(m, path);
        CHECK_EQ(test_stats(m).files, 1);
        smmap_file_close(bypath);
        /* the path now names another file; the descriptor's grows */
        snprintf(tmp, sizeof(tmp), "%s.new", path);
        nfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        REQUIRE_EQ(nfd >= 0, 1);
        CHECK_EQ(write(nfd, chunk, 100), 100);
        close(nfd);
        REQUIRE_EQ(rename(tmp, path), 0);
        CHECK_EQ(pwrite(fd, chunk, sizeof(chunk), (off_t)(64 * KIB)),
                 (ssize_t)sizeof(chunk));
        CHECK_EQ(smmap_file_refresh(byfd), 0);
        CHECK_EQ(smmap_file_size(byfd), 68 * KIB);
        smmap_cursor_init(&c, byfd);
        CHECK_EQ(smmap_read(&c, 64 * KIB, buf, 64), 64);
        CHECK(all_bytes(buf, 64, 0x6B));
        CHECK_EQ(smmap_read(&c, 100, buf, 64), 64);
        CHECK(pattern_matches(buf, 100, 64));
        smmap_cursor_release(&c);
        smmap_file_close(byfd);
        byfd = NULL;
        close(fd);
    }
    smmap_manager_free(m);
}

/* Case 2 (b): a later open of a grown file does not raise what an earlier
 * handle needs: after a truncation that leaves the earlier handle's bytes,
 * it keeps mapping new windows; the later, larger handle gets -ESTALE. */
static void test_version__later_open_changes_no_earlier_handle(void)
{
    const char *path = fixture_file("log", 96 * KIB);
    smmap_manager *m = test_manager(16 * KIB, 1 * MIB, 100, 8,
                                    SMMAP_ALWAYS_MAP);
    smmap_file *early = test_open(m, path), *late;
    smmap_cursor c, d;
    unsigned char buf[64];

    REQUIRE_EQ(truncate(path, 200 * KIB), 0); /* grows (zeros) */
    late = test_open(m, path);
    CHECK_EQ(test_stats(m).files, 1);
    CHECK_EQ(smmap_file_size(late), 200 * KIB);
    CHECK_EQ(smmap_file_size(early), 96 * KIB);
    REQUIRE_EQ(truncate(path, 150 * KIB), 0);
    smmap_cursor_init(&c, early);
    smmap_cursor_init(&d, late);
    CHECK_EQ(smmap_read(&c, 90 * KIB, buf, 64), 64);
    CHECK(pattern_matches(buf, 90 * KIB, 64));
    CHECK_EQ(smmap_read(&d, 160 * KIB, buf, 64), -ESTALE);
    /* The earlier handle still maps its windows. */
    CHECK_EQ(smmap_read(&c, 10 * KIB, buf, 64), 64);
    CHECK(pattern_matches(buf, 10 * KIB, 64));
    smmap_cursor_release(&c);
    smmap_cursor_release(&d);
    smmap_file_close(late);
    smmap_file_close(early);
    smmap_manager_free(m);
}

/* Case 4: refreshes of a file that only grows, from two threads while a
 * third appends, never give -ESTALE; sizes only grow. */
typedef struct refresher_state {
    smmap_file *f;
    int *done; /* atomic */
    long calls, stale, shrank;
} refresher_state;

static void *refresher(void *arg)
{
    refresher_state *r = arg;
    uint64_t last = 0;
    while (!__atomic_load_n(r->done, __ATOMIC_ACQUIRE)) {
        int err = smmap_file_refresh(r->f);
        uint64_t size = smmap_file_size(r->f);
        __atomic_add_fetch(&r->calls, 1, __ATOMIC_RELAXED);
        if (err == -ESTALE)
            r->stale++;
        if (size < last)
            r->shrank++;
        last = size;
    }
    return NULL;
}

static void test_version__concurrent_refresh_of_growing_file(void)
{
    const char *path = fixture_file("growing", 4096);
    smmap_manager *m = test_manager(64 * KIB, 1 * MIB, 100, 8, 0);
    smmap_file *f = test_open(m, path);
    refresher_state r[2];
    long *counts[2] = {&r[0].calls, &r[1].calls};
    pthread_t t[2];
    unsigned char chunk[512];
    int done = 0, fd, i;
    long appends;

    memset(chunk, 0x33, sizeof(chunk));
    for (i = 0; i < 2; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        r[i].f = f;
        r[i].done = &done;
        REQUIRE_EQ(pthread_create(&t[i], NULL, refresher, &r[i]), 0);
    }
    fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    appends = fd >= 0 ? append_while(fd, chunk, sizeof(chunk), 0.5, counts,
                                     2, 500)
                      : -1;
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    for (i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    if (fd >= 0)
        close(fd);
    CHECK(appends > 0);
    CHECK_EQ(smmap_file_refresh(f), 0);
    CHECK_EQ(smmap_file_size(f), 4096 + (uint64_t)appends * 512);
    for (i = 0; i < 2; i++) {
        CHECK_EQ(r[i].stale, 0);
        CHECK_EQ(r[i].shrank, 0);
        CHECK(r[i].calls >= 500);
    }
    printf("concurrent refresh: %ld + %ld calls, %ld appends, 0 -ESTALE\n",
           r[0].calls, r[1].calls, appends);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* Opens from several threads of a file that only grows: an open's stat,
 * taken before the lock, may be older than another thread's; its smaller
 * size is no truncation, and no handle may get -ESTALE or -EIO. */
typedef struct opener {
    smmap_manager *m;
    const char *path;
    int *done; /* atomic */
    long opens, refused, wrong;
} opener;

static void *open_read_close(void *arg)
{
    opener *o = arg;
    while (!__atomic_load_n(o->done, __ATOMIC_ACQUIRE)) {
        smmap_file *f;
        smmap_cursor c;
        unsigned char buf[8];
        uint64_t size;
        int64_t got;
        if (smmap_file_open(o->m, o->path, &f) != 0) {
            o->wrong++;
            continue;
        }
        size = smmap_file_size(f);
        smmap_cursor_init(&c, f);
        got = smmap_read(&c, size - 8, buf, 8);
        if (got == -ESTALE || got == -EIO)
            o->refused++;
        else if (got != 8 || !all_bytes(buf, 8, 0x44))
            o->wrong++;
        smmap_cursor_release(&c);
        smmap_file_close(f);
        __atomic_add_fetch(&o->opens, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_version__opens_of_a_growing_file_from_threads(void)
{
    const char *path = fixture_path("appended");
    smmap_manager *m = test_manager(4096, 64 * 4096, 100, 8,
                                    SMMAP_ALWAYS_MAP);
    opener o[3];
    long *counts[3] = {&o[0].opens, &o[1].opens, &o[2].opens};
    pthread_t t[3];
    unsigned char chunk[37];
    int done = 0, fd, i;
    long refused = 0, wrong = 0, opens = 0;

    REQUIRE_EQ(write_fill(path, 4096, 0x44), 0);
    memset(chunk, 0x44, sizeof(chunk));
    for (i = 0; i < 3; i++) {
        o[i].m = m;
        o[i].path = path;
        o[i].done = &done;
        o[i].opens = o[i].refused = o[i].wrong = 0;
        REQUIRE_EQ(pthread_create(&t[i], NULL, open_read_close, &o[i]), 0);
    }
    fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    if (fd >= 0)
        CHECK(append_while(fd, chunk, sizeof(chunk), 1.0, counts, 3, 300) >
              0);
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    for (i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        refused += o[i].refused;
        wrong += o[i].wrong;
        opens += o[i].opens;
    }
    if (fd >= 0)
        close(fd);
    CHECK_EQ(refused, 0);
    CHECK_EQ(wrong, 0);
    CHECK(opens >= 900);
    printf("opens of a growing file: %ld opens, %ld refused\n", opens,
           refused);
    smmap_manager_free(m);
}

/* Case 5: SMMAP_POPULATE with the file truncated between the size check
 * and the populate: the window is refused (-ESTALE), no SIGBUS. The map
 * entry of the OS table truncates the file right after mapping. */
static const char *populate_victim;
static int populate_native; /* let the system populate (EFAULT) */

static int map_then_truncate(smmap_os_fd fd, uint64_t offset, size_t len,
                             void **out)
{
    int err = smmap__os_default.map(fd, offset, len, out);
    if (err == 0 && truncate(populate_victim, 4096 + 10) != 0)
        err = -EIO;
    return err;
}

static int advise_no_populate(void *addr, size_t len, int advice)
{
    if (advice == SMMAP_OS_POPULATE && !populate_native)
        return -EOPNOTSUPP; /* the touch loop then runs */
    return smmap__os_default.advise(addr, len, advice);
}

static void populate_truncated(int native)
{
    const char *path = fixture_file(native ? "native" : "touched", 1 * MIB);
    smmap_manager *m = test_manager(256 * KIB, 1 * MIB, 100, 8,
                                    SMMAP_POPULATE | SMMAP_ALWAYS_MAP);
    smmap_file *f = test_open(m, path);
    smmap_cursor c;
    unsigned char buf[16];

    populate_victim = path;
    populate_native = native;
    smmap__os.map = map_then_truncate;
    smmap__os.advise = advise_no_populate;
    smmap_cursor_init(&c, f);
    CHECK_EQ(smmap_read(&c, 600 * KIB, buf, 16), -ESTALE);
    CHECK_EQ(smmap_cursor_use(&c, 600 * KIB, 16), -ESTALE);
    smmap__os.map = smmap__os_default.map;
    smmap__os.advise = smmap__os_default.advise;
    CHECK_EQ(test_stats(m).regions, 0);
    CHECK_EQ(test_stats(m).mapped_bytes, 0);
    CHECK_EQ(test_stats(m).faults, 0);
    /* The truncation was seen: the handle (1 MiB) gets no new window. */
    CHECK_EQ(smmap_read(&c, 100, buf, 16), -ESTALE);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_version__populate_of_truncated_file_touching(void)
{
    populate_truncated(0);
}

static void test_version__populate_of_truncated_file_native(void)
{
    populate_truncated(1);
}

/* Case 7: after a truncation to 4096 + 100 bytes, the rest of that page
 * reads as zeros through the map. Once a fault has shown the truncation,
 * no read returns those zeros (or anything past the new end) with a
 * positive count; bytes before the end are still served. */
static void test_version__no_zeros_after_truncation_seen(void)
{
    const uint64_t page = test_granularity(), end = page + 100;
    const char *path = fixture_file("three", 3 * page);
    smmap_manager *m = test_manager(16 * page, 64 * page, 100, 8,
                                    SMMAP_ALWAYS_MAP);
    smmap_file *f = test_open(m, path), *later;
    smmap_cursor c, other;
    unsigned char buf[128];

    smmap_cursor_init(&c, f);
    smmap_cursor_init(&other, f);
    REQUIRE_EQ(smmap_read(&c, 0, buf, 64), 64); /* one window, 3 pages */
    smmap_cursor_copy(&other, &c);
    REQUIRE_EQ(truncate(path, (off_t)end), 0);
    /* The third page is gone: a fault, -EIO, the end asked of the file. */
    CHECK_EQ(smmap_read(&c, 2 * page + 8, buf, 8), -EIO);
    CHECK_EQ(test_stats(m).faults, 1);
    /* The rest of the second page: zeros through the map, refused. */
    CHECK_EQ(smmap_read(&c, end, buf, 50), -EIO);
    CHECK_EQ(smmap_read(&other, end + 1, buf, 1), -EIO);
    CHECK_EQ(smmap_read(&c, end - 10, buf, 20), -EIO);
    /* Bytes before the end are still the file's. */
    CHECK_EQ(smmap_read(&c, end - 96, buf, 96), 96);
    CHECK(pattern_matches(buf, end - 96, 96));
    CHECK_EQ(smmap_read(&other, 10, buf, 16), 16);
    CHECK(pattern_matches(buf, 10, 16));
    /* No window of the lost bytes either. */
    CHECK_EQ(smmap_cursor_use(&c, end, 10), -ESTALE);
    CHECK_EQ(test_stats(m).faults, 1);
    /* A later open is the file as it is, the same version: it joins the
     * entry with its own size, and reads up to the end. */
    later = test_open(m, path);
    CHECK_EQ(smmap_file_size(later), end);
    CHECK_EQ(test_stats(m).files, 1);
    {
        smmap_cursor l;
        smmap_cursor_init(&l, later);
        CHECK_EQ(smmap_read(&l, end - 16, buf, 16), 16);
        CHECK(pattern_matches(buf, end - 16, 16));
        smmap_cursor_release(&l);
    }
    smmap_cursor_release(&c);
    smmap_cursor_release(&other);
    smmap_file_close(later);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* Case 7: the end seen is the version's: a handle opened after a first
 * truncation joins the entry, and a second truncation seen through the
 * earlier handle (by a refresh) binds it too: no zeros through it. */
static void test_version__seen_end_is_the_versions(void)
{
    const char *path = fixture_file("shrinking", 12000);
    smmap_manager *m = test_manager(64 * KIB, 1 * MIB, 100, 8,
                                    SMMAP_ALWAYS_MAP);
    smmap_file *a = test_open(m, path), *b;
    smmap_cursor c;
    unsigned char buf[32];

    REQUIRE_EQ(truncate(path, 11000), 0);
    b = test_open(m, path);
    CHECK_EQ(test_stats(m).files, 1);
    smmap_cursor_init(&c, b);
    REQUIRE_EQ(smmap_read(&c, 8990, buf, 20), 20); /* maps [0, 11000) */
    CHECK(pattern_matches(buf, 8990, 20));
    REQUIRE_EQ(truncate(path, 9000), 0);
    CHECK_EQ(smmap_file_refresh(a), -ESTALE);
    CHECK_EQ(smmap_read(&c, 8990, buf, 20), -EIO);
    CHECK_EQ(smmap_read(&c, 8980, buf, 20), 20);
    CHECK(pattern_matches(buf, 8980, 20));
    smmap_cursor_release(&c);
    smmap_file_close(b);
    smmap_file_close(a);
    smmap_manager_free(m);
}

/* Case 7 with SMMAP_CHECK_MTIME: a truncation changes the mtime, yet the
 * fault's question (how large is the file now?) is answered by the
 * descriptor, so bytes before the new end are still served. */
static void test_version__fault_under_check_mtime_keeps_bytes_before_end(void)
{
    const uint64_t page = test_granularity(), end = page + 100;
    const char *path = fixture_file("three", 3 * page);
    smmap_manager *m = test_manager(16 * page, 64 * page, 100, 8,
                                    SMMAP_ALWAYS_MAP | SMMAP_CHECK_MTIME);
    smmap_file *f = test_open(m, path);
    smmap_cursor c;
    unsigned char buf[16];

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_read(&c, 0, buf, 16), 16);
    REQUIRE_EQ(truncate(path, (off_t)end), 0);
    CHECK_EQ(smmap_read(&c, 2 * page, buf, 16), -EIO);
    CHECK_EQ(smmap_read(&c, end - 16, buf, 16), 16);
    CHECK(pattern_matches(buf, end - 16, 16));
    CHECK_EQ(smmap_read(&c, end, buf, 16), -EIO);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* Case 7, read backend: a heap window filled before the truncation holds
 * the old bytes past the new end; once a short pread has shown the end,
 * reads of them are refused. */
static void test_version__no_old_bytes_after_short_read(void)
{
    const uint64_t page = test_granularity(), end = page + 100;
    const char *path = fixture_file("four", 4 * page);
    smmap_manager *m = test_manager(2 * page, 64 * page, 100, 8,
                                    SMMAP_NO_MMAP | SMMAP_ALWAYS_MAP);
    smmap_file *f = test_open(m, path);
    smmap_cursor c, held;
    unsigned char buf[64];

    smmap_cursor_init(&c, f);
    smmap_cursor_init(&held, f);
    REQUIRE_EQ(smmap_cursor_use(&held, 0, (size_t)(2 * page)), 0);
    REQUIRE_EQ(truncate(path, (off_t)end), 0);
    CHECK_EQ(smmap_read(&c, 3 * page, buf, 16), -ESTALE); /* short fill */
    CHECK_EQ(smmap_read(&c, end + 8, buf, 16), -EIO); /* old heap bytes */
    CHECK_EQ(smmap_read(&c, end - 16, buf, 16), 16);
    CHECK(pattern_matches(buf, end - 16, 16));
    CHECK_EQ(test_stats(m).faults, 0);
    smmap_cursor_release(&held);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* Case 6: a window size at or above half the address space is refused at
 * once (it hung in the slot filter's shifts). */
static void test_version__absurd_window_size_refused(void)
{
    static const uint64_t sizes[] = {1ull << 63, (1ull << 63) + 4096,
                                     UINT64_MAX - 4096, UINT64_MAX};
    smmap_options o;
    smmap_manager *m = NULL;
    size_t i;
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        smmap_options_init(&o);
        o.window_size = sizes[i];
        o.max_mapped = UINT64_MAX;
        CHECK_EQ(smmap_manager_new(&m, &o), -EINVAL);
        CHECK(m == NULL);
    }
    /* The largest accepted: just under 2^63 on 64-bit (2^31 on 32-bit),
     * and its slot filter works on a small file. */
    smmap_options_init(&o);
    o.window_size = (uint64_t)(SIZE_MAX >> 1) + 1 - test_granularity();
    o.max_mapped = UINT64_MAX;
    REQUIRE_EQ(smmap_manager_new(&m, &o), 0);
    {
        smmap_file *f = test_open(m, fixture_file("small", 10000));
        smmap_cursor c;
        unsigned char buf[16];
        smmap_cursor_init(&c, f);
        CHECK_EQ(smmap_read(&c, 9000, buf, 16), 16);
        CHECK(pattern_matches(buf, 9000, 16));
        smmap_cursor_release(&c);
        smmap_file_close(f);
    }
    smmap_manager_free(m);
}

/* Case 10: fork while two threads switch windows and evict through the
 * manager; each child uses the inherited manager (open, read, collect,
 * close) under an alarm. Before pthread_atfork, some children deadlocked
 * on a lock a parent thread held at the fork. */
typedef struct switcher {
    smmap_file *f;
    int *stop; /* atomic */
    unsigned seed;
    long wrong;
} switcher;

static void *switch_windows(void *arg)
{
    switcher *s = arg;
    smmap_cursor c;
    unsigned char buf[32];
    smmap_cursor_init(&c, s->f);
    while (!__atomic_load_n(s->stop, __ATOMIC_ACQUIRE)) {
        uint64_t off;
        s->seed = s->seed * 1103515245u + 12345u;
        off = (uint64_t)(s->seed >> 8) % (8 * MIB - 32);
        if (smmap_read(&c, off, buf, 32) != 32 ||
            !pattern_matches(buf, off, 32))
            s->wrong++;
    }
    smmap_cursor_release(&c);
    return NULL;
}

static void test_version__fork_with_threads_inside(void)
{
    const char *path = fixture_file("big", 8 * MIB);
    smmap_manager *m = test_manager(64 * KIB, 512 * KIB, 100, 2,
                                    SMMAP_ALWAYS_MAP);
    smmap_file *f = test_open(m, path);
    int stop = 0;
    switcher s[2];
    pthread_t t[2];
    int i, ok = 0, forks = 150;

    for (i = 0; i < 2; i++) {
        s[i].f = f;
        s[i].stop = &stop;
        s[i].seed = 77u + (unsigned)i;
        s[i].wrong = 0;
        REQUIRE_EQ(pthread_create(&t[i], NULL, switch_windows, &s[i]), 0);
    }
    for (i = 0; i < forks; i++) {
        int status = 0, fds[2];
        char verdict = '?';
        pid_t child;
        REQUIRE_EQ(pipe(fds), 0);
        child = fork();
        if (child == 0) {
            smmap_file *g;
            smmap_cursor c;
            unsigned char buf[64];
            close(fds[0]);
            alarm(10);
            if (smmap_file_open(m, path, &g) != 0)
                _exit(2);
            smmap_cursor_init(&c, g);
            if (smmap_read(&c, 5 * MIB + 3, buf, 64) != 64 ||
                !pattern_matches(buf, 5 * MIB + 3, 64))
                _exit(3);
            smmap_cursor_release(&c);
            smmap_manager_collect(m);
            smmap_file_close(g);
            /* Done: say so, and end without exit's checks. A window a
             * parent thread was mapping at the fork was only on its stack,
             * which does not run here: a leak checker (valgrind) counts
             * it lost at exit. */
            if (write(fds[1], "K", 1) != 1)
                _exit(4);
            kill(getpid(), SIGKILL);
        }
        close(fds[1]);
        if (child < 0) {
            close(fds[0]);
            break;
        }
        if (read(fds[0], &verdict, 1) != 1)
            verdict = '?';
        close(fds[0]);
        if (waitpid(child, &status, 0) == child && verdict == 'K' &&
            WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
            ok++;
        else
            fprintf(stderr, "fork %d: child said '%c', status 0x%x\n", i,
                    verdict, status);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(s[i].wrong, 0);
    }
    CHECK_EQ(ok, forks);
    printf("fork with threads inside: %d of %d children used the manager\n",
           ok, forks);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* A child forked while another thread of the parent is mapping a window
 * does not wait for that map (region.c waits for a map in flight that
 * covers its miss when the budget refused it): the map's thread is not in
 * the child, so the miss gets the budget's answer, -ENOMEM here. */
static volatile int held_entered, held_go;
static int held_map(smmap_os_fd fd, uint64_t off, size_t len, void **out)
{
    __atomic_store_n(&held_entered, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&held_go, __ATOMIC_SEQ_CST))
        smmap__os_default.yield();
    return smmap__os_default.map(fd, off, len, out);
}

typedef struct held_use {
    smmap_file *f;
    int err;
} held_use;

static void *held_run(void *arg)
{
    held_use *u = arg;
    smmap_cursor c;
    smmap_cursor_init(&c, u->f);
    u->err = smmap_cursor_use(&c, 100, 1);
    smmap_cursor_release(&c);
    return NULL;
}

static void test_version__fork_child_does_not_wait_for_a_parent_map(void)
{
    const char *path = fixture_file("inflight", 256 * KIB);
    smmap_manager *m = test_manager(256 * KIB, 256 * KIB, 100, 8,
                                    SMMAP_HARD_LIMITS | SMMAP_ALWAYS_MAP);
    smmap_file *f = test_open(m, path);
    held_use u = {f, 1};
    pthread_t t;
    pid_t child;
    int status = 0, fds[2];
    char verdict = '?';

    held_entered = held_go = 0;
    smmap__os.map = held_map;
    REQUIRE_EQ(pthread_create(&t, NULL, held_run, &u), 0);
    while (!__atomic_load_n(&held_entered, __ATOMIC_SEQ_CST))
        smmap__os_default.yield();
    REQUIRE_EQ(pipe(fds), 0);
    child = fork();
    if (child == 0) {
        smmap_cursor c;
        close(fds[0]);
        alarm(10);
        smmap_cursor_init(&c, f);
        /* the parent thread's reservation fills the hard budget */
        if (write(fds[1], smmap_cursor_use(&c, 200, 1) == -ENOMEM ? "K" : "E",
                  1) != 1)
            _exit(4);
        /* end without exit's checks: what the parent's thread was mapping
         * is only on its stack, which a leak checker counts lost at exit
         * (as in fork_with_threads_inside) */
        kill(getpid(), SIGKILL);
    }
    close(fds[1]);
    CHECK(child > 0);
    if (child > 0) {
        if (read(fds[0], &verdict, 1) != 1)
            verdict = '?';
        CHECK_EQ(waitpid(child, &status, 0), child);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        CHECK_EQ(verdict, 'K');
    }
    close(fds[0]);
    __atomic_store_n(&held_go, 1, __ATOMIC_SEQ_CST);
    pthread_join(t, NULL);
    smmap__os.map = smmap__os_default.map;
    CHECK_EQ(u.err, 0);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static const test_case tests[] = {
    TEST_ENTRY(test_version__touch_keeps_reading_open_descriptor),
    TEST_ENTRY(test_version__touch_keeps_reading_after_reopen),
    TEST_ENTRY(test_version__replaced_with_reused_inode),
    TEST_ENTRY(test_version__later_open_changes_no_earlier_handle),
    TEST_ENTRY(test_version__refresh_of_descriptor_handle_asks_the_descriptor),
    TEST_ENTRY(test_version__concurrent_refresh_of_growing_file),
    TEST_ENTRY(test_version__opens_of_a_growing_file_from_threads),
    TEST_ENTRY(test_version__populate_of_truncated_file_touching),
    TEST_ENTRY(test_version__populate_of_truncated_file_native),
    TEST_ENTRY(test_version__no_zeros_after_truncation_seen),
    TEST_ENTRY(test_version__no_old_bytes_after_short_read),
    TEST_ENTRY(test_version__seen_end_is_the_versions),
    TEST_ENTRY(test_version__fault_under_check_mtime_keeps_bytes_before_end),
    TEST_ENTRY(test_version__absurd_window_size_refused),
    TEST_ENTRY(test_version__fork_with_threads_inside),
    TEST_ENTRY(test_version__fork_child_does_not_wait_for_a_parent_map),
};

TEST_MAIN(tests)
