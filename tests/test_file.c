/*
 * test_file.c - handles and entries: identity across path spellings, the size
 * snapshot, replaced files, bad paths, descriptors, and the descriptor cache
 * with its identity check on reopen.
 */
#include "test.h"
#include "smmap_int.h"

#ifndef _WIN32
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

static void test_file__same_file_any_spelling_shares_regions(void)
{
    smmap_manager *m = test_manager(65536, 1 << 24, 100, 8, 0);
    const char *path = fixture_file("data", 100000);
    char spelled[700];
    smmap_file *a = test_open(m, path), *b;
    smmap_cursor ca, cb;
    smmap_stats s;

#ifdef _WIN32
    snprintf(spelled, sizeof(spelled), "%s\\.\\..\\%s\\data", fixture_dir(),
             strrchr(fixture_dir(), '\\') + 1);
#else
    snprintf(spelled, sizeof(spelled), "%s//.//../%s/data", fixture_dir(),
             strrchr(fixture_dir(), '/') + 1);
#endif
    b = test_open(m, spelled);
    s = test_stats(m);
    CHECK_EQ(s.files, 1);
    CHECK_EQ(s.open_fds, 1);
    smmap_cursor_init(&ca, a);
    smmap_cursor_init(&cb, b);
    REQUIRE_EQ(smmap_cursor_use(&ca, 1000, 10), 0);
    REQUIRE_EQ(smmap_cursor_use(&cb, 1000, 10), 0);
    CHECK(ca.data == cb.data);
    s = test_stats(m);
    CHECK_EQ(s.maps, 1);
    CHECK_EQ(s.reuses, 1);
    CHECK_EQ(s.files_mapped, 1);
    smmap_cursor_release(&ca);
    smmap_cursor_release(&cb);
    smmap_file_close(a);
    CHECK_EQ(test_stats(m).files, 1);
    CHECK_EQ(test_stats(m).regions, 1); /* b still holds the entry */
    smmap_file_close(b);
    s = test_stats(m);
    CHECK_EQ(s.files, 0);
    CHECK_EQ(s.regions, 0);
    CHECK_EQ(s.open_fds, 0);
    smmap_manager_free(m);
}

static void test_file__replaced_file_is_a_different_file(void)
{
    smmap_manager *m = test_manager(65536, 1 << 24, 100, 8, 0);
    const char *path = fixture_file("data", 100000);
    smmap_file *old = test_open(m, path), *fresh;
    unsigned char buf[16];

    fixture_replace(path, 5000, 0xAB);
    fresh = test_open(m, path);
    CHECK_EQ(test_stats(m).files, 2);
    CHECK_EQ(smmap_file_size(old), 100000);
    CHECK_EQ(smmap_file_size(fresh), 5000);
    {
        smmap_cursor c;
        smmap_cursor_init(&c, old);
        CHECK_EQ(smmap_read(&c, 90000, buf, sizeof(buf)), sizeof(buf));
        CHECK(pattern_matches(buf, 90000, sizeof(buf)));
        smmap_cursor_release(&c);
        smmap_cursor_init(&c, fresh);
        CHECK_EQ(smmap_read(&c, 4990, buf, sizeof(buf)), 10);
        CHECK_EQ(buf[0], 0xAB);
        CHECK_EQ(buf[9], 0xAB);
        smmap_cursor_release(&c);
    }
    smmap_file_close(old);
    smmap_file_close(fresh);
    smmap_manager_free(m);
}

static void test_file__bad_paths(void)
{
    smmap_manager *m = test_manager(65536, 1 << 24, 100, 8, 0);
    smmap_file *f = (smmap_file *)&f;

    CHECK_EQ(smmap_file_open(m, fixture_path("missing"), &f), -ENOENT);
    CHECK(f == NULL);
    CHECK_EQ(smmap_file_open(m, fixture_dir(), &f), -EISDIR);
    CHECK_EQ(smmap_file_open(m, "", &f), -ENOENT);
#ifndef _WIN32
    {
        /* The shortest path there is, relative: one character. */
        char cwd[4096];
        fixture_file("x", 7);
        if (getcwd(cwd, sizeof(cwd)) != NULL && chdir(fixture_dir()) == 0) {
            CHECK_EQ(smmap_file_open(m, "x", &f), 0);
            CHECK_EQ(smmap_file_size(f), 7);
            smmap_file_close(f);
            CHECK_EQ(chdir(cwd), 0);
        } else {
            CHECK(!"getcwd or chdir failed");
        }
    }
#endif
    CHECK_EQ(smmap_file_open(NULL, fixture_dir(), &f), -EINVAL);
    CHECK_EQ(smmap_file_open(m, NULL, &f), -EINVAL);
    CHECK_EQ(smmap_file_open(m, fixture_dir(), NULL), -EINVAL);
#ifndef _WIN32
    {
        const char *fifo = fixture_path("fifo");
        REQUIRE_EQ(mkfifo(fifo, 0600), 0);
        /* Opening a FIFO read-only would block until a writer comes; the
         * library opens it (it cannot know before) only if it can, so make
         * a writer-less open non-blocking by opening a writer first. */
        {
            int w = open(fifo, O_RDWR | O_NONBLOCK);
            CHECK_EQ(smmap_file_open(m, fifo, &f), -EINVAL);
            close(w);
        }
        unlink(fifo);
    }
#endif
    {
        smmap_stats s = test_stats(m);
        CHECK_EQ(s.files, 0);
        CHECK_EQ(s.open_fds, 0);
    }
    smmap_manager_free(m);
}

static void test_file__empty_file(void)
{
    smmap_manager *m = test_manager(65536, 1 << 24, 100, 8, 0);
    smmap_file *f = test_open(m, fixture_file("empty", 0));
    smmap_cursor c;
    unsigned char byte = 7;

    CHECK_EQ(smmap_file_size(f), 0);
    smmap_cursor_init(&c, f);
    CHECK_EQ(smmap_cursor_use(&c, 0, 0), -ERANGE);
    CHECK(c.data == NULL);
    CHECK(smmap_cursor_at(&c, 0, 1) == NULL);
    CHECK_EQ(c.error, -ERANGE);
    CHECK_EQ(smmap_read(&c, 0, &byte, 1), 0);
    CHECK_EQ(byte, 7);
    CHECK_EQ(test_stats(m).maps, 0);
    smmap_file_close(f);
    smmap_manager_free(m);
}

#ifndef _WIN32
static void test_file__open_fd_duplicates(void)
{
    smmap_manager *m = test_manager(65536, 1 << 24, 100, 8, 0);
    const char *path = fixture_file("data", 70000);
    int fd = open(path, O_RDONLY);
    smmap_file *f = NULL;
    smmap_cursor c;
    unsigned char buf[8];

    REQUIRE_EQ(smmap_file_open_fd(m, fd, &f), 0);
    close(fd); /* ours to close: the library holds its duplicate */
    CHECK_EQ(smmap_file_size(f), 70000);
    smmap_cursor_init(&c, f);
    CHECK_EQ(smmap_read(&c, 69992, buf, 8), 8);
    CHECK(pattern_matches(buf, 69992, 8));
    smmap_cursor_release(&c);
    smmap_file_close(f);
    /* A descriptor that is closed, and one that never was. */
    CHECK_EQ(smmap_file_open_fd(m, fd, &f), -EBADF);
    CHECK(f == NULL);
    CHECK_EQ(smmap_file_open_fd(m, -1, &f), -EBADF);
    {
        /* Descriptor 0 is a descriptor like any other. */
        int saved_stdin = dup(0), data = open(path, O_RDONLY);
        REQUIRE_EQ(saved_stdin >= 0 && data >= 0, 1);
        dup2(data, 0);
        close(data);
        CHECK_EQ(smmap_file_open_fd(m, 0, &f), 0);
        CHECK_EQ(smmap_file_size(f), 70000);
        smmap_file_close(f);
        dup2(saved_stdin, 0);
        close(saved_stdin);
    }
    CHECK_EQ(smmap_file_open_fd(NULL, 0, &f), -EINVAL);
    CHECK_EQ(smmap_file_open_fd(m, 0, NULL), -EINVAL);
    CHECK_EQ(test_stats(m).files, 0);
    smmap_manager_free(m);
}
#endif

static void test_file__descriptor_cache_closes_lru_and_reopens(void)
{
    smmap_manager *m = test_manager(65536, 1 << 24, 100, 1, 0);
    smmap_file *a = test_open(m, fixture_file("a", 70000));
    smmap_file *b, *c;
    smmap_cursor cur;
    smmap_stats s;
    unsigned char buf[4];

    CHECK_EQ(test_stats(m).open_fds, 1);
    b = test_open(m, fixture_file("b", 70000));
    c = test_open(m, fixture_file("c", 70000));
    s = test_stats(m);
    CHECK_EQ(s.open_fds, 1);
    CHECK_EQ(s.fd_closes, 2);
    CHECK_EQ(s.files, 3);
    /* a's descriptor was closed: mapping reopens it (and closes c's). */
    smmap_cursor_init(&cur, a);
    CHECK_EQ(smmap_read(&cur, 66000, buf, 4), 4);
    CHECK(pattern_matches(buf, 66000, 4));
    s = test_stats(m);
    CHECK_EQ(s.fd_reopens, 1);
    CHECK_EQ(s.open_fds, 1);
    CHECK_EQ(s.fd_closes, 3);
    smmap_cursor_release(&cur);
    smmap_file_close(a);
    smmap_file_close(b);
    smmap_file_close(c);
    CHECK_EQ(test_stats(m).open_fds, 0);
    smmap_manager_free(m);
}

static void test_file__reopen_checks_identity(void)
{
    smmap_manager *m = test_manager(65536, 1 << 24, 100, 1, 0);
    const char *path = fixture_file("a", 70000);
    smmap_file *a = test_open(m, path);
    smmap_file *b = test_open(m, fixture_file("b", 10));
    smmap_cursor cur;
    unsigned char buf[4];

    CHECK_EQ(test_stats(m).open_fds, 1); /* a's descriptor closed for b */
    fixture_replace(path, 70000, 0x5A);   /* same size, a new inode */
    smmap_cursor_init(&cur, a);
    CHECK_EQ(smmap_read(&cur, 0, buf, 4), -ESTALE);
    CHECK_EQ(smmap_cursor_use(&cur, 0, 1), -ESTALE);
    CHECK_EQ(cur.error, -ESTALE);
    CHECK(cur.data == NULL);
    CHECK_EQ(test_stats(m).regions, 0);
    remove(path); /* gone altogether: still -ESTALE */
    CHECK_EQ(smmap_cursor_use(&cur, 0, 1), -ESTALE);
    smmap_file_close(a);
    smmap_file_close(b);
    CHECK_EQ(test_stats(m).open_fds, 0);
    smmap_manager_free(m);
}

#ifndef _WIN32
static void test_file__reopen_refuses_a_shrunk_file(void)
{
    smmap_manager *m = test_manager(65536, 1 << 24, 100, 1, 0);
    const char *path = fixture_file("a", 70000);
    smmap_file *a = test_open(m, path);
    smmap_file *b = test_open(m, fixture_file("b", 10));
    smmap_cursor cur;

    REQUIRE_EQ(truncate(path, 100), 0); /* same inode, smaller */
    smmap_cursor_init(&cur, a);
    CHECK_EQ(smmap_cursor_use(&cur, 0, 1), -ESTALE);
    smmap_file_close(a);
    smmap_file_close(b);
    smmap_manager_free(m);
}

static void test_file__fd_opened_files_keep_their_descriptor(void)
{
    smmap_manager *m = test_manager(65536, 1 << 24, 100, 1, 0);
    const char *path = fixture_file("a", 70000);
    int fd = open(path, O_RDONLY);
    smmap_file *a = NULL, *b;
    smmap_stats s;

    REQUIRE_EQ(smmap_file_open_fd(m, fd, &a), 0);
    close(fd);
    b = test_open(m, fixture_file("b", 10));
    s = test_stats(m);
    /* b's descriptor is the only one that can be closed: it was. */
    CHECK_EQ(s.open_fds, 1);
    CHECK_EQ(s.fd_closes, 1);
    /* release_path never matches a file opened from a descriptor. */
    CHECK_EQ(smmap_manager_release_path(m, ""), 0);
    CHECK_EQ(test_stats(m).open_fds, 1);
    smmap_file_close(a);
    smmap_file_close(b);
    CHECK_EQ(test_stats(m).open_fds, 0);
    smmap_manager_free(m);
}
#endif

static void test_file__size_is_a_snapshot(void)
{
    smmap_manager *m = test_manager(65536, 1 << 24, 100, 8, 0);
    const char *path = fixture_file("data", 5000);
    smmap_file *before = test_open(m, path), *after;
    smmap_cursor c;
    FILE *fp = fopen(path, "ab");

    REQUIRE_EQ(fp != NULL, 1);
    fputs("appended", fp);
    fclose(fp);
    after = test_open(m, path);
    CHECK_EQ(test_stats(m).files, 1);
    CHECK_EQ(smmap_file_size(before), 5000);
    CHECK_EQ(smmap_file_size(after), 5008);
    smmap_cursor_init(&c, after);
    REQUIRE_EQ(smmap_cursor_use(&c, 0, 0), 0);
    CHECK_EQ(c.size, 5008);
    CHECK_EQ(c.data[5000], 'a');
    smmap_cursor_release(&c);
    /* The older handle shares the region but sees only its 5000 bytes. */
    smmap_cursor_init(&c, before);
    REQUIRE_EQ(smmap_cursor_use(&c, 0, 0), 0);
    CHECK_EQ(c.size, 5000);
    CHECK_EQ(test_stats(m).maps, 1);
    CHECK_EQ(smmap_cursor_use(&c, 5000, 1), -ERANGE);
    smmap_cursor_release(&c);
    smmap_file_close(before);
    smmap_file_close(after);
    smmap_manager_free(m);
}

/* The table of entries by (device, inode) starts with 16 buckets and
 * doubles when a new file would make it fuller than one entry per bucket;
 * every file is still found through it afterwards. */
static void test_file__entry_table_doubles_when_full(void)
{
    smmap_manager *m = test_manager(65536, 1u << 20, 100, 8, 0);
    smmap_file *files[33], *again;
    char name[16];
    int i;

    CHECK_EQ(m->nbuckets, 16);
    for (i = 0; i < 33; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        files[i] = test_open(m, fixture_file(name, 100 + i));
        if (i == 15)
            CHECK_EQ(m->nbuckets, 16); /* 16 files in 16 buckets */
        if (i == 16)
            CHECK_EQ(m->nbuckets, 32);
    }
    CHECK_EQ(m->nbuckets, 64);
    CHECK_EQ(test_stats(m).files, 33);
    /* Found again through the new table: the same entry, not a new one. */
    again = test_open(m, fixture_path("f7"));
    CHECK_EQ(test_stats(m).files, 33);
    CHECK_EQ(smmap_file_size(again), 107);
    smmap_file_close(again);
    for (i = 0; i < 33; i++)
        smmap_file_close(files[i]);
    CHECK_EQ(test_stats(m).files, 0);
    smmap_manager_free(m);
}

static int fail_malloc_at, malloc_calls;
static void *failing_malloc(size_t size)
{
    if (++malloc_calls == fail_malloc_at)
        return NULL;
    return smmap__os_default.malloc(size);
}

/* Every allocation of an open, failed in turn: -ENOMEM, no handle, no
 * entry left behind, until the open that fails nothing succeeds. (The
 * fault suite does this over a whole workload, sampled in quick runs; an
 * open is small enough to do every call every time.) */
static void test_file__open_survives_each_allocation_failure(void)
{
    smmap_manager *m = test_manager(65536, 1 << 24, 100, 8, 0);
    const char *path = fixture_file("data", 1000);
    smmap_file *f;
    int n, err = -1, failures = 0;

    smmap__os.malloc = failing_malloc;
    for (n = 1; n < 20 && err != 0; n++) {
        malloc_calls = 0;
        fail_malloc_at = n;
        f = (smmap_file *)&f;
        err = smmap_file_open(m, path, &f);
        if (malloc_calls >= n) {
            failures++;
            CHECK_EQ(err, -ENOMEM);
            CHECK(f == NULL);
            CHECK_EQ(test_stats(m).files, 0);
        } else {
            CHECK_EQ(err, 0);
        }
    }
    smmap__os.malloc = smmap__os_default.malloc;
    CHECK_EQ(err, 0);
    CHECK(failures >= 3); /* the handle, its path and the entry's path */
    CHECK_EQ(smmap_file_size(f), 1000);
    CHECK(f->path != NULL && strcmp(f->path, path) == 0);
    CHECK(f->entry->path != NULL && strcmp(f->entry->path, path) == 0);
    smmap_file_close(f);
    CHECK_EQ(test_stats(m).files, 0);
    smmap_manager_free(m);
}

static const test_case tests[] = {
    TEST_ENTRY(test_file__same_file_any_spelling_shares_regions),
    TEST_ENTRY(test_file__replaced_file_is_a_different_file),
    TEST_ENTRY(test_file__bad_paths),
    TEST_ENTRY(test_file__empty_file),
    TEST_ENTRY(test_file__descriptor_cache_closes_lru_and_reopens),
    TEST_ENTRY(test_file__reopen_checks_identity),
    TEST_ENTRY(test_file__size_is_a_snapshot),
    TEST_ENTRY(test_file__entry_table_doubles_when_full),
    TEST_ENTRY(test_file__open_survives_each_allocation_failure),
#ifndef _WIN32
    /* POSIX only: descriptors from open(2), truncate(2). */
    TEST_ENTRY(test_file__open_fd_duplicates),
    TEST_ENTRY(test_file__reopen_refuses_a_shrunk_file),
    TEST_ENTRY(test_file__fd_opened_files_keep_their_descriptor),
#endif
};

TEST_MAIN(tests)
